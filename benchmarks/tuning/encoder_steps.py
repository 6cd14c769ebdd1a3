"""How long to train the encoder and with which losses, chosen on the val split: PSNR of its codes,
and after refinement.

    python benchmarks/tuning/encoder_steps.py [--dataset faces] [--steps 1500 3000 4500] [--n 128] [--threads 2]
        [--set mixing_weight=0 ...] [--tag no_mixing] [--seed 1] [--results results]

Trains the dataset's configured encoder (``encoder`` block of --config) against the default run's
generator, discriminator and training images, once, stopping at each of --steps in turn (each
stop resumes the same run from its checkpoint, so a longer run extends a shorter one). At each stop
it inverts the first --n val images (never the test split) with the encoder alone and then with the
configured refinement (``inversion.refine_lr``, ``refine_beta1``), recording the mean PSNR every 5
refinement steps up to 40. Compare each row with the optimisation-only steps to the same PSNR in
results/benchmarks/inversion_tuning_{dataset}.csv. About 0.2 s per encoder step with 2 threads.
``--set KEY=VALUE`` overrides a key of the ``encoder`` block (a loss weight, ``batch_size``), so the
loss weights are measured by the same run; ``--tag`` names the variant in the output file. ``--seed``
(default: the dataset's ``data.seed``, the workflow's) seeds the encoder; ``--results`` is the folder
holding ``{dataset}/stylegan`` and ``{dataset}/data``, so another GAN draw can be measured.
Writes results/benchmarks/encoder_steps_{dataset}[_{tag}].csv (columns encoder_steps, refine_steps,
psnr_val, seconds_per_step; refine_steps 0 is the encoder alone; seconds_per_step is the training
time up to that stop over its steps, so it is a speed only when nothing else runs).
"""

import argparse
import json
import tempfile
from pathlib import Path

import pandas as pd
import torch
import yaml

from admixlib.data import load_split
from admixlib.inversion import EncoderRecipe, refine_psnr_curve
from admixlib.inversion.train import train_encoder
from admixlib.runtime import RunFiles, configure_cpu
from admixlib.stylegan import load_generator
from admixlib.stylegan.discriminator import load_discriminator

REFINE_STEPS = 40
EVERY = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--results", default="results")
    parser.add_argument("--dataset", default="faces")
    parser.add_argument("--steps", type=int, nargs="+", default=[1500, 3000, 4500])
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="encoder block overrides")
    parser.add_argument("--tag", default="", help="suffix of the output file")
    parser.add_argument("--seed", type=int, default=None, help="encoder seed (default: data.seed)")
    args = parser.parse_args()
    configure_cpu(args.threads)
    block = yaml.safe_load(Path(args.config).read_text())["datasets"][args.dataset]
    cfg, inv = {**block["encoder"], **_overrides(args.set, block["encoder"])}, block["inversion"]
    root = Path(args.results) / args.dataset
    G = load_generator(root / "stylegan" / "generator.pt").requires_grad_(False)
    D = load_discriminator(root / "stylegan" / "discriminator.pt")
    real = load_split(root / "data" / "train.pt").images
    images = load_split(root / "data" / "val.pt").images[: args.n].float()
    seed = block["data"]["seed"] if args.seed is None else args.seed
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for steps in sorted(args.steps):
            E = train_encoder(
                G, steps=steps, recipe=EncoderRecipe.from_config(cfg), discriminator=D, real_images=real,
                seed=seed, files=RunFiles(tmp, Path(tmp) / "stats.jsonl"),
            )  # fmt: skip
            # the stats' seconds add up over resumed stops: the training time up to this one
            per_step = json.loads((Path(tmp) / "stats.jsonl").read_text().splitlines()[-1])["seconds"] / steps
            with torch.no_grad():
                start = E(images)
            curve = refine_psnr_curve(
                G,
                start,
                images,
                steps=REFINE_STEPS,
                lr=inv["refine_lr"],
                beta1=inv["refine_beta1"],
                every=EVERY,
            )
            rows += [dict(encoder_steps=steps, refine_steps=s, psnr_val=p, seconds_per_step=per_step)
                     for s, p in curve]  # fmt: skip
            print(steps, f"{per_step:.3f} s/step", [round(p, 2) for _, p in curve], flush=True)
    suffix = f"_{args.tag}" if args.tag else ""
    out = Path(args.results) / "benchmarks" / f"encoder_steps_{args.dataset}{suffix}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out, index=False, float_format="%.4g")
    print(f"wrote {out}")


def _overrides(pairs: list[str], block: dict) -> dict:
    """``["mixing_weight=0", ...]`` -> ``{"mixing_weight": 0.0, ...}``, each value cast to the type of
    the block's own value; a key the block lacks is an error."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in block:
            raise SystemExit(f"--set {pair!r}: expected KEY=VALUE with KEY one of {sorted(block)}")
        out[key] = type(block[key])(yaml.safe_load(value))
    return out


if __name__ == "__main__":
    main()

"""How each stage's cost grows with resolution and image count, measured in one run.

    python benchmarks/scaling.py [--config config/config.yaml] [--dataset faces] [--images 256] [--threads 1]

For 16 and 32 px and for --images and 4x as many faces, times a step of each stage with the dataset's
configured networks (untrained: the cost is the same) and writes results/benchmarks/scaling.csv with
columns stage, resolution, n_images, seconds_per_step, ratio_to_base (base: the stage at 16 px and
--images). A step of ``gan``, ``encoder`` and the classifiers (``nominal``, ``advmix``) is one
optimisation step on one batch, drawn from n_images training images; one of ``inversion`` is one
refinement step over all n_images images. So a run's cost is about steps x seconds_per_step for the
first kind and refine_steps x seconds_per_step for inversion (evaluation grows like inversion). At
32 px the generator gets one more block of the last block's channels.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

from admixlib.classify import ClassifierRecipe, train_classifier
from admixlib.data import make_faces
from admixlib.inversion import Encoder, EncoderRecipe, invert_images, train_encoder
from admixlib.perturb.augment import from_uint8
from admixlib.runtime import RunFiles, configure_cpu
from admixlib.stages.classifier import build_pset
from admixlib.stylegan import ARCH_KEYS, GanRecipe, Generator, save_generator, train_generator
from admixlib.stylegan.discriminator import Discriminator

WARMUP = 3


def mean_step(stats_path: Path, *, warmup: int = WARMUP, cumulative: bool = True) -> float:
    """Mean seconds per step after ``warmup`` steps, from a stats file written every step (its
    ``seconds`` the time so far, or with ``cumulative=False`` each step's own, as the classifier's).
    Also used by generator.py and gpu_check.py."""
    seconds = [json.loads(line)["seconds"] for line in stats_path.read_text().splitlines()]
    if not cumulative:
        return sum(seconds[warmup:]) / (len(seconds) - warmup)
    return (seconds[-1] - seconds[warmup - 1]) / (len(seconds) - warmup)


def generator_kwargs(cfg: dict, resolution: int) -> dict:
    """The configured architecture at ``resolution`` (each added block repeats the last's channels)."""
    channels = {int(r): c for r, c in cfg["channels"].items()}
    while max(channels) < resolution:
        channels[2 * max(channels)] = channels[max(channels)]
    return {key: cfg[key] for key in ARCH_KEYS} | {"channels": channels, "resolution": resolution}


def stage_seconds(
    block: dict, config: dict, *, resolution: int, n_images: int, steps: int, tmp: Path
) -> dict:
    """Seconds per step of every stage at one resolution and image count."""
    images, factors = make_faces(n=n_images, bias=None, spurious_factor=None, seed=0, resolution=resolution)
    images, labels = from_uint8(images), torch.tensor(factors["smiling"].to_numpy())
    arch = generator_kwargs(block["stylegan"], resolution)  # unconditional: classes cost next to nothing
    every = dict(checkpoint_every=10**9, stats_every=1, progress=False)
    out = {}
    train_generator(images, generator_kwargs=arch, steps=WARMUP + steps, recipe=GanRecipe.from_config(
        block["stylegan"]), files=RunFiles(tmp / "gan", tmp / "gan.jsonl", **every))  # fmt: skip
    out["gan"] = mean_step(tmp / "gan.jsonl")
    G = Generator(**arch).eval()
    D = Discriminator(resolution=resolution, channels=arch["channels"])
    train_encoder(G, steps=WARMUP + steps, recipe=EncoderRecipe.from_config(block["encoder"]), discriminator=D,
                  real_images=images, files=RunFiles(tmp / "enc", tmp / "encoder.jsonl", **every))  # fmt: skip
    out["encoder"] = mean_step(tmp / "encoder.jsonl")
    E, inv = Encoder(resolution=resolution, num_ws=G.num_ws, w_dim=G.w_dim, w_avg=G.w_avg), block["inversion"]
    timings = []
    for refine_steps in (WARMUP, WARMUP + steps):
        start = time.perf_counter()
        invert_images(G, E, images, refine_steps=refine_steps, batch_size=inv["batch_size"], progress=False)
        timings.append(time.perf_counter() - start)
    out["inversion"] = (timings[1] - timings[0]) / steps
    codes, _ = invert_images(G, E, images, batch_size=inv["batch_size"], progress=False)
    save_generator(G, tmp / "G.pt")
    for method in ("nominal", "advmix"):
        cfg = config["methods"][method]
        pset = build_pset(method, cfg, generator_path=tmp / "G.pt", donor_codes=codes, mixing=block["mixing"],
                          device="cpu")  # fmt: skip
        train_classifier(images=images, labels=labels, codes=codes, residuals=torch.zeros_like(images),
                         num_classes=2, pset=pset, lam=cfg["lam"], steps=WARMUP + steps,
                         recipe=ClassifierRecipe.from_config(config["classifier"]),
                         files=RunFiles(stats_path=tmp / f"{method}.jsonl", progress=False))  # fmt: skip
        out[method] = mean_step(tmp / f"{method}.jsonl", cumulative=False)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--dataset", default="faces")
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="results/benchmarks/scaling.csv")
    args = parser.parse_args()
    configure_cpu(args.threads)
    config = yaml.safe_load(Path(args.config).read_text())
    rows = []
    for resolution in (16, 32):
        for n_images in (args.images, 4 * args.images):
            with tempfile.TemporaryDirectory() as tmp:
                seconds = stage_seconds(config["datasets"][args.dataset], config, resolution=resolution,
                                        n_images=n_images, steps=args.steps, tmp=Path(tmp))  # fmt: skip
            rows += [
                dict(stage=s, resolution=resolution, n_images=n_images, seconds_per_step=v)
                for s, v in seconds.items()
            ]
            print(rows[-len(seconds) :], flush=True)
    table = pd.DataFrame(rows)
    base = table[(table.resolution == 16) & (table.n_images == args.images)].set_index("stage")[
        "seconds_per_step"
    ]
    table["ratio_to_base"] = table["seconds_per_step"] / table["stage"].map(base)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False, float_format="%.4g")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))


if __name__ == "__main__":
    main()

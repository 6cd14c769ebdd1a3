"""Generator training cost: seconds per 1,000 training images for each output head, measured in one run.

    python benchmarks/generator.py [--config config/config.yaml] [--dataset faces] [--steps 40] [--threads 2]

Trains the dataset's configured generator architecture with each ``torgb`` head (skip, final, and
palette as configured: supersampling, bank, blend and role penalties) for --steps steps on that
dataset's procedural training images and writes results/benchmarks/generator.csv with columns
torgb, batch_size, seconds_per_1k_images, ratio_to_skip, device, threads (the first 10 steps are a
warm-up and are not timed).
"""

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch
import yaml
from scaling import mean_step

from admixlib.data import make_faces
from admixlib.perturb.augment import from_uint8
from admixlib.runtime import RunFiles, configure_cpu, resolve_device
from admixlib.stylegan import ARCH_KEYS, GanRecipe, train_generator
from admixlib.stylegan.networks import TORGB_CHOICES

WARMUP = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--dataset", default="faces")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="results/benchmarks/generator.csv")
    args = parser.parse_args()
    if args.steps <= WARMUP:
        parser.error(f"--steps must exceed the {WARMUP} warm-up steps")
    configure_cpu(args.threads)
    config = yaml.safe_load(Path(args.config).read_text())
    block = config["datasets"][args.dataset]
    cfg, resolution = block["stylegan"], block["data"]["resolution"]
    device = resolve_device(config["device"])
    images, _ = make_faces(n=512, bias=None, spurious_factor=None, seed=0, resolution=resolution)
    images = from_uint8(images)
    rows = []
    for torgb in TORGB_CHOICES:
        # the palette head as configured (supersampling, bank) with its training penalties
        arch = {key: cfg[key] for key in ARCH_KEYS} | {"torgb": torgb, "resolution": resolution}
        arch["channels"] = {int(r): c for r, c in cfg["channels"].items()}
        recipe = GanRecipe.from_config(cfg)
        if (
            torgb != "palette"
        ):  # the other heads ignore the palette options; keep them at their neutral values
            arch |= {"palette_supersample": 1, "palette_bank": 0}
            recipe = replace(
                recipe, loss=replace(recipe.loss, palette_sharpness=0.0, palette_role_weight=0.0)
            )
        with tempfile.TemporaryDirectory() as tmp:
            train_generator(
                images, generator_kwargs=arch, steps=args.steps, recipe=recipe, device=device,
                files=RunFiles(tmp, Path(tmp) / "stats.jsonl", checkpoint_every=10**9, stats_every=1, progress=False),
            )  # fmt: skip
            step = mean_step(Path(tmp) / "stats.jsonl", warmup=WARMUP)
        rows.append(
            {
                "torgb": torgb,
                "batch_size": cfg["batch_size"],
                "seconds_per_1k_images": 1000 * step / cfg["batch_size"],
            }
        )
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table["ratio_to_skip"] = (
        table["seconds_per_1k_images"] / table.loc[table.torgb == "skip", "seconds_per_1k_images"].iloc[0]
    )
    table["device"] = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    table["threads"] = args.threads
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False, float_format="%.4f")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()

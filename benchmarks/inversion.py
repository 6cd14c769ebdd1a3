"""Inversion speed and quality: encoder only, hybrid (encoder + refinement), optimisation only.

    python benchmarks/inversion.py [--config config/config.yaml] [--dataset faces] [--n 200] [--threads 2]

Reads the default run's trained generator and encoder (results/{dataset}/stylegan/generator.pt,
results/{dataset}/encoder/encoder.pt) and the first --n test images; inverts them with each method
(Adam settings from the config's ``inversion`` block: ``refine_lr``/``refine_beta1`` for the hybrid,
``optimisation_lr``/``optimisation_beta1`` for optimisation only; chosen on the val split by
benchmarks/tuning/inversion.py) and writes results/benchmarks/inversion_{dataset}.csv with columns
method, refine_steps, psnr_db, label_agreement (share of reconstructions the default run's oracle
reads with the true label), images_per_second, speedup_vs_optimisation (images/s divided by that
of optimisation-only inversion with the most steps, all measured in this one run, after an untimed
warm-up).
"""

import argparse
import time
from pathlib import Path

import pandas as pd
import yaml

from admixlib.analysis import load_oracle, read_factors
from admixlib.data import load_split
from admixlib.inversion import invert_images, load_encoder, psnr
from admixlib.runtime import configure_cpu
from admixlib.stylegan import load_generator

METHODS = [
    ("encoder", "encoder", 0),
    ("hybrid", "encoder", 8),
    ("hybrid", "encoder", 15),
    ("hybrid", "encoder", 20),
    ("hybrid", "encoder", 50),
    ("optimisation", "mean", 100),
    ("optimisation", "mean", 300),
    ("optimisation", "mean", 1000),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--dataset", default="faces")
    parser.add_argument("--results", default="results")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    configure_cpu(args.threads)
    cfg = yaml.safe_load(Path(args.config).read_text())["datasets"][args.dataset]["inversion"]
    adam = {
        "encoder": {"refine_lr": cfg["refine_lr"], "beta1": cfg["refine_beta1"]},
        "mean": {"refine_lr": cfg["optimisation_lr"], "beta1": cfg["optimisation_beta1"]},
    }
    root = Path(args.results) / args.dataset
    G = load_generator(root / "stylegan" / "generator.pt")
    E = load_encoder(root / "encoder" / "encoder.pt")
    test = load_split(root / "data" / "test.pt")
    images, labels = test.images[: args.n], test.labels[: args.n].numpy()
    oracle = load_oracle(root / "oracle" / "oracle.pt")
    # untimed warm-up: a process's first refinement pays one-off set-up costs
    invert_images(G, E, images[:8], refine_steps=2, batch_size=8, progress=False)
    rows = []
    for name, init, steps in METHODS:
        start = time.perf_counter()
        _, recon = invert_images(
            G, E, images, refine_steps=steps, init=init, **adam[init], batch_size=200, progress=False
        )
        seconds = time.perf_counter() - start
        rows.append(
            {
                "method": name,
                "refine_steps": steps,
                "psnr_db": float(psnr(images, recon).mean()),
                "label_agreement": float(
                    (read_factors(oracle, recon.clamp(-1, 1)).iloc[:, 0] == labels).mean()
                ),
                "images_per_second": len(images) / seconds,
            }
        )
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    reference = table[table.method == "optimisation"].iloc[-1]["images_per_second"]
    table["speedup_vs_optimisation"] = table["images_per_second"] / reference
    out = Path(args.results) / "benchmarks" / f"inversion_{args.dataset}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False, float_format="%.4g")
    print(f"{args.dataset}, {len(images)} test images, {args.threads} thread(s):")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))


if __name__ == "__main__":
    main()

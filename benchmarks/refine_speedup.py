"""Speed-up of hybrid inversion over optimisation-only inversion at equal PSNR, per refinement setting.

    python benchmarks/refine_speedup.py [--dataset faces] [--threads 2]

Reads the default run's generator, encoder and test split. For each (refine steps, lr) it times the
hybrid inversion of the first 64 test images against optimisation-only inversion run until the same
mean PSNR (lr 0.1, at most 1,000 steps; the measurement behind inversion.json's
``speedup_vs_optimisation``), alone in this process, and the hybrid's mean PSNR on the first 400 test
images. Writes results/benchmarks/refine_speedup_{dataset}.csv.
"""

import argparse
from pathlib import Path

import pandas as pd

from admixlib.data import load_split
from admixlib.inversion import invert_images, load_encoder, psnr
from admixlib.runtime import set_threads
from admixlib.stages.inversion import measure_speedup
from admixlib.stylegan import load_generator

SETTINGS = [(40, 0.1), (30, 0.05), (25, 0.1), (20, 0.1), (20, 0.2)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="faces")
    parser.add_argument("--results", default="results")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    set_threads(args.threads)
    root = Path(args.results) / args.dataset
    G = load_generator(root / "stylegan" / "generator.pt")
    E = load_encoder(root / "encoder" / "encoder.pt")
    test = load_split(root / "data" / "test.pt")
    rows = []
    for steps, lr in SETTINGS:
        cfg = {"refine_steps": steps, "refine_lr": lr, "optimisation_max_steps": 1000, "optimisation_lr": 0.1}
        speed = measure_speedup(G, E, test.images[:64], cfg=cfg, device="cpu")
        _, recon = invert_images(
            G, E, test.images[:400], refine_steps=steps, refine_lr=lr, batch_size=128, progress=False
        )
        rows.append(
            {
                "refine_steps": steps,
                "refine_lr": lr,
                "psnr_test_400": float(psnr(test.images[:400], recon).mean()),
                "speedup_vs_optimisation": speed["speedup_vs_optimisation"],
                "optimisation_steps": speed["optimisation_steps"],
            }
        )
        print(rows[-1], flush=True)
    out = Path(args.results) / "benchmarks" / f"refine_speedup_{args.dataset}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out, index=False, float_format="%.4g")


if __name__ == "__main__":
    main()

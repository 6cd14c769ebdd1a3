"""Adam settings of both inversions, chosen on the val split: PSNR after each number of steps.

    python benchmarks/tuning/inversion.py [--dataset faces] [--n 128] [--every 5] [--threads 2]

Reads the default run's generator and encoder and the first --n val images (never the test split:
the settings chosen here are hyper-parameters). For every (learning rate, Adam beta1) of the grid it
records the mean PSNR every --every steps of
- optimisation-only inversion (from the mean code, up to --max-steps steps), and
- hybrid inversion (encoder, then refinement, up to 40 steps),
and writes results/benchmarks/inversion_tuning_{dataset}.csv with columns method, lr, beta1,
steps, psnr_val. It then prints, for each hybrid setting and step count, the PSNR it reaches and the
fewest steps any optimisation-only setting of the grid needs to reach it (its best tuned
competitor); their ratio is the speed-up in steps, which is what inversion.json's
``speedup_vs_optimisation`` measures in seconds.
"""

import argparse
import itertools
from pathlib import Path

import pandas as pd
import torch

from admixlib.data import load_split
from admixlib.inversion import load_encoder, refine_psnr_curve
from admixlib.runtime import configure_cpu
from admixlib.stylegan import load_generator

OPTIMISATION_GRID = {"lr": [0.1, 0.15, 0.2, 0.3], "beta1": [0.7, 0.8, 0.9]}
HYBRID_GRID = {"lr": [0.05, 0.07, 0.1], "beta1": [0.6, 0.7, 0.8, 0.9]}
HYBRID_STEPS = 40


def steps_to_reach(curves: pd.DataFrame, target: float) -> float:
    """Fewest steps at which any curve of ``curves`` reaches ``target`` dB (NaN if none does)."""
    reached = curves[curves.psnr_val >= target]
    return float(reached.steps.min()) if len(reached) else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="faces")
    parser.add_argument("--results", default="results")
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--max-steps", type=int, default=160)
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    configure_cpu(args.threads)
    root = Path(args.results) / args.dataset
    G = load_generator(root / "stylegan" / "generator.pt")
    E = load_encoder(root / "encoder" / "encoder.pt")
    images = load_split(root / "data" / "val.pt").images[: args.n].float()
    with torch.no_grad():
        starts = {
            "optimisation": (G.w_avg.expand(len(images), G.num_ws, G.w_dim).clone(), args.max_steps),
            "hybrid": (E(images), HYBRID_STEPS),
        }
    rows = []
    for method, grid in (("optimisation", OPTIMISATION_GRID), ("hybrid", HYBRID_GRID)):
        ws, steps = starts[method]
        for lr, beta1 in itertools.product(grid["lr"], grid["beta1"]):
            curve = refine_psnr_curve(G, ws, images, steps=steps, lr=lr, beta1=beta1, every=args.every)[1:]
            rows += [dict(method=method, lr=lr, beta1=beta1, steps=s, psnr_val=p) for s, p in curve]
            print(method, lr, beta1, [round(p, 2) for _, p in curve], flush=True)
    table = pd.DataFrame(rows)
    out = Path(args.results) / "benchmarks" / f"inversion_tuning_{args.dataset}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False, float_format="%.4g")
    optimisation = table[table.method == "optimisation"]
    hybrid = table[table.method == "hybrid"].copy()
    hybrid["optimisation_steps"] = [steps_to_reach(optimisation, p) for p in hybrid.psnr_val]
    hybrid["step_ratio"] = hybrid.optimisation_steps / hybrid.steps
    best = hybrid.loc[hybrid.groupby("steps").psnr_val.idxmax()]
    print(f"{args.dataset}: {len(images)} val images; best hybrid setting per step count:")
    print(best.to_string(index=False, float_format=lambda x: f"{x:.2f}"))


if __name__ == "__main__":
    main()

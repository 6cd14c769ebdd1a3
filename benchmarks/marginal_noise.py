"""Sampling noise of ``marginal_gap_max``: the gap a generator with the data's exact marginals shows.

    python benchmarks/marginal_noise.py [--factors 5] [--data-images 3000]
                                        [--samples 256 1000 2048 4096] [--trials 20000]

Draws ``--trials`` times, for each of ``--factors`` binary factors at even odds, the share of
``--samples`` generator samples and of ``--data-images`` training images with the value 1, and takes
the largest difference over factors, as ``admixlib.analysis.marginal_gap`` does (the default run's
faces: 5 factors, 3,000 training images). Prints and writes, per sample count, the mean and median
gap and the share of trials above the 0.05 target to results/benchmarks/marginal_noise.csv. This is
why ``analysis.marginal_samples`` is larger than ``analysis.n_pairs``.
"""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd


def noise_gaps(*, n_samples: int, n_data: int, n_factors: int, trials: int, seed: int = 0) -> np.ndarray:
    """``[trials]`` largest gaps over ``n_factors`` binary factors at p = 0.5 between two samples."""
    rng = np.random.default_rng(seed)
    samples = rng.binomial(n_samples, 0.5, size=(trials, n_factors)) / n_samples
    data = rng.binomial(n_data, 0.5, size=(trials, n_factors)) / n_data
    return np.abs(samples - data).max(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", type=int, default=5)
    parser.add_argument("--data-images", type=int, default=3000)
    parser.add_argument("--samples", type=int, nargs="+", default=[256, 1000, 2048, 4096])
    parser.add_argument("--trials", type=int, default=20000)
    parser.add_argument("--target", type=float, default=0.05)
    parser.add_argument("--out", default="results/benchmarks/marginal_noise.csv")
    args = parser.parse_args()
    rows = []
    for n in args.samples:
        gaps = noise_gaps(n_samples=n, n_data=args.data_images, n_factors=args.factors, trials=args.trials)
        rows.append(
            {
                "samples": n,
                "data_images": args.data_images,
                "factors": args.factors,
                "mean_gap": gaps.mean(),
                "median_gap": float(np.median(gaps)),
                "share_above_target": float((gaps > args.target).mean()),
            }
        )
    table = pd.DataFrame(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False, float_format="%.4f")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()

"""Could choosing the GAN checkpoint by the monitor meet the sample-side targets? An upper bound.

    python benchmarks/monitor_selection.py [--results results]

Reads every ``results/benchmarks/*_monitor.csv`` that ``benchmarks/gan_settings.py`` wrote (the GAN
monitor's rows: every 250 steps, 250 fixed sample pairs) and, per run and seed, finds the monitored
step whose worst shortfall from issue 4's sample-side targets (label kept >= 0.95, every nuisance
moved >= 0.90, marginal gap <= 0.05) is smallest. ``margin`` is that shortfall: >= 0 means every
target met at that step. The step is chosen on the same pairs it is scored on, so each row is an
optimistic bound on what a checkpoint chosen this way would score on fresh pairs. Writes
``results/benchmarks/monitor_selection.csv``.
"""

import argparse
from pathlib import Path

import pandas as pd

LABEL_TARGET, NUISANCE_TARGET, GAP_TARGET = 0.95, 0.90, 0.05


def margins(monitor: pd.DataFrame) -> pd.Series:
    """Per row of a monitor table: the smallest of (score - target) over the targets (gap: target - gap)."""
    moved = [c for c in monitor if c.startswith("oracle_moved_")]
    parts = [monitor["oracle_label_kept"] - LABEL_TARGET, GAP_TARGET - monitor["oracle_marginal_gap"]]
    parts += [monitor[c] - NUISANCE_TARGET for c in moved]
    return pd.concat(parts, axis=1).min(axis=1)


def best_steps(path: Path) -> list[dict]:
    """One row per seed of the monitor CSV at ``path``: its best step by :func:`margins`."""
    monitor = pd.read_csv(path)
    monitor = monitor.assign(margin=margins(monitor), seed=monitor.get("seed", 0))
    moved = [c for c in monitor if c.startswith("oracle_moved_")]
    rows = []
    for seed, run in monitor.groupby("seed"):
        best = run.loc[run["margin"].idxmax()]
        rows.append({
            "run": path.name.removesuffix("_monitor.csv"), "seed": seed, "steps": int(run["step"].max()),
            "best_step": int(best["step"]), "margin": best["margin"],
            "label_kept": best["oracle_label_kept"], "weakest_nuisance": min(best[c] for c in moved),
            "marginal_gap": best["oracle_marginal_gap"], "max_label_kept": run["oracle_label_kept"].max(),
        })  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results")
    args = parser.parse_args()
    folder = Path(args.results) / "benchmarks"
    paths = sorted(folder.glob("*_monitor.csv"))
    if not paths:
        raise SystemExit(f"no *_monitor.csv under {folder}: run benchmarks/gan_settings.py first")
    table = pd.DataFrame([row for path in paths for row in best_steps(path)])
    table.to_csv(folder / "monitor_selection.csv", index=False)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()

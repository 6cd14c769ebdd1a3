"""Summarise per-seed evaluation results into the tidy table and its Markdown/LaTeX renderings."""

import math
from pathlib import Path

import numpy as np
import pandas as pd

METRICS = (
    "clean_acc",
    "worst_group_acc",
    "advmix_attack_acc",
    "linf_attack_acc",
    "consistency",
    "consistent_acc",
    "rel_error_reduction",
)
TIDY_COLUMNS = ["dataset", "method", "metric", "mean", "std", "ci95_low", "ci95_high", "n_seeds"]
# enough digits that a page rendered from the CSV rounds as the tables rendered from the floats do
TIDY_FLOAT_FORMAT = "%.10g"
METRIC_TITLES = {
    "clean_acc": "clean acc",
    "worst_group_acc": "worst-group acc",
    "advmix_attack_acc": "AdvMix-attack acc",
    "linf_attack_acc": "l_inf-attack acc",
    "consistency": "consistency",
    "consistent_acc": "consistent acc",
    "rel_error_reduction": "rel. error reduction",
}


def per_seed_frame(runs: list[dict]) -> pd.DataFrame:
    """One row per (method, seed) with a column per metric, the error reduction against nominal added."""
    rows = [
        {"method": r["method"], "seed": r["seed"], **{m: r["metrics"].get(m) for m in METRICS}} for r in runs
    ]
    frame = pd.DataFrame(rows)
    nominal_error = 1.0 - frame[frame.method == "nominal"].set_index("seed")["clean_acc"]
    error = 1.0 - frame["clean_acc"]
    reference = frame["seed"].map(nominal_error)
    # Paired by seed: 1 - err(method) / err(nominal); undefined where nominal made no error.
    frame["rel_error_reduction"] = np.where(reference > 0, 1.0 - error / reference, np.nan)
    return frame


def _interval(values: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, sample std and a two-sided 95% t-interval of ``values`` (NaN where undefined)."""
    n = len(values)
    mean = float(np.mean(values)) if n else math.nan
    if n < 2:
        return mean, math.nan, math.nan, math.nan
    std = float(np.std(values, ddof=1))
    from scipy import stats  # on first use: scipy.stats costs a second in every job that imports this

    half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return mean, std, mean - half, mean + half


def crossed_interval(grid: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, sample std and a 95% interval of the grand mean of a ``[G, S]`` grid whose rows (GANs)
    and columns (classifier seeds) are crossed random factors, so that neither a GAN's pairs nor a
    classifier seed's count as independent draws.

    The grand mean's variance is taken as ``(MS_rows + MS_cols) / (G S)`` from the two-way mean squares
    (the interaction is not subtracted, so the estimate errs wide) with Satterthwaite's degrees of
    freedom, or as ``MS_residual / (G S)`` where that is larger (pairs that differ only jointly). One row
    gives the classifier seeds' t-interval; rows that repeat one another (a method that does not use the
    GAN) give that too. The std is that of the ``G S`` pairs, as a description of their spread.
    """
    g, s = grid.shape
    mean = float(grid.mean()) if grid.size else math.nan
    if grid.size < 2:
        return mean, math.nan, math.nan, math.nan
    std = float(np.std(grid, ddof=1))
    squares = [
        (count * float(np.sum((means - mean) ** 2)) / (len(means) - 1), len(means) - 1)
        for means, count in ((grid.mean(1), s), (grid.mean(0), g))
        if len(means) > 1
    ]
    total = sum(ms for ms, _ in squares)
    if g > 1 and s > 1:
        residual = grid - grid.mean(1, keepdims=True) - grid.mean(0, keepdims=True) + mean
        ms_residual = float(np.sum(residual**2)) / ((g - 1) * (s - 1))
        if ms_residual > total:
            squares, total = [(ms_residual, (g - 1) * (s - 1))], ms_residual
    if total == 0:
        return mean, std, mean, mean
    df = total**2 / sum(ms**2 / dof for ms, dof in squares)
    from scipy import stats

    half = float(stats.t.ppf(0.975, df)) * math.sqrt(total / grid.size)
    return mean, std, mean - half, mean + half


def summarise_runs(runs: list[dict], *, dataset: str, methods: list[str]) -> pd.DataFrame:
    """Tidy table of ``runs`` (dicts with method, seed and a metrics dict, one per evaluated model).

    Returns a long DataFrame with columns ``dataset, method, metric, mean, std, ci95_low, ci95_high,
    n_seeds``; accuracies are fractions in [0, 1]; ``rel_error_reduction`` is paired by seed against
    nominal's clean error; it is NaN (with ``n_seeds`` 0) when nominal was not run or made no error.
    The intervals are the raw t-intervals: a share's may leave [0, 1] (only the Markdown and LaTeX
    renderings clip, and mark it).
    """
    frame = per_seed_frame(runs)
    records = []
    for method in methods:
        sub = frame[frame.method == method]
        for metric in METRICS:
            # A metric undefined for every seed (e.g. the error reduction when nominal made no error)
            # still gets its row, with NaN statistics and n_seeds 0, so readers always find the key.
            values = sub[metric].dropna().to_numpy(dtype=float)
            mean, std, low, high = _interval(values)
            records.append([dataset, method, metric, mean, std, low, high, len(values)])
    return pd.DataFrame(records, columns=TIDY_COLUMNS)


CLIPPED = "*"  # marks an interval bound the renderings clipped to [0, 100] %


def percent_bound(value: float, metric: str) -> str:
    """One interval bound in percent; a share's bound beyond [0, 1] (an error reduction's beyond 1)
    is clipped and marked with ``CLIPPED``."""
    low = -math.inf if metric == "rel_error_reduction" else 0.0
    clipped = min(max(value, low), 1.0)
    return f"{100 * clipped:.1f}" + (CLIPPED if clipped != value else "")


def wide_table(tidy: pd.DataFrame) -> pd.DataFrame:
    """Methods as rows, metrics as columns, cells ``mean ± std [ci95_low, ci95_high]`` in percent (the
    spread and interval left out where a single seed leaves them undefined; a bound clipped to the
    metric's range is marked ``*``)."""

    def cell(row) -> str:
        if math.isnan(row["mean"]):
            return "n/a"
        if math.isnan(row["std"]):
            return f"{100 * row['mean']:.1f}"
        low, high = (
            percent_bound(row["ci95_low"], row["metric"]),
            percent_bound(row["ci95_high"], row["metric"]),
        )
        return f"{100 * row['mean']:.1f} ± {100 * row['std']:.1f} [{low}, {high}]"

    cells = tidy.assign(cell=tidy.apply(cell, axis=1))
    wide = cells.pivot(index="method", columns="metric", values="cell")
    order = [m for m in METRICS if m in wide.columns]
    methods = list(dict.fromkeys(tidy["method"]))
    return wide.loc[methods, order].rename(columns=METRIC_TITLES).fillna("n/a")


def wide_markdown(tidy: pd.DataFrame) -> list[str]:
    """:func:`wide_table` of ``tidy`` as Markdown table lines, the methods in a first column."""
    return markdown_table(wide_table(tidy).rename_axis("method").reset_index())


def write_tidy(tidy: pd.DataFrame, path) -> None:
    """Write a tidy table to the CSV ``path`` (folder created) with ``TIDY_FLOAT_FORMAT``."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tidy.to_csv(path, index=False, float_format=TIDY_FLOAT_FORMAT)


def _latex(wide: pd.DataFrame, caption: str) -> str:
    escape = {"_": r"\_", "%": r"\%", "±": r"$\pm$"}

    def tex(text: str) -> str:
        return "".join(escape.get(ch, ch) for ch in str(text))

    header = " & ".join(tex(c) for c in ["method", *wide.columns])
    body = [" & ".join(tex(c) for c in [m, *row]) + r" \\" for m, row in zip(wide.index, wide.values)]
    return "\n".join(
        [
            r"\begin{table}[t]",
            r"\centering",
            r"\begin{tabular}{l" + "r" * len(wide.columns) + "}",
            r"\toprule",
            header + r" \\",
            r"\midrule",
            *body,
            r"\bottomrule",
            r"\end{tabular}",
            rf"\caption{{{tex(caption)}}}",
            r"\end{table}",
            "",
        ]
    )


def write_tables(tidy: pd.DataFrame, *, csv_path, md_path, tex_path, caption: str) -> None:
    """Write the tidy CSV and the Markdown and LaTeX renderings of its wide form."""
    write_tidy(tidy, csv_path)
    for path in (md_path, tex_path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(md_path).write_text("\n".join([f"**{caption}**", "", *wide_markdown(tidy)]) + "\n")
    Path(tex_path).write_text(_latex(wide_table(tidy), caption))


def markdown_table(frame: pd.DataFrame) -> list[str]:
    """A DataFrame as Markdown table lines (floats with 3 decimals; None and NaN as n/a)."""
    cells = frame.map(
        lambda v: "n/a" if v is None or v != v else f"{v:.3f}" if isinstance(v, float) else str(v)
    )
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    return lines + ["| " + " | ".join(row) + " |" for row in cells.to_numpy().tolist()]


def generator_row(metrics: dict, **label) -> dict:
    """One GAN's ``generator.json`` figures as a flat row after the ``label`` entries: sample-side
    label kept, each nuisance moved and the marginal gap, and label kept / nuisances moved on the
    inverted training inputs (``inputs_`` columns)."""
    inputs = metrics["training_inputs"]
    return {
        **label,
        "label_kept": metrics["label_kept"],
        **{f"moved_{f}": v for f, v in metrics["nuisance_moved"].items()},
        "marginal_gap_max": metrics["marginal_gap_max"],
        "oracle_feature_distance": metrics["oracle_feature_distance"],
        "inputs_label_kept": inputs["label_kept"],
        **{f"inputs_moved_{f}": v for f, v in inputs["nuisance_moved"].items()},
    }

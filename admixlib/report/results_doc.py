"""The results page (config ``results_doc``, by default ``docs/results.md``): every table and measured
figure of a results folder in one Markdown page.

Nothing in it is typed by hand: each section is rendered from a file the workflow wrote, and a
section whose file is absent says which target builds it. The comparisons (targets met, intervals
apart) are computed from the tidy CSVs' raw t-intervals.
"""

import json
from pathlib import Path

import pandas as pd

from admixlib.report.cost import rule_times
from admixlib.report.tables import TIDY_COLUMNS, markdown_table, percent_bound, wide_markdown

REFERENCE = "nominal"
CANDIDATE = "advmix"
COMPARED = ("clean_acc", "worst_group_acc", "advmix_attack_acc")  # metrics of comparison_table


def _interval(tidy: pd.DataFrame, method: str, metric: str) -> pd.Series:
    rows = tidy[(tidy["method"] == method) & (tidy["metric"] == metric)]
    if rows.empty:
        raise KeyError(f"no {metric} row for {method}")
    return rows.iloc[0]


def _span(row: pd.Series) -> str:
    low, high = (percent_bound(row[key], row["metric"]) for key in ("ci95_low", "ci95_high"))
    return f"{100 * row['mean']:.1f} [{low}, {high}]"


def relation(a: pd.Series, b: pd.Series) -> str:
    """How interval ``a`` (a tidy row) stands to ``b``: ``"above"``, ``"below"`` or ``"overlap"``."""
    if a["ci95_low"] > b["ci95_high"]:
        return "above"
    if a["ci95_high"] < b["ci95_low"]:
        return "below"
    return "overlap"


def targets_table(tidy: pd.DataFrame) -> list[str]:
    """The reproduction's four targets for AdvMix against nominal, each with its numbers and verdict; a
    target that says AdvMix is higher needs the intervals apart."""
    get = lambda method, metric: _interval(tidy, method, metric)  # noqa: E731
    err = get(CANDIDATE, "rel_error_reduction")
    clean_a, clean_n = get(CANDIDATE, "clean_acc"), get(REFERENCE, "clean_acc")
    wg_a, wg_n = get(CANDIDATE, "worst_group_acc"), get(REFERENCE, "worst_group_acc")
    att_a, att_n = get(CANDIDATE, "advmix_attack_acc"), get(REFERENCE, "advmix_attack_acc")
    gain = att_a["mean"] - att_n["mean"]
    rows = [
        ("unbiased-test error at least 21% lower, interval above 0", _span(err),
         err["mean"] >= 0.21 and err["ci95_low"] > 0),
        ("clean-accuracy intervals apart", f"{_span(clean_a)} against {_span(clean_n)}",
         relation(clean_a, clean_n) == "above"),
        ("worst group higher, intervals apart", f"{_span(wg_a)} against {_span(wg_n)}",
         relation(wg_a, wg_n) == "above"),
        ("AdvMix attack at least 20 points higher, intervals apart", f"{_span(att_a)} against {_span(att_n)}",
         gain >= 0.20 and relation(att_a, att_n) == "above"),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["target (advmix against nominal)", "measured", "met"])
    frame["met"] = frame["met"].map({True: "yes", False: "**no**"})
    return markdown_table(frame)


def comparison_table(tidy: pd.DataFrame) -> list[str]:
    """AdvMix's interval against every other method's, per metric of ``COMPARED``: above, below or overlap."""
    others = [m for m in dict.fromkeys(tidy["method"]) if m != CANDIDATE]
    rows = [
        {
            "advmix against": m,
            **{k: relation(_interval(tidy, CANDIDATE, k), _interval(tidy, m, k)) for k in COMPARED},
        }
        for m in others
    ]
    return markdown_table(pd.DataFrame(rows))


def generator_lines(metrics: dict) -> list[str]:
    """A GAN's ``generator.json`` as a two-row table: on samples and on inverted training images."""
    rows = []
    for side, block in (("samples", metrics), ("inverted training images", metrics["training_inputs"])):
        row = {"measured on": side, "label kept": block["label_kept"]}
        row |= {f"{name} moved": value for name, value in block["nuisance_moved"].items()}
        row["marginal gap"] = block.get("marginal_gap_max")
        rows.append(row)
    return markdown_table(pd.DataFrame(rows))


def inversion_line(metrics: dict) -> str:
    """One sentence of ``inversion.json``'s figures."""
    return (
        f"Inversion: test PSNR {metrics['psnr_test']:.1f} dB, label agreement {metrics['label_agreement']:.3f}, "
        f"{metrics['speedup_vs_optimisation']:.1f}x faster than optimisation-only inversion at equal PSNR."
    )


def _optional_table(path: Path, target: str, render) -> list[str]:
    if not path.is_file():
        return [f"Not measured in this results folder (`snakemake {target}` builds `{path.name}`)."]
    return render(pd.read_csv(path))


def _tuning_lines(frame: pd.DataFrame) -> list[str]:
    chosen = frame[frame["chosen"].astype(str) == "True"][
        ["method", "setting", "val_clean_acc", "val_worst_group_acc"]
    ]
    return [
        "Chosen on val (the best val worst group; ties to val clean accuracy):",
        "",
        *markdown_table(chosen),
    ]


def _sweep_lines(frame: pd.DataFrame) -> list[str]:
    swept = [c for c in frame.columns if c not in TIDY_COLUMNS][0]
    clean = frame[frame["metric"] == "clean_acc"].assign(cell=lambda f: f.apply(_span, axis=1))
    wide = clean.pivot(index=swept, columns="method", values="cell").reset_index()
    return [f"Clean accuracy by `{swept}`:", "", *markdown_table(wide)]


def _tidy_lines(frame: pd.DataFrame, by: str | None = None) -> list[str]:
    if by is None:
        return wide_markdown(frame)
    lines = []
    for value, part in frame.groupby(by, sort=False):
        lines += ["", f"`{by}` {value}:", "", *wide_markdown(part)]
    return lines


def dataset_section(results: Path, dataset: str) -> list[str]:
    """Every file of ``dataset`` under ``results`` rendered: main table, targets, comparisons,
    generator, inversion, tuning, GAN seeds, ablation and sweeps."""
    tables, metrics = results / "tables", results / "metrics" / dataset
    lines = [f"## {dataset}", ""]
    if not (tables / f"{dataset}.csv").is_file():
        return lines + [f"No main table (`snakemake table_{dataset}` builds it)."]
    tidy = pd.read_csv(tables / f"{dataset}.csv")
    lines += _tidy_lines(tidy) + [""]
    if {CANDIDATE, REFERENCE} <= set(tidy["method"]):
        lines += ["### Targets", "", *targets_table(tidy), "", *comparison_table(tidy), ""]
    if (metrics / "generator.json").is_file():
        lines += [
            "### Generator",
            "",
            *generator_lines(json.loads((metrics / "generator.json").read_text())),
            "",
        ]
    if (metrics / "inversion.json").is_file():
        lines += [inversion_line(json.loads((metrics / "inversion.json").read_text())), ""]
    sections = [
        ("Tuning", f"{dataset}_tuning.csv", "tune_methods", _tuning_lines),
        ("GAN seeds", f"{dataset}_gan_seeds.csv", "gan_seeds", lambda f: _tidy_lines(f, by="gan_seed")),
        ("GAN seeds: each generator", f"{dataset}_gan_seeds_generator.csv", "gan_seeds", markdown_table),
        ("Ablation", f"{dataset}_ablation.csv", "ablation", _tidy_lines),
        ("Ablation: each generator", f"{dataset}_ablation_generator.csv", "ablation", markdown_table),
        ("Bias sweep", f"{dataset}_bias_sweep.csv", "sweeps", _sweep_lines),
        ("Split-index sweep", f"{dataset}_split_index_sweep.csv", "sweeps", _sweep_lines),
    ]
    for title, name, target, render in sections:
        lines += [f"### {title}", "", *_optional_table(tables / name, target, render), ""]
    return lines


def cost_lines(results: Path) -> list[str]:
    """Job-seconds per rule, summed over the benchmark files Snakemake wrote."""
    times = rule_times(results / "benchmarks" / "rules")
    if times.empty:
        return ["No benchmark files."]
    frame = pd.DataFrame(
        {"rule": times["rule"], "jobs": times["jobs"], "job-seconds": times["seconds"].round().astype(int)}
    )
    total = {"rule": "total", "jobs": frame["jobs"].sum(), "job-seconds": frame["job-seconds"].sum()}
    return markdown_table(pd.concat([frame, pd.DataFrame([total])]))


def provenance_line(results: Path, datasets: list[str]) -> str:
    """Which code, machine and packages made the main tables, from their provenance sidecars."""
    parts = []
    for dataset in datasets:
        path = results / "tables" / f"{dataset}.provenance.json"
        if path.is_file():
            record = json.loads(path.read_text())
            git, packages, host = record["git"], record["packages"], record["host"]
            commit = (git["commit"] or "unknown")[:7] + (
                " (with uncommitted changes)" if git["dirty"] else ""
            )
            parts.append(
                f"`{dataset}`: commit {commit}, torch {packages['torch']}, {host['cpus']} CPUs, "
                f"{record['created_utc'][:10]}"
            )
    return "Main tables made by " + "; ".join(parts) + "." if parts else "No provenance sidecars found."


def results_document(results: str | Path, *, datasets: list[str]) -> str:
    """The whole page for ``datasets`` from the results folder ``results``."""
    results = Path(results)
    provenance = provenance_line(results, datasets)
    lines = [
        "# Results",
        "",
        "Rendered by `snakemake results_md` from the files under `results/`; do not edit by hand.",
        provenance,
        "",
        "Cells are mean ± std [95% t-interval] over classifier seeds, in percent; `*` marks a bound clipped to",
        "[0, 100] (the CSVs keep the raw intervals). *above*, *below* and *overlap* compare 95% intervals.",
        "The GAN-seed rows `all` pool every (GAN seed, classifier seed) pair: the std is the pairs', the",
        "interval treats GAN and classifier seed as crossed factors (`admixlib.report.crossed_interval`).",
        "",
    ]
    for dataset in datasets:
        lines += dataset_section(results, dataset)
    lines += ["## Cost", "", *cost_lines(results), ""]
    return "\n".join(lines)

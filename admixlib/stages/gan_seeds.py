"""Target gan_seeds: the headline methods over several GANs trained alike but for the seed."""

import json
import logging
from pathlib import Path

import pandas as pd

from admixlib.report import METRICS, crossed_interval, generator_row, markdown_table, summarise_runs
from admixlib.report.tables import TIDY_COLUMNS, per_seed_frame, wide_markdown, write_tidy

log = logging.getLogger("admix.stages")


def gan_seeds_tables(runs: list[dict], *, dataset: str, methods: list[str]) -> pd.DataFrame:
    """Tidy table (``summarise_runs``' columns plus ``gan_seed``) of evaluations ``runs`` (dicts with
    ``gan_seed`` and an evaluation's ``method``, ``seed``, ``metrics``): per GAN seed over its
    classifier seeds, and ``gan_seed`` ``"all"`` over every (GAN, classifier) pair, with GAN and
    classifier seed as crossed factors (:func:`pooled_over_gans`)."""
    parts = []
    for gan in sorted({r["gan_seed"] for r in runs}):
        mine = [r for r in runs if r["gan_seed"] == gan]
        parts.append(summarise_runs(mine, dataset=dataset, methods=methods).assign(gan_seed=str(gan)))
    parts.append(pooled_over_gans(runs, dataset=dataset, methods=methods).assign(gan_seed="all"))
    return pd.concat(parts, ignore_index=True)


def pooled_over_gans(runs: list[dict], *, dataset: str, methods: list[str]) -> pd.DataFrame:
    """``summarise_runs``' columns over every (GAN, classifier seed) pair of ``runs``: the mean and std
    of the pairs, the interval of :func:`~admixlib.report.crossed_interval` (a GAN's pairs share its
    draw, and a method that does not use the GAN repeats its models in every GAN), ``n_seeds`` the
    pairs. The error reduction is paired by (GAN, classifier seed); a classifier seed with a metric
    undefined in some GAN (nominal made no error) is left out of that metric."""
    frame = pd.concat(
        [
            per_seed_frame([r for r in runs if r["gan_seed"] == gan]).assign(gan=gan)
            for gan in sorted({r["gan_seed"] for r in runs})
        ]
    )
    records = []
    for method in methods:
        mine = frame[frame["method"] == method]
        for metric in METRICS:
            grid = mine.pivot(index="gan", columns="seed", values=metric).dropna(axis=1)
            values = grid.to_numpy(dtype=float)
            records.append([dataset, method, metric, *crossed_interval(values), values.size])
    return pd.DataFrame(records, columns=TIDY_COLUMNS)


def _markdown(tidy: pd.DataFrame, generators: pd.DataFrame, dataset: str) -> str:
    lines = [
        f"**{dataset}: mean ± std [95% interval] in percent: per GAN seed over its classifier seeds; all GAN "
        "seeds over every (GAN, classifier seed) pair, GAN and classifier seed as crossed factors**"
    ]
    for gan in ["all", *sorted(set(tidy["gan_seed"]) - {"all"})]:
        title = "*all GAN seeds*" if gan == "all" else f"*GAN seed {gan}*"
        lines += ["", title, "", *wide_markdown(tidy[tidy["gan_seed"] == gan])]
    lines += ["", "*each GAN's generator.json (sample side; inputs_: inverted training images)*", ""]
    return "\n".join([*lines, *markdown_table(generators), ""])


def gan_seeds_stage(
    *,
    dataset: str,
    runs: list[dict],
    generators: dict,
    methods: list[str],
    csv_path,
    generators_path,
    md_path,
) -> pd.DataFrame:
    """Write the GAN-seed table (:func:`gan_seeds_tables`) as CSV, each GAN's generator figures
    (:func:`generator_row`) as CSV, and both as Markdown.

    ``runs``: dicts with ``gan_seed`` and ``path`` (an evaluation JSON); ``generators``: GAN seed ->
    ``generator.json`` path.
    """
    evaluated = [{"gan_seed": r["gan_seed"], **json.loads(Path(r["path"]).read_text())} for r in runs]
    tidy = gan_seeds_tables(evaluated, dataset=dataset, methods=methods)
    rows = [
        generator_row(json.loads(Path(p).read_text()), gan_seed=int(g)) for g, p in sorted(generators.items())
    ]
    table = pd.DataFrame(rows)
    write_tidy(tidy, csv_path)
    table.to_csv(generators_path, index=False, float_format="%.4f")
    Path(md_path).write_text(_markdown(tidy, table, dataset))
    log.info("GAN-seed table of %d runs over %d GANs written", len(runs), len(rows))
    return tidy

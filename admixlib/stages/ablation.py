"""Target ablation: AdvMix on a second generator, next to perfect nuisance resampling."""

import json
import logging
from pathlib import Path

import pandas as pd

from admixlib.report import generator_row, markdown_table, summarise_runs
from admixlib.report.tables import wide_markdown, write_tidy

log = logging.getLogger("admix.stages")


def ablation_stage(
    *, dataset: str, runs: list[dict], generators: dict, csv_path, md_path, generators_path
) -> pd.DataFrame:
    """Write the ablation table: a tidy CSV (``summarise_runs``' columns; each run's ``row`` as its
    method), its Markdown with both generators' figures, and those figures as CSV.

    ``runs``: dicts with ``row`` (e.g. ``advmix`` or ``advmix_generic``) and ``path`` (an evaluation
    JSON); ``generators``: generator name (``own`` and the second's, e.g. ``generic``) -> ``generator.json`` path.
    """
    evaluated = [{**json.loads(Path(r["path"]).read_text()), "method": r["row"]} for r in runs]
    rows = list(dict.fromkeys(r["row"] for r in runs))
    tidy = summarise_runs(evaluated, dataset=dataset, methods=rows)
    figures = pd.DataFrame(
        [generator_row(json.loads(Path(p).read_text()), generator=name) for name, p in generators.items()]
    )
    write_tidy(tidy, csv_path)
    figures.to_csv(generators_path, index=False, float_format="%.4f")
    seeds = sorted({r["seed"] for r in evaluated})
    lines = [
        f"**{dataset}: ablation, mean ± std [95% t-interval] over classifier seeds {seeds}, in percent**",
        "",
        *wide_markdown(tidy),
        "",
        f"*generator.json of the dataset's generator (own) and of the second generator ({', '.join(list(generators)[1:])})*",
        "",
        *markdown_table(figures),
    ]
    Path(md_path).write_text("\n".join(lines) + "\n")
    log.info("ablation table of %d runs written", len(runs))
    return tidy

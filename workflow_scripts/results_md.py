"""Rule results_md: docs/results.md rendered from the results folder's tables and metrics."""

from pathlib import Path

from _admix import start
from admixlib.stages.report import results_md_stage

start(snakemake)
results_md_stage(
    results_dir=Path(snakemake.input.tables[0]).parent.parent,
    datasets=snakemake.params.datasets,
    doc_path=snakemake.output.doc,
)

"""Rule table: one dataset's results as tidy CSV, Markdown and LaTeX."""

from _admix import start
from admixlib.stages.report import table_stage

start(snakemake)
csv_path, md_path, tex_path = snakemake.output
table_stage(
    dataset=snakemake.wildcards.dataset,
    run_paths=list(snakemake.input.runs),
    methods=snakemake.params.methods,
    csv_path=csv_path,
    md_path=md_path,
    tex_path=tex_path,
)

"""Rule table: one dataset's results as tidy CSV, Markdown and LaTeX."""

from _admix import finish, start
from admixlib.stages.report import table_stage

start(snakemake)
table_stage(
    dataset=snakemake.wildcards.dataset,
    run_paths=list(snakemake.input.runs),
    methods=snakemake.params.methods,
    csv_path=snakemake.output.csv,
    md_path=snakemake.output.md,
    tex_path=snakemake.output.tex,
)
finish(snakemake)

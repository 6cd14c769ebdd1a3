"""Rule ablation_table: reference rows, the mixing methods on the ablation's second generator, its figures."""

from _admix import finish, start
from admixlib.stages.ablation import ablation_stage

start(snakemake)
ablation_stage(
    dataset=snakemake.wildcards.dataset,
    runs=snakemake.params.runs,
    generators=snakemake.params.generators,
    csv_path=snakemake.output.csv,
    md_path=snakemake.output.md,
    generators_path=snakemake.output.generators,
)
finish(snakemake)

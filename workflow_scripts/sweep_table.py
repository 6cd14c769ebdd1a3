"""Rule sweep_table: one sweep's tidy CSV and figure."""

from _admix import finish, start
from admixlib.stages.sweeps import sweep_table_stage

start(snakemake)
dataset, sweep = snakemake.wildcards.dataset, snakemake.wildcards.sweep
number = float if sweep == "bias" else int
sweep_table_stage(
    dataset=dataset,
    swept=sweep,
    runs={number(value): paths for value, paths in snakemake.params.runs.items()},
    methods=snakemake.params.methods,
    csv_path=snakemake.output.table,
    figure_path=snakemake.output.figure,
    caption=f"{dataset}: {sweep.replace('_', ' ')} sweep (mean over seeds, 95% t-interval)",
)
finish(snakemake)

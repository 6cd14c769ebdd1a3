"""Rule tuning_table: every method's grid with its val scores, the chosen setting marked."""

from _admix import finish, start
from admixlib.stages.tuning import tuning_table_stage

start(snakemake)
tuning_table_stage(runs=snakemake.params.runs, table_path=snakemake.output.table)
finish(snakemake)

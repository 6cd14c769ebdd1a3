"""Rule train_oracle: the factor oracle that judges generated, mixed and reconstructed images."""

from _admix import start
from admixlib.stages.analysis import train_oracle_stage

start(snakemake)
train_oracle_stage(
    oracle_split_path=snakemake.input.oracle_split,
    val_path=snakemake.input.val,
    oracle_path=snakemake.output.oracle,
    metrics_path=snakemake.output.metrics,
    cfg=snakemake.params.oracle,
    device=snakemake.params.device,
    seed=snakemake.params.seed,
)

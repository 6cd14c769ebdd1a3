"""Rule bias_subset: one bias value's training set and codes, drawn from the inverted pool."""

from _admix import start
from admixlib.stages.sweeps import bias_subset_stage

start(snakemake)
bias_subset_stage(
    pool_path=snakemake.input.pool,
    pool_codes_path=snakemake.input.pool_codes,
    bias=snakemake.params.bias,
    n_train=snakemake.params.n_train,
    seed=snakemake.params.seed,
    split_path=snakemake.output.train,
    codes_path=snakemake.output.train_codes,
)

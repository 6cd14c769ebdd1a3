"""Rule make_oracle_split: the split that trains the factor oracle (all factors independent)."""

from _admix import start
from admixlib.stages.data import make_dataset

start(snakemake)
make_dataset(
    data_cfg=snakemake.params.data,
    split_paths={"oracle": snakemake.output.splits[0]},
    factor_paths={"oracle": snakemake.output.factors[0]},
    raw_dir=snakemake.input[0] if len(snakemake.input) else None,
)

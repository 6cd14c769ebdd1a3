"""Rules make_oracle_split and make_pool_split: one extra split drawn from the training pool."""

from pathlib import Path

from _admix import raw_dir, start
from admixlib.stages.data import make_dataset

start(snakemake)
split = Path(snakemake.output.splits[0]).stem  # oracle or pool
make_dataset(
    data_cfg=snakemake.params.data,
    split_paths={split: snakemake.output.splits[0]},
    raw_dir=raw_dir(snakemake),
)

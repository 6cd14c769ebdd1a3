"""Rule make_dataset: write the train/val/test splits of one dataset."""

from _admix import raw_dir, start
from admixlib.stages.data import make_dataset

start(snakemake)
splits = ["train", "val", "test"]
make_dataset(
    data_cfg=snakemake.params.data,
    split_paths=dict(zip(splits, snakemake.output.splits)),
    raw_dir=raw_dir(snakemake),
)

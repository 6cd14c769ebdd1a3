"""Rule resample_train: the training split redrawn once per value of its spurious factor."""

from _admix import raw_dir, start
from admixlib.stages.data import resample_train_stage

start(snakemake)
resample_train_stage(
    data_cfg=snakemake.params.data,
    out_path=snakemake.output.resampled,
    raw_dir=raw_dir(snakemake),
)

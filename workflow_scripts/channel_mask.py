"""Rule channel_mask: per-channel map of style k-1 and the channel mask style mixing uses."""

from _admix import finish, start
from admixlib.stages.analysis import channel_mask_stage

start(snakemake)
channel_mask_stage(
    generator_path=snakemake.input.generator,
    oracle_path=snakemake.input.oracle,
    train_path=snakemake.input.train,
    train_codes_path=snakemake.input.train_codes,
    mask_path=snakemake.output.mask,
    channels_path=snakemake.output.channels,
    figure_path=snakemake.output.figure,
    split_index=snakemake.params.mixing["split_index"],
    add_residual=snakemake.params.mixing["add_residual"],
    cfg=snakemake.params.mixing["channel_mask"],
    device=snakemake.params.device,
)
finish(snakemake)

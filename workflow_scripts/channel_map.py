"""Rule channel_map: the per-channel map of style k-1 (a diagnostic; nothing trains on it)."""

from _admix import finish, start
from admixlib.stages.analysis import channel_map_stage

start(snakemake)
channel_map_stage(
    generator_path=snakemake.input.generator,
    oracle_path=snakemake.input.oracle,
    train_path=snakemake.input.train,
    train_codes_path=snakemake.input.train_codes,
    channels_path=snakemake.output.channels,
    figure_path=snakemake.output.figure,
    split_index=snakemake.params.mixing["split_index"],
    add_residual=snakemake.params.mixing["add_residual"],
    n_pairs=snakemake.params.n_pairs,
    device=snakemake.params.device,
)
finish(snakemake)

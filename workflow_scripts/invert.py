"""Rule invert: invert one shard of every split into W+."""

from _admix import start
from admixlib.stages.inversion import invert_shard

start(snakemake)
invert_shard(
    split_paths=dict(zip(snakemake.params.splits, snakemake.input.splits)),
    generator_path=snakemake.input.generator,
    encoder_path=snakemake.input.encoder,
    shard_path=snakemake.output.shard,
    scatteritem=snakemake.wildcards.scatteritem,
    cfg=snakemake.params.inversion,
    device=snakemake.params.device,
)

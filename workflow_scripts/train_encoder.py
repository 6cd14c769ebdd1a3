"""Rule train_encoder: train the image -> W+ encoder on generator samples."""

from _admix import start
from admixlib.stages.inversion import train_encoder_stage

start(snakemake)
train_encoder_stage(
    generator_path=snakemake.input.generator,
    discriminator_path=snakemake.input.discriminator,
    train_path=snakemake.input.train,
    encoder_path=snakemake.output.encoder,
    stats_path=snakemake.output.stats,
    cfg=snakemake.params.encoder,
    checkpoint_dir=snakemake.params.checkpoint_dir,
    checkpoint_every=snakemake.params.checkpoint_every,
    device=snakemake.params.device,
    seed=snakemake.params.seed,
)

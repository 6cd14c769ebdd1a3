"""Rule train_stylegan: train the generator of one dataset."""

from _admix import start
from admixlib.stages.generator import train_stylegan_stage

start(snakemake)
train_stylegan_stage(
    train_path=snakemake.input.train,
    generator_path=snakemake.output.generator,
    discriminator_path=snakemake.output.discriminator,
    samples_path=snakemake.output.samples,
    stats_path=snakemake.output.stats,
    cfg=snakemake.params.stylegan,
    split_index=snakemake.params.split_index,
    checkpoint_dir=snakemake.params.checkpoint_dir,
    checkpoint_every=snakemake.params.checkpoint_every,
    device=snakemake.params.device,
    seed=snakemake.params.seed,
)

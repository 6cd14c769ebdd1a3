"""Rule gan_seeds_table: the headline methods over several GANs, and each GAN's generator figures."""

from _admix import finish, start
from admixlib.stages.gan_seeds import gan_seeds_stage

start(snakemake)
gan_seeds_stage(
    dataset=snakemake.wildcards.dataset,
    runs=snakemake.params.runs,
    generators=snakemake.params.generators,
    methods=snakemake.params.methods,
    csv_path=snakemake.output.csv,
    generators_path=snakemake.output.generators,
    md_path=snakemake.output.md,
)
finish(snakemake)

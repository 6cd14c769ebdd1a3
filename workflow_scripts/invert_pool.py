"""Rule invert_pool: invert the bias sweep's pool split into W+."""

from _admix import start
from admixlib.stages.inversion import invert_split_stage

start(snakemake)
invert_split_stage(
    split_path=snakemake.input.split,
    generator_path=snakemake.input.generator,
    encoder_path=snakemake.input.encoder,
    codes_path=snakemake.output.codes,
    cfg=snakemake.params.inversion,
    device=snakemake.params.device,
)

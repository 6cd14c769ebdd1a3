"""Rule figure_mixing: style-mixing grid on inverted test images."""

from _admix import finish, start
from admixlib.stages.report import mixing_grid_stage

start(snakemake)
mixing_grid_stage(
    generator_path=snakemake.input.generator,
    codes_path=snakemake.input.test_codes,
    figure_path=snakemake.output.figure,
    split_index=snakemake.params.mixing["split_index"],
    n=snakemake.params.n,
    device=snakemake.params.device,
)
finish(snakemake)

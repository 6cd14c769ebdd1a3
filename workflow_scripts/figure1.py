"""Rule figure1: test images under fine-style variations, nominal vs AdvMix."""

from _admix import finish, start
from admixlib.stages.report import figure1_stage

start(snakemake)
figure1_stage(
    generator_path=snakemake.input.generator,
    test_path=snakemake.input.test,
    test_codes_path=snakemake.input.test_codes,
    train_codes_path=snakemake.input.train_codes,
    model_paths={"nominal": snakemake.input.nominal, "advmix": snakemake.input.advmix},
    figure_path=snakemake.output.figure,
    split_index=snakemake.params.mixing["split_index"],
    add_residual=snakemake.params.mixing["add_residual"],
    variations=snakemake.params.variations,
    device=snakemake.params.device,
)
finish(snakemake)

"""Rule consistency_variations: the fine-style variations every model of a dataset is judged on."""

from _admix import start
from admixlib.stages.classifier import consistency_variations_stage

start(snakemake)
consistency_variations_stage(
    test_path=snakemake.input.test,
    test_codes_path=snakemake.input.test_codes,
    train_codes_path=snakemake.input.train_codes,
    generator_path=snakemake.input.generator,
    variations_path=snakemake.output.variations,
    evaluation=snakemake.params.evaluation,
    mixing=snakemake.params.mixing,
    device=snakemake.params.device,
)

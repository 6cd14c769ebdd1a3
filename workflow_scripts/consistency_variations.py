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
    cfg=snakemake.params.consistency,
    mixing=snakemake.params.mixing,
    batch_size=snakemake.params.batch_size,
    device=snakemake.params.device,
    channel_mask_path=snakemake.input.channel_mask,
)

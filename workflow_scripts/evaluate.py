"""Rule evaluate: score one classifier on the unbiased test split."""

from _admix import start
from admixlib.stages.classifier import evaluate_stage

start(snakemake)
evaluate_stage(
    dataset=snakemake.wildcards.dataset,
    method=snakemake.wildcards.method,
    seed=int(snakemake.wildcards.seed),
    model_path=snakemake.input.model,
    test_path=snakemake.input.test,
    test_codes_path=snakemake.input.test_codes,
    train_codes_path=snakemake.input.train_codes,
    generator_path=snakemake.input.generator,
    variations_path=snakemake.input.variations,
    metrics_path=snakemake.output.metrics,
    evaluation=snakemake.params.evaluation,
    mixing=snakemake.params.mixing,
    device=snakemake.params.device,
)

"""Rule sweep_run: train one classifier at one swept value, then evaluate it like the main table."""

from _admix import start
from admixlib.stages.classifier import evaluate_stage, train_classifier_stage

start(snakemake)
params, inputs, outputs = snakemake.params, snakemake.input, snakemake.output
method, seed = snakemake.wildcards.method, int(snakemake.wildcards.seed)
train_classifier_stage(
    method=method,
    seed=seed,
    train_path=inputs.train,
    val_path=inputs.val,
    train_codes_path=inputs.train_codes,
    generator_path=inputs.generator,
    model_path=outputs.model,
    stats_path=outputs.stats,
    val_path_out=outputs.val,
    method_cfg=params.method_cfg,
    classifier_cfg=params.classifier,
    mixing=params.train_mixing,
    checkpoint_dir=params.checkpoint_dir,
    checkpoint_every=params.checkpoint_every,
    device=params.device,
    min_group_size=params.evaluation["min_group_size"],
)
# The yardstick is the main table's: attacks and consistency at the dataset's own split index, with
# donors from the main training split, whatever the swept value.
evaluate_stage(
    dataset=snakemake.wildcards.dataset,
    method=method,
    seed=seed,
    model_path=outputs.model,
    test_path=inputs.test,
    test_codes_path=inputs.test_codes,
    train_codes_path=inputs.eval_train_codes,
    generator_path=inputs.generator,
    variations_path=inputs.variations,
    metrics_path=outputs.metrics,
    evaluation=params.evaluation,
    mixing=params.mixing,
    device=params.device,
)

"""Rules train_classifier and tune_classifier: one method (and setting), one seed, the shared loop."""

from _admix import start
from admixlib.stages.classifier import train_classifier_stage

start(snakemake)
train_classifier_stage(
    method=snakemake.wildcards.method,
    seed=snakemake.params.seed,
    train_path=snakemake.input.train,
    val_path=snakemake.input.val,
    train_codes_path=snakemake.input.train_codes,
    generator_path=snakemake.input.generator,
    model_path=snakemake.output.model,
    stats_path=snakemake.output.stats,
    val_path_out=snakemake.output.val,
    method_cfg=snakemake.params.method_cfg,
    classifier_cfg=snakemake.params.classifier,
    mixing=snakemake.params.mixing,
    checkpoint_dir=snakemake.params.checkpoint_dir,
    checkpoint_every=snakemake.params.checkpoint_every,
    device=snakemake.params.device,
    min_group_size=snakemake.params.min_group_size,
    resampled_path=snakemake.input.get("resampled"),
)

"""Rule disentanglement: per-layer map and fine-mixing scores of one dataset's generator."""

from _admix import finish, start
from admixlib.stages.analysis import disentanglement_stage

start(snakemake)
disentanglement_stage(
    generator_path=snakemake.input.generator,
    oracle_path=snakemake.input.oracle,
    train_path=snakemake.input.train,
    train_codes_path=snakemake.input.train_codes,
    map_path=snakemake.output.map,
    figure_path=snakemake.output.figure,
    metrics_path=snakemake.output.metrics,
    split_index=snakemake.params.mixing["split_index"],
    add_residual=snakemake.params.mixing["add_residual"],
    n_pairs=snakemake.params.analysis["n_pairs"],
    fid_samples=snakemake.params.analysis["fid_samples"],
    marginal_samples=snakemake.params.analysis["marginal_samples"],
    inception_weights=snakemake.params.analysis["inception_weights"],
    device=snakemake.params.device,
)
finish(snakemake)

"""Rule gather_codes: join inversion shards per split and report PSNR."""

from _admix import start
from admixlib.stages.generator import gather_codes

start(snakemake)
gather_codes(
    shard_paths=list(snakemake.input.shards),
    code_paths=dict(zip(snakemake.params.splits, snakemake.output.codes)),
    metrics_path=snakemake.output.metrics,
    refine_steps=snakemake.params.refine_steps,
)

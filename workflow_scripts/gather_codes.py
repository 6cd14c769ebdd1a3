"""Rule gather_codes: join inversion shards per split and summarise PSNR and speed."""

from _admix import start
from admixlib.stages.inversion import gather_codes

start(snakemake)
gather_codes(
    shard_paths=list(snakemake.input.shards),
    code_paths=dict(zip(snakemake.params.splits, snakemake.output.codes)),
    summary_path=snakemake.output.summary,
    refine_steps=snakemake.params.refine_steps,
)

"""Rule inversion_report: PSNR, the oracle's label agreement and the speed-up over optimisation."""

from _admix import start
from admixlib.stages.inversion import inversion_report_stage

start(snakemake)
inversion_report_stage(
    summary_path=snakemake.input.summary,
    test_codes_path=snakemake.input.test_codes,
    test_path=snakemake.input.test,
    oracle_path=snakemake.input.oracle,
    generator_path=snakemake.input.generator,
    encoder_path=snakemake.input.encoder,
    metrics_path=snakemake.output.metrics,
    cfg=snakemake.params.inversion,
    device=snakemake.params.device,
)

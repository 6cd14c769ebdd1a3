"""Rule select_stylegan: keep the candidate GAN closest to the sample-side targets."""

from _admix import finish, start
from admixlib.stages.generator import select_stylegan_stage

start(snakemake)
files = zip(
    snakemake.params.gan_seeds,
    snakemake.input.generators,
    snakemake.input.discriminators,
    snakemake.input.samples,
    snakemake.input.stats,
    strict=True,
)
selection = snakemake.params.selection
select_stylegan_stage(
    candidates=[
        {"seed": seed, "generator": g, "discriminator": d, "samples": s, "stats": t}
        for seed, g, d, s, t in files
    ],
    oracle_path=snakemake.input.oracle,
    train_path=snakemake.input.train,
    generator_path=snakemake.output.generator,
    discriminator_path=snakemake.output.discriminator,
    samples_path=snakemake.output.samples,
    stats_path=snakemake.output.stats,
    selection_path=snakemake.output.selection,
    split_index=snakemake.params.split_index,
    targets={key: selection[key] for key in ("label_kept", "nuisance_moved", "marginal_gap")},
    n_pairs=selection["n_pairs"],
    marginal_samples=snakemake.params.marginal_samples,
    device=snakemake.params.device,
    seed=selection["seed"],
)
finish(snakemake)

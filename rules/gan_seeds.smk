# Target gan_seeds: the headline methods over several GANs (config key gan_seeds).


rule gan_seeds_table:
    """The GAN-seed table: methods over every (GAN seed, classifier seed) pair, and each GAN's figures."""
    input:
        runs=lambda w: [run["path"] for run in gan_seed_runs(w)],
        generators=lambda w: list(gan_seed_generators(w).values()),
    output:
        csv=report(
            GAN_SEEDS_TABLE,
            caption="../docs/captions/gan_seeds.rst",
            category="Tables",
        ),
        generators=GAN_SEEDS_GENERATORS,
        md=GAN_SEEDS_MD,
        provenance=sidecar(GAN_SEEDS_TABLE),
    log:
        log_path("gan_seeds_table", "{dataset}"),
    benchmark:
        bench_path("gan_seeds_table", "{dataset}")
    wildcard_constraints:
        dataset=BASE_DATASETS,
    conda:
        "../envs/admix.yaml"
    threads: 1
    resources:
        **rule_resources("table"),
    params:
        runs=gan_seed_runs,
        generators=gan_seed_generators,
        methods=config["gan_seeds"]["methods"],
    script:
        "../workflow_scripts/gan_seeds_table.py"

# Target ablation: AdvMix bracketed by a second generator (the paper's plain StyleGAN2 by default) and
# perfect nuisance resampling.


rule ablation_table:
    """The ablation table: reference rows, the mixing methods on the second generator, its figures."""
    input:
        runs=lambda w: [run["path"] for run in ablation_runs(w)],
        generators=lambda w: expand(
            GENERATOR_METRICS, dataset=[w.dataset, f"{w.dataset}-{ABLATION_GENERATOR}"]
        ),
    output:
        csv=report(
            ABLATION_TABLE, caption="../docs/captions/ablation.rst", category="Tables"
        ),
        md=ABLATION_MD,
        generators=ABLATION_GENERATORS,
        provenance=sidecar(ABLATION_TABLE),
    log:
        log_path("ablation_table", "{dataset}"),
    benchmark:
        bench_path("ablation_table", "{dataset}")
    wildcard_constraints:
        dataset=BASE_DATASETS,
    conda:
        "../envs/admix.yaml"
    threads: 1
    resources:
        **rule_resources("table"),
    params:
        runs=ablation_runs,
        generators=lambda w: {
            "own": GENERATOR_METRICS.format(dataset=w.dataset),
            ABLATION_GENERATOR: GENERATOR_METRICS.format(
                dataset=f"{w.dataset}-{ABLATION_GENERATOR}"
            ),
        },
    script:
        "../workflow_scripts/ablation_table.py"

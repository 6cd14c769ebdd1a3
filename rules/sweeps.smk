# The bias-strength sweep and the split-index ablation (config key sweeps). Each swept value is a
# variant dataset (admixlib.variants: <dataset>-bias<b>, <dataset>-k<k>) that train_classifier and
# evaluate serve like any other.


# make_oracle_split's input, wildcard constraints, conda, threads, resources and script.
use rule make_oracle_split as make_pool_split with:
    """Write the pool split: unbiased images from the training pool; the bias sweep draws from it."""
    output:
        splits=[POOL_SPLIT],
        factors=[FACTORS.replace("{split}", "pool")],
    log:
        log_path("make_pool_split", "{dataset}"),
    benchmark:
        bench_path("make_pool_split", "{dataset}")
    params:
        data=lambda w: {
            **dataset_cfg(w)["data"],
            "n_pool": config["sweeps"]["bias"]["pool_size"],
        },


rule invert_pool:
    """Invert the pool split once, with the main encoder and refinement."""
    input:
        split=POOL_SPLIT,
        generator=GENERATOR,
        encoder=ENCODER,
    output:
        codes=POOL_CODES,
    log:
        log_path("invert_pool", "{dataset}"),
    benchmark:
        bench_path("invert_pool", "{dataset}")
    conda:
        "../envs/admix.yaml"
    threads: res("invert", "threads")
    resources:
        **rule_resources("invert", gpu=1),
    params:
        inversion=lambda w: dataset_cfg(w)["inversion"],
        device=config["device"],
    script:
        "../workflow_scripts/invert_pool.py"


rule bias_subset:
    """A bias variant's training set (and its codes): pool images drawn with that bias."""
    input:
        pool=owned(base_name, POOL_SPLIT),
        pool_codes=owned(base_name, POOL_CODES),
    output:
        train=SPLIT.replace("{split}", "train"),
        factors=FACTORS.replace("{split}", "train"),
        train_codes=CODES.replace("{split}", "train"),
    log:
        log_path("bias_subset", "{dataset}"),
    benchmark:
        bench_path("bias_subset", "{dataset}")
    wildcard_constraints:
        dataset=BIAS_VARIANTS,
    conda:
        "../envs/admix.yaml"
    threads: 1
    resources:
        **rule_resources("bias_subset"),
    params:
        bias=lambda w: bias_of(w.dataset),
        n_train=config["sweeps"]["bias"]["n_train"],
        seed=lambda w: dataset_cfg(w)["data"]["seed"],
    script:
        "../workflow_scripts/bias_subset.py"


rule sweep_table:
    """A sweep's tidy table (the swept value as a column) and its figure with 95% intervals."""
    input:
        lambda w: [path for paths in sweep_runs(w).values() for path in paths],
    output:
        table=report(
            SWEEP_TABLE, caption="../docs/captions/sweep_table.rst", category="Sweeps"
        ),
        figure=report(
            SWEEP_FIGURE, caption="../docs/captions/sweep.rst", category="Sweeps"
        ),
        provenance=[sidecar(SWEEP_TABLE), sidecar(SWEEP_FIGURE)],
    log:
        log_path("sweep_table", "{dataset}_{sweep}"),
    benchmark:
        bench_path("sweep_table", "{dataset}_{sweep}")
    conda:
        "../envs/admix.yaml"
    threads: 1
    resources:
        **rule_resources("table"),
    params:
        runs=sweep_runs,
        methods=config["sweeps"]["methods"],
    script:
        "../workflow_scripts/sweep_table.py"

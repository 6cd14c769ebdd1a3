# The bias-strength sweep and the split-index ablation (config key sweeps). Each swept value is a
# variant dataset (admixlib.variants: <dataset>-bias<b>, <dataset>-k<k>) that train_classifier and
# evaluate serve like any other.


rule make_pool_split:
    """Write the pool split: unbiased images from the training pool; the bias sweep draws from it."""
    input:
        raw_input,
    output:
        splits=[POOL_SPLIT],
        factors=[FACTORS.replace("{split}", "pool")],
    log:
        log_path("make_pool_split", "{dataset}"),
    benchmark:
        bench_path("make_pool_split", "{dataset}")
    wildcard_constraints:
        dataset=BASE_DATASETS,
    conda:
        "../envs/admix.yaml"
    threads: 1
    resources:
        mem_mb=res("make_dataset", "mem_mb"),
        runtime=res("make_dataset", "runtime"),
    params:
        data=lambda w: {
            **dataset_cfg(w)["data"],
            "n_pool": config["sweeps"]["bias"]["pool_size"],
        },
    script:
        "../workflow_scripts/make_split.py"


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
        gpu=1,
        mem_mb=res("invert", "mem_mb"),
        runtime=res("invert", "runtime"),
    params:
        inversion=lambda w: dataset_cfg(w)["inversion"],
        device=config["device"],
    script:
        "../workflow_scripts/invert_pool.py"


rule bias_subset:
    """A bias variant's training set (and its codes): pool images drawn with that bias."""
    input:
        pool=base_path(POOL_SPLIT),
        pool_codes=base_path(POOL_CODES),
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
        mem_mb=res("bias_subset", "mem_mb"),
        runtime=res("bias_subset", "runtime"),
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
        mem_mb=res("table", "mem_mb"),
        runtime=res("table", "runtime"),
    params:
        runs=sweep_runs,
        methods=config["sweeps"]["methods"],
    script:
        "../workflow_scripts/sweep_table.py"

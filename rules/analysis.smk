rule train_oracle:
    """Train the factor oracle (label and every nuisance) on the oracle split; it judges images only."""
    input:
        oracle_split=ORACLE_SPLIT,
        val=SPLIT.replace("{split}", "val"),
    output:
        oracle=ORACLE,
        metrics=ORACLE_METRICS,
    log:
        log_path("train_oracle", "{dataset}"),
    benchmark:
        bench_path("train_oracle", "{dataset}")
    wildcard_constraints:
        dataset=BASE_DATASETS,
    conda:
        "../envs/admix.yaml"
    threads: res("train_oracle", "threads")
    resources:
        **rule_resources("train_oracle", gpu=1),
    params:
        oracle=lambda w: dataset_cfg(w)["oracle"],
        device=config["device"],
        seed=lambda w: dataset_cfg(w)["data"]["seed"],
    script:
        "../workflow_scripts/train_oracle.py"


rule disentanglement:
    """Which factors move with which styles: the per-layer map and the fine-mixing scores at k."""
    input:
        generator=GENERATOR,
        oracle=owned(base_name, ORACLE),
        train=data_split("train"),
        train_codes=CODES.replace("{split}", "train"),
    output:
        map=DISENTANGLEMENT_MAP,
        figure=report(
            DISENTANGLEMENT_FIGURE,
            caption="../docs/captions/disentanglement.rst",
            category="Figures",
        ),
        metrics=GENERATOR_METRICS,
        provenance=[sidecar(DISENTANGLEMENT_MAP), sidecar(DISENTANGLEMENT_FIGURE)],
    log:
        log_path("disentanglement", "{dataset}"),
    benchmark:
        bench_path("disentanglement", "{dataset}")
    conda:
        "../envs/admix.yaml"
    threads: res("disentanglement", "threads")
    resources:
        **rule_resources("disentanglement", gpu=1),
    params:
        mixing=lambda w: dataset_cfg(w)["mixing"],
        analysis=config["analysis"],
        device=config["device"],
    script:
        "../workflow_scripts/disentanglement.py"

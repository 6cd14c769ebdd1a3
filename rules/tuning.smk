# Target tune_methods: every method's declared grid, trained on train and scored on val (config key tuning).


rule tune_classifier:
    """Train one setting of one method's grid (the tuning seed) and score it on the val split."""
    input:
        train=data_split("train"),
        val=data_split("val"),
        train_codes=CODES.replace("{split}", "train"),
        generator=GENERATOR,
    output:
        model=TUNE_MODEL,
        stats=TUNE_STATS,
        val=TUNE_VAL,
    log:
        log_path("tune_classifier", "{dataset}_{method}_setting{setting}"),
    benchmark:
        bench_path("tune_classifier", "{dataset}_{method}_setting{setting}")
    conda:
        "../envs/admix.yaml"
    threads: res("train_classifier", "threads")
    resources:
        gpu=1,
        mem_mb=res("train_classifier", "mem_mb"),
        runtime=res("train_classifier", "runtime"),
    params:
        method_cfg=tuned_method_cfg,
        classifier=config["classifier"],
        mixing=lambda w: dataset_cfg(w)["mixing"],
        seed=config["tuning"]["seed"],
        min_group_size=config["evaluation"]["min_group_size"],
        checkpoint_dir=lambda w: (
            f"{CHECKPOINTS.format(dataset=w.dataset)}/tuning/{w.method}/setting{w.setting}"
        ),
        checkpoint_every=config["compute"]["checkpoint_every"],
        device=config["device"],
    script:
        "../workflow_scripts/train_classifier.py"


rule tuning_table:
    """A dataset's tuning table: every grid setting's val scores, the best per method marked."""
    input:
        lambda w: [run["val"] for run in tuning_runs(w)],
    output:
        table=report(
            TUNING_TABLE, caption="../docs/captions/tuning.rst", category="Tables"
        ),
        provenance=sidecar(TUNING_TABLE),
    log:
        log_path("tuning_table", "{dataset}"),
    benchmark:
        bench_path("tuning_table", "{dataset}")
    conda:
        "../envs/admix.yaml"
    threads: 1
    resources:
        mem_mb=res("table", "mem_mb"),
        runtime=res("table", "runtime"),
    params:
        runs=tuning_runs,
    script:
        "../workflow_scripts/tuning_table.py"

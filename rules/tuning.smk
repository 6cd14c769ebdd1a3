# Target tune_methods: every method's declared grid, trained on train and scored on val (config key tuning).


# train_classifier's conda, threads, resources, script and its other params.
use rule train_classifier as tune_classifier with:
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
    params:
        method_cfg=tuned_method_cfg,
        seed=config["tuning"]["seed"],
        checkpoint_dir=lambda w: (
            f"{CHECKPOINTS.format(dataset=w.dataset)}/tuning/{w.method}/setting{w.setting}"
        ),


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
        **rule_resources("table"),
    params:
        runs=tuning_runs,
    script:
        "../workflow_scripts/tuning_table.py"

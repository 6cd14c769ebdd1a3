rule train_classifier:
    """Train one classifier with one method and seed through the shared training loop (a sweep
    variant's too: its training set or split index, the base's GAN)."""
    input:
        unpack(method_inputs),
        train=data_split("train"),
        val=data_split("val"),
        train_codes=owned(train_owner, CODES, split="train"),
        generator=owned(gan_owner, GENERATOR),
    output:
        model=CLASSIFIER,
        stats=CLASSIFIER_STATS,
        val=CLASSIFIER_VAL,
    log:
        log_path("train_classifier", "{dataset}_{method}_seed{seed}"),
    benchmark:
        bench_path("train_classifier", "{dataset}_{method}_seed{seed}")
    conda:
        "../envs/admix.yaml"
    threads: res("train_classifier", "threads")
    resources:
        **rule_resources("train_classifier", gpu=1),
    params:
        method_cfg=method_cfg,
        classifier=config["classifier"],
        mixing=lambda w: dataset_cfg(w)["mixing"],
        checkpoint_dir=lambda w: (
            f"{CHECKPOINTS.format(dataset=w.dataset)}/classifiers/{w.method}/seed{w.seed}"
        ),
        checkpoint_every=config["compute"]["checkpoint_every"],
        seed=lambda w: int(w.seed),
        min_group_size=config["evaluation"]["min_group_size"],
        device=config["device"],
    script:
        "../workflow_scripts/train_classifier.py"

rule consistency_variations:
    """Render once the fine-style variations every model of a dataset is judged on (consistency)."""
    input:
        test=data_split("test"),
        test_codes=CODES.replace("{split}", "test"),
        train_codes=CODES.replace("{split}", "train"),
        generator=GENERATOR,
    output:
        variations=CONSISTENCY_VARIATIONS,
    log:
        log_path("consistency_variations", "{dataset}"),
    benchmark:
        bench_path("consistency_variations", "{dataset}")
    conda:
        "../envs/admix.yaml"
    threads: res("evaluate", "threads")
    resources:
        **rule_resources("evaluate", gpu=1),
    params:
        evaluation=config["evaluation"],
        mixing=lambda w: dataset_cfg(w)["mixing"],
        device=config["device"],
    script:
        "../workflow_scripts/consistency_variations.py"


rule evaluate:
    """Score one classifier on the unbiased test split: clean, per group, AdvMix and l_inf attacks
    (through the GAN it trained with, at that GAN's split index)."""
    input:
        model=CLASSIFIER,
        test=data_split("test"),
        test_codes=owned(gan_owner, CODES, split="test"),
        train_codes=owned(gan_owner, CODES, split="train"),
        generator=owned(gan_owner, GENERATOR),
        variations=owned(gan_owner, CONSISTENCY_VARIATIONS),
    output:
        metrics=EVAL,
    log:
        log_path("evaluate", "{dataset}_{method}_seed{seed}"),
    benchmark:
        bench_path("evaluate", "{dataset}_{method}_seed{seed}")
    conda:
        "../envs/admix.yaml"
    threads: res("evaluate", "threads")
    resources:
        **rule_resources("evaluate", gpu=1),
    params:
        evaluation=config["evaluation"],
        mixing=yardstick_mixing,
        device=config["device"],
    script:
        "../workflow_scripts/evaluate.py"

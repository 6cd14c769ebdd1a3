rule train_encoder:
    """Train the image -> W+ encoder on generator samples (and the training images' reconstructions)."""
    input:
        generator=GENERATOR,
        discriminator=DISCRIMINATOR,
        train=data_split("train"),
    output:
        encoder=ENCODER,
        stats=ENCODER_STATS,
    log:
        log_path("train_encoder", "{dataset}"),
    benchmark:
        bench_path("train_encoder", "{dataset}")
    conda:
        "../envs/admix.yaml"
    threads: res("train_encoder", "threads")
    resources:
        **rule_resources("train_encoder", gpu=1),
    params:
        encoder=lambda w: dataset_cfg(w)["encoder"],
        checkpoint_dir=lambda w: f"{CHECKPOINTS.format(dataset=w.dataset)}/encoder",
        checkpoint_every=config["compute"]["checkpoint_every"],
        device=config["device"],
        seed=lambda w: dataset_cfg(w)["data"]["seed"],
    script:
        "../workflow_scripts/train_encoder.py"


rule invert:
    """Invert one shard of every split into W+ (encoder, then optional per-image refinement)."""
    input:
        splits=lambda w: expand(SPLIT, dataset=base_name(w.dataset), split=SPLITS),
        generator=GENERATOR,
        encoder=ENCODER,
    output:
        shard=CODES_SHARD,
    log:
        log_path("invert", "{dataset}_{scatteritem}"),
    benchmark:
        bench_path("invert", "{dataset}_{scatteritem}")
    conda:
        "../envs/admix.yaml"
    threads: res("invert", "threads")
    resources:
        **rule_resources("invert", gpu=1),
    params:
        inversion=lambda w: dataset_cfg(w)["inversion"],
        splits=SPLITS,
        device=config["device"],
    script:
        "../workflow_scripts/invert.py"


rule gather_codes:
    """Join the inversion shards into one code file per split and summarise PSNR and speed."""
    input:
        shards=gather.invert(CODES_SHARD.replace("{dataset}", "{{dataset}}")),
    output:
        codes=expand(CODES, split=SPLITS, allow_missing=True),
        summary=INVERSION_SUMMARY,
    log:
        log_path("gather_codes", "{dataset}"),
    benchmark:
        bench_path("gather_codes", "{dataset}")
    wildcard_constraints:
        dataset=GAN_DATASETS,
    conda:
        "../envs/admix.yaml"
    threads: 1
    resources:
        **rule_resources("gather_codes"),
    params:
        splits=SPLITS,
        refine_steps=lambda w: dataset_cfg(w)["inversion"]["refine_steps"],
    script:
        "../workflow_scripts/gather_codes.py"


rule inversion_report:
    """Inversion quality on the test split (PSNR, oracle label agreement) and speed-up over optimisation."""
    input:
        summary=INVERSION_SUMMARY,
        test_codes=CODES.replace("{split}", "test"),
        test=data_split("test"),
        oracle=owned(base_name, ORACLE),
        generator=GENERATOR,
        encoder=ENCODER,
    output:
        metrics=INVERSION_METRICS,
    log:
        log_path("inversion_report", "{dataset}"),
    benchmark:
        bench_path("inversion_report", "{dataset}")
    conda:
        "../envs/admix.yaml"
    threads: res("inversion_report", "threads")
    resources:
        **rule_resources("inversion_report", gpu=1),
    params:
        inversion=lambda w: dataset_cfg(w)["inversion"],
        device=config["device"],
    script:
        "../workflow_scripts/inversion_report.py"

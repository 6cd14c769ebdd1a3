rule train_stylegan:
    """Train the StyleGAN2-style generator on the training split (no oracle, no selection)."""
    input:
        train=data_split("train"),
    output:
        generator=GENERATOR,
        discriminator=DISCRIMINATOR,
        samples=GAN_SAMPLES,
        stats=GAN_STATS,
    log:
        log_path("train_stylegan", "{dataset}"),
    benchmark:
        bench_path("train_stylegan", "{dataset}")
    conda:
        "../envs/admix.yaml"
    threads: res("train_stylegan", "threads")
    resources:
        **rule_resources("train_stylegan", gpu=1),
    params:
        stylegan=lambda w: dataset_cfg(w)["stylegan"],
        split_index=lambda w: dataset_cfg(w)["mixing"]["split_index"],
        checkpoint_dir=lambda w: f"{CHECKPOINTS.format(dataset=w.dataset)}/stylegan",
        checkpoint_every=config["compute"]["checkpoint_every"],
        device=config["device"],
        seed=lambda w: gan_seed(config, w.dataset),
    script:
        "../workflow_scripts/train_stylegan.py"

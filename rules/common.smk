# Validation, path patterns and input functions. Path patterns live here and nowhere else.
from pathlib import Path

from snakemake.utils import validate

from admixlib.configcheck import MIXING_METHODS, check_config, check_resource_rules
from admixlib.configschema import check_schema

check_schema(
    config, Path(workflow.basedir) / "config" / "schema.yaml"
)  # readable: key and allowed values
validate(config, schema="../config/schema.yaml")  # fills in the schema's defaults
check_config(config)

DATASETS = config["run"]["datasets"]
METHODS = config["run"]["methods"]
SEEDS = config["run"]["seeds"]
SPLITS = [
    "train",
    "val",
    "test",
]  # inverted into W+; "oracle" only trains the factor oracle
DATA_SPLITS = SPLITS + ["oracle", "pool"]
SWEEPS = config["sweeps"]
SWEEP_DATASETS = SWEEPS["datasets"]
SWEEP_VALUES = {
    "bias": [str(v) for v in SWEEPS["bias"]["values"]],
    "split_index": [str(v) for v in SWEEPS["split_index"]["values"]],
}


wildcard_constraints:
    dataset="|".join(DATASETS),
    split="|".join(DATA_SPLITS),
    method="|".join(METHODS),
    seed=r"\d+",
    sweep="bias|split_index",
    value=r"[0-9.]+",


scattergather:
    invert=config["inversion_shards"],


# Rule outputs (results/), resumable checkpoints (checkpoints/, never a rule output), logs, benchmarks.
RAW = "resources/{dataset}"
SPLIT = "results/{dataset}/data/{split}.pt"
FACTORS = "results/{dataset}/data/{split}_factors.csv"
GENERATOR = "results/{dataset}/stylegan/generator.pt"
DISCRIMINATOR = "results/{dataset}/stylegan/discriminator.pt"
GAN_SAMPLES = "results/{dataset}/stylegan/samples.png"
GAN_STATS = "results/{dataset}/stylegan/stats.jsonl"
ENCODER = "results/{dataset}/encoder/encoder.pt"
ENCODER_STATS = "results/{dataset}/encoder/stats.jsonl"
CODES_SHARD = "results/{dataset}/codes/shards/{scatteritem}.pt"
CODES = "results/{dataset}/codes/{split}.pt"
INVERSION_SUMMARY = "results/{dataset}/codes/summary.json"
INVERSION_METRICS = "results/metrics/{dataset}/inversion.json"
ORACLE_SPLIT = "results/{dataset}/data/oracle.pt"
ORACLE = "results/{dataset}/oracle/oracle.pt"
ORACLE_METRICS = "results/metrics/{dataset}/oracle.json"
DISENTANGLEMENT_MAP = "results/{dataset}/disentanglement/map.csv"
DISENTANGLEMENT_FIGURE = "results/figures/{dataset}_disentanglement.png"
GENERATOR_METRICS = "results/metrics/{dataset}/generator.json"
CHANNEL_MAP = "results/{dataset}/disentanglement/channels.csv"
CHANNEL_FIGURE = "results/figures/{dataset}_channels.png"
CLASSIFIER = "results/{dataset}/classifiers/{method}/seed{seed}/model.pt"
CLASSIFIER_STATS = "results/{dataset}/classifiers/{method}/seed{seed}/stats.jsonl"
CLASSIFIER_VAL = "results/{dataset}/classifiers/{method}/seed{seed}/val.json"
EVAL = "results/{dataset}/eval/{method}/seed{seed}.json"
CONSISTENCY_VARIATIONS = "results/{dataset}/eval/consistency_variations.pt"
TABLE = "results/tables/{dataset}.{ext}"
MIXING_GRID = "results/figures/{dataset}_mixing_grid.png"
FIGURE1 = "results/figures/{dataset}_figure1.png"
POOL_SPLIT = "results/{dataset}/data/pool.pt"
POOL_CODES = "results/{dataset}/codes/pool.pt"
BIAS_TRAIN = "results/{dataset}/sweeps/bias/{value}/data/train.pt"
BIAS_TRAIN_FACTORS = "results/{dataset}/sweeps/bias/{value}/data/train_factors.csv"
BIAS_TRAIN_CODES = "results/{dataset}/sweeps/bias/{value}/codes/train.pt"
SWEEP_MODEL = (
    "results/{dataset}/sweeps/{sweep}/{value}/classifiers/{method}/seed{seed}/model.pt"
)
SWEEP_STATS = "results/{dataset}/sweeps/{sweep}/{value}/classifiers/{method}/seed{seed}/stats.jsonl"
SWEEP_VAL = (
    "results/{dataset}/sweeps/{sweep}/{value}/classifiers/{method}/seed{seed}/val.json"
)
SWEEP_EVAL = "results/{dataset}/sweeps/{sweep}/{value}/eval/{method}/seed{seed}.json"
SWEEP_TABLE = "results/tables/{dataset}_{sweep}_sweep.csv"
SWEEP_FIGURE = "results/figures/{dataset}_{sweep}_sweep.png"
CHECKPOINTS = "checkpoints/{dataset}"
TABLE_EXTS = ["csv", "md", "tex"]


def dataset_cfg(wildcards):
    """The config block of the dataset named by the wildcard."""
    return config["datasets"][wildcards.dataset]


def res(rule_name, key):
    """A resource (threads, mem_mb, runtime) of a rule: its own entry, else the default."""
    return (
        config["resources"]
        .get(rule_name, {})
        .get(key, config["resources"]["default"][key])
    )


def sidecar(pattern):
    """The provenance sidecar of a table or figure: same folder and stem, ``.provenance.json``."""
    return pattern.rsplit(".", 1)[0] + ".provenance.json"


def log_path(rule_name, pattern):
    return f"logs/{rule_name}/{pattern}.log"


def bench_path(rule_name, pattern):
    return f"results/benchmarks/rules/{rule_name}/{pattern}.tsv"


def raw_input(wildcards):
    """Real datasets read the folder download_dataset fills; generated ones need no input."""
    kind = dataset_cfg(wildcards)["data"]["kind"]
    return (
        [RAW.format(dataset=wildcards.dataset)]
        if kind in ("celeba", "colored_mnist")
        else []
    )


def figure1_models(wildcards):
    """Figure 1 compares nominal and AdvMix classifiers trained with the first seed."""
    return {
        method: CLASSIFIER.format(
            dataset=wildcards.dataset, method=method, seed=SEEDS[0]
        )
        for method in ("nominal", "advmix")
    }


def sweep_train_inputs(wildcards):
    """A bias value trains on its subset of the pool; a split index on the main training split."""
    if wildcards.sweep == "bias":
        return {"train": BIAS_TRAIN, "train_codes": BIAS_TRAIN_CODES}
    return {
        "train": SPLIT.replace("{split}", "train"),
        "train_codes": CODES.replace("{split}", "train"),
    }


def sweep_train_mixing(wildcards):
    """The dataset's mixing settings, with the swept split index when the sweep is split_index."""
    mixing = dict(dataset_cfg(wildcards)["mixing"])
    if wildcards.sweep == "split_index":
        mixing["split_index"] = int(wildcards.value)
    return mixing


def sweep_runs(wildcards):
    """{swept value: evaluation files}. The split-index ablation reuses the main runs where the
    split index changes nothing: methods that do not mix styles, and the dataset's own k.
    """
    runs = {}
    own_k = str(dataset_cfg(wildcards)["mixing"]["split_index"])
    for value in SWEEP_VALUES[wildcards.sweep]:
        paths = []
        for method in SWEEPS["methods"]:
            main = wildcards.sweep == "split_index" and (
                method not in MIXING_METHODS or value == own_k
            )
            pattern = EVAL if main else SWEEP_EVAL
            paths += expand(
                pattern,
                dataset=wildcards.dataset,
                sweep=wildcards.sweep,
                value=value,
                method=method,
                seed=SEEDS,
            )
        runs[value] = paths
    return runs


def with_sidecars(patterns):
    """Each table or figure pattern and its provenance sidecar, so targets ask for both."""
    return [path for pattern in patterns for path in (pattern, sidecar(pattern))]


def sweep_targets():
    return expand(
        with_sidecars([SWEEP_TABLE, SWEEP_FIGURE]),
        dataset=SWEEP_DATASETS,
        sweep=list(SWEEP_VALUES),
    )


def table_targets():
    return expand(TABLE, dataset=DATASETS, ext=TABLE_EXTS) + expand(
        sidecar(TABLE), dataset=DATASETS
    )


def figure_targets():
    figures = [MIXING_GRID, DISENTANGLEMENT_FIGURE, CHANNEL_FIGURE]
    if {"nominal", "advmix"} <= set(METHODS):
        figures.append(FIGURE1)
    return expand(with_sidecars(figures), dataset=DATASETS)


def all_targets():
    return (
        table_targets()
        + figure_targets()
        + expand(INVERSION_METRICS, dataset=DATASETS)
        + expand(GENERATOR_METRICS, dataset=DATASETS)
        + expand(GAN_SAMPLES, dataset=DATASETS)
        + sweep_targets()
    )

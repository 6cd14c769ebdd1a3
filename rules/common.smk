# Validation, path patterns and input functions. Path patterns live here and nowhere else.
from pathlib import Path

from snakemake.utils import validate

from admixlib.configcheck import MIXING_METHODS, check_config, check_resource_rules
from admixlib.configcheck import METHODS as ALL_METHODS
from admixlib.configschema import check_schema
from admixlib.variants import (
    base_name,
    bias_of,
    gan_owner,
    gan_seed,
    gan_seed_name,
    split_owner,
    sweep_name,
    train_owner,
    variant_block,
    wildcard_pattern,
)

# check_schema's errors are readable (key and allowed values); validate fills in the schema's defaults.
check_schema(config, Path(workflow.basedir) / "config" / "schema.yaml")
validate(config, schema="../config/schema.yaml")
check_config(config)

DATASETS = config["run"]["datasets"]
METHODS = config["run"]["methods"]
SEEDS = config["run"]["seeds"]
# The splits inverted into W+; "oracle" (trains the factor oracle) and "pool" are not.
SPLITS = ["train", "val", "test"]
SWEEPS = config["sweeps"]
SWEEP_DATASETS = SWEEPS["datasets"]
SWEEP_VALUES = {
    "bias": [str(v) for v in SWEEPS["bias"]["values"]],
    "split_index": [str(v) for v in SWEEPS["split_index"]["values"]],
}


wildcard_constraints:
    dataset=wildcard_pattern(
        list(config["datasets"]), ablation=config["ablation"]["generator"]["name"]
    ),
    split="|".join(SPLITS + ["oracle", "pool"]),
    method="|".join(ALL_METHODS),
    seed=r"\d+",
    setting=r"\d+",
    sweep="bias|split_index",


scattergather:
    invert=config["inversion_shards"],


# Rule outputs (results/), resumable checkpoints (checkpoints/, never a rule output), logs, benchmarks.
# Downloads land in resources/{dataset}/; the rule's output is only the record of checked files, so
# Snakemake never deletes a fetched (or hand-placed) dataset when a job starts or fails.
RAW_RECORD = "resources/{dataset}/downloaded.json"
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
CLASSIFIER = "results/{dataset}/classifiers/{method}/seed{seed}/model.pt"
CLASSIFIER_STATS = "results/{dataset}/classifiers/{method}/seed{seed}/stats.jsonl"
CLASSIFIER_VAL = "results/{dataset}/classifiers/{method}/seed{seed}/val.json"
EVAL = "results/{dataset}/eval/{method}/seed{seed}.json"
CONSISTENCY_VARIATIONS = "results/{dataset}/eval/consistency_variations.pt"
TABLE = "results/tables/{dataset}.{ext}"
MIXING_GRID = "results/figures/{dataset}_mixing_grid.png"
FIGURE1 = "results/figures/{dataset}_figure1.png"
POOL_SPLIT = "results/{dataset}/data/pool.pt"
RESAMPLED = "results/{dataset}/data/train_resampled.pt"
ABLATION_TABLE = "results/tables/{dataset}_ablation.csv"
ABLATION_MD = "results/tables/{dataset}_ablation.md"
ABLATION_GENERATORS = "results/tables/{dataset}_ablation_generator.csv"
POOL_CODES = "results/{dataset}/codes/pool.pt"
SWEEP_TABLE = "results/tables/{dataset}_{sweep}_sweep.csv"
TUNE_MODEL = "results/{dataset}/tuning/{method}/setting{setting}/model.pt"
TUNE_STATS = "results/{dataset}/tuning/{method}/setting{setting}/stats.jsonl"
TUNE_VAL = "results/{dataset}/tuning/{method}/setting{setting}/val.json"
TUNING_TABLE = "results/tables/{dataset}_tuning.csv"
GAN_SEEDS_TABLE = "results/tables/{dataset}_gan_seeds.csv"
GAN_SEEDS_GENERATORS = "results/tables/{dataset}_gan_seeds_generator.csv"
GAN_SEEDS_MD = "results/tables/{dataset}_gan_seeds.md"
SWEEP_FIGURE = "results/figures/{dataset}_{sweep}_sweep.png"
CHECKPOINTS = "checkpoints/{dataset}"
TABLE_EXTS = ["csv", "md", "tex"]


def dataset_cfg(wildcards):
    """The config block of the dataset (or variant: admixlib.variants) named by the wildcard."""
    return variant_block(config, wildcards.dataset)


def owned(owner, pattern, **fixed):
    """Input function: ``pattern`` of the dataset that ``owner`` (admixlib.variants: base_name,
    gan_owner, train_owner) names for the wildcard's: a variant reads its base's oracle, a
    sweep variant its base's GAN, a classifier the codes of the set it trains on."""
    return lambda w: pattern.format(dataset=owner(w.dataset), **fixed)


def data_split(split):
    """Input function: the base dataset's ``split`` (train, val, test, pool); a bias variant's own
    training split."""
    return lambda w: SPLIT.format(dataset=split_owner(w.dataset, split), split=split)


def yardstick_mixing(wildcards):
    """The mixing settings a classifier is scored with: those of the GAN it uses, whatever split
    index a split-index variant trained with."""
    return variant_block(config, gan_owner(wildcards.dataset))["mixing"]


# Rule-level constraints: data rules make no variant; GAN_DATASETS names those that train a GAN.
BASE_DATASETS = "|".join(config["datasets"])
GAN_DATASETS = wildcard_pattern(
    list(config["datasets"]), "gan", ablation=config["ablation"]["generator"]["name"]
)
BIAS_VARIANTS = wildcard_pattern(list(config["datasets"]), "bias")


def res(rule_name, key):
    """A resource (threads, mem_mb, runtime) of a rule: its own entry, else the default."""
    return (
        config["resources"]
        .get(rule_name, {})
        .get(key, config["resources"]["default"][key])
    )


def rule_resources(rule_name, **extra):
    """A rule's resources directive: mem_mb and runtime of ``rule_name``'s entry (see res), and
    ``extra`` (gpu=1 for a GPU rule)."""
    return {key: res(rule_name, key) for key in ("mem_mb", "runtime")} | extra


def sidecar(pattern):
    """The provenance sidecar of a table or figure: same folder and stem, ``.provenance.json``."""
    return pattern.rsplit(".", 1)[0] + ".provenance.json"


def log_path(rule_name, pattern):
    return f"logs/{rule_name}/{pattern}.log"


def bench_path(rule_name, pattern):
    return f"results/benchmarks/rules/{rule_name}/{pattern}.tsv"


def raw_input(wildcards):
    """What a real dataset's split rules wait for: download_dataset's record, or the user's folder;
    nothing for generated datasets."""
    data = dataset_cfg(wildcards)["data"]
    if data["kind"] not in ("celeba", "colored_mnist"):
        return []
    if data.get("source") == "dir":
        return [data["dir"]]
    return [RAW_RECORD.format(dataset=wildcards.dataset)]


def figure1_models(wildcards):
    """Figure 1 compares nominal and AdvMix classifiers trained with the first seed."""
    return {
        method: CLASSIFIER.format(
            dataset=wildcards.dataset, method=method, seed=SEEDS[0]
        )
        for method in ("nominal", "advmix")
    }


def method_inputs(wildcards):
    """resample_nuisance trains on the base dataset's redrawn training split; the others need nothing more."""
    if wildcards.method == "resample_nuisance":
        return {"resampled": RESAMPLED.format(dataset=base_name(wildcards.dataset))}
    return {}


ABLATION_GENERATOR = config["ablation"]["generator"]["name"]


def ablation_runs(wildcards):
    """Every evaluation of the ablation table: dicts with ``row`` (the table's method name) and
    ``path``: the reference rows on the dataset's own generator, ``<method>_<name>`` on the
    ablation's second generator (ablation.generator.name, by default generic)."""
    own, other = wildcards.dataset, f"{wildcards.dataset}-{ABLATION_GENERATOR}"
    return [
        {
            "row": method + suffix,
            "path": EVAL.format(dataset=dataset, method=method, seed=seed),
        }
        for dataset, suffix, methods in [
            (own, "", ["nominal", "randmix", "advmix", "resample_nuisance"]),
            (other, f"_{ABLATION_GENERATOR}", config["ablation"]["methods"]),
        ]
        for method in methods
        for seed in SEEDS
    ]


def sweep_runs(wildcards):
    """{swept value: evaluation files}. Each value is a variant dataset (admixlib.variants); the
    split-index sweep reuses the main runs where the split index changes nothing: methods that do
    not mix styles, and the dataset's own k."""
    runs = {}
    own_k = str(dataset_cfg(wildcards)["mixing"]["split_index"])
    for value in SWEEP_VALUES[wildcards.sweep]:
        paths = []
        for method in SWEEPS["methods"]:
            main = wildcards.sweep == "split_index" and (
                method not in MIXING_METHODS or value == own_k
            )
            name = (
                wildcards.dataset
                if main
                else sweep_name(wildcards.dataset, wildcards.sweep, value)
            )
            paths += expand(EVAL, dataset=name, method=method, seed=SEEDS)
        runs[value] = paths
    return runs


def tuning_runs(wildcards):
    """Every setting of every tuning grid: dicts with ``method``, ``setting`` (the overrides) and
    ``val`` (its val.json path)."""
    return [
        {
            "method": method,
            "setting": setting,
            "val": TUNE_VAL.format(dataset=wildcards.dataset, method=method, setting=i),
        }
        for method in config["tuning"]["methods"]
        for i, setting in enumerate(config["tuning"]["grids"][method])
    ]


def method_cfg(wildcards):
    """The method's config block, with the dataset's own values (datasets.<name>.methods) over it."""
    own = dataset_cfg(wildcards).get("methods", {}).get(wildcards.method, {})
    return {**config["methods"][wildcards.method], **own}


def tuned_method_cfg(wildcards):
    """The method's config block with one grid setting's overrides."""
    setting = config["tuning"]["grids"][wildcards.method][int(wildcards.setting)]
    return {**method_cfg(wildcards), **setting}


def gan_seed_variants(wildcards):
    """The dataset and its GAN-seed variants: GANs from seeds data.seed + 0 .. gan_seeds.n_gans - 1."""
    return [
        gan_seed_name(wildcards.dataset, i)
        for i in range(config["gan_seeds"]["n_gans"])
    ]


def gan_seed_runs(wildcards):
    """Every evaluation of the GAN-seed table: dicts with ``gan_seed`` and ``path``."""
    return [
        {
            "gan_seed": gan_seed(config, name),
            "path": EVAL.format(dataset=name, method=method, seed=seed),
        }
        for name in gan_seed_variants(wildcards)
        for method in config["gan_seeds"]["methods"]
        for seed in SEEDS
    ]


def gan_seed_generators(wildcards):
    """{GAN seed: generator.json} of the dataset and its GAN-seed variants."""
    return {
        gan_seed(config, name): GENERATOR_METRICS.format(dataset=name)
        for name in gan_seed_variants(wildcards)
    }


def with_sidecars(patterns):
    """Each table or figure pattern and its provenance sidecar, so targets ask for both."""
    return [path for pattern in patterns for path in (pattern, sidecar(pattern))]


def table_targets():
    return expand(TABLE, dataset=DATASETS, ext=TABLE_EXTS) + expand(
        sidecar(TABLE), dataset=DATASETS
    )


def figure_targets():
    figures = [MIXING_GRID, DISENTANGLEMENT_FIGURE]
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
    )


def measured_extras(wildcards):
    """The optional tables (tuning, GAN seeds, ablation, sweeps) already in the results folder: the
    page renders what exists and names the target of what does not."""
    patterns = [
        TUNING_TABLE,
        GAN_SEEDS_TABLE,
        GAN_SEEDS_GENERATORS,
        ABLATION_TABLE,
        ABLATION_GENERATORS,
    ]
    paths = [p.format(dataset=d) for p in patterns for d in DATASETS]
    paths += [
        SWEEP_TABLE.format(dataset=d, sweep=s)
        for d in DATASETS
        for s in ("bias", "split_index")
    ]
    return [p for p in paths if Path(p).is_file()]

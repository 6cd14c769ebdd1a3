"""The Snakemake workflow: lint, dry run of every stage, and the whole DAG on config/test.yaml."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
STAGES = [
    "make_dataset", "make_oracle_split", "train_oracle", "disentanglement", "train_stylegan", "train_encoder", "invert", "gather_codes", "inversion_report", "train_classifier",
    "consistency_variations", "evaluate", "table", "figure_mixing", "figure1", "make_pool_split", "invert_pool", "bias_subset", "sweep_run",
    "sweep_table",
]  # fmt: skip
GPU_RULES = {
    "train_oracle", "channel_map", "disentanglement", "train_stylegan", "train_encoder", "invert", "inversion_report", "invert_pool",
    "train_classifier", "consistency_variations", "evaluate", "sweep_run", "figure_mixing", "figure1",
}  # fmt: skip


def snakemake(*args, workdir: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    cmd = [*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_lint_is_clean(tmp_path):
    result = snakemake("--lint", workdir=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dry_run_lists_every_stage(tmp_path):
    result = snakemake("-n", "all", "--cores", "8", "--resources", "gpu=2", workdir=tmp_path)
    assert result.returncode == 0, result.stderr
    for stage in STAGES:
        assert f"rule {stage}:" in result.stdout, stage


@pytest.mark.parametrize("name", ["celeba.yaml", "mnist.yaml"])
def test_paper_scale_dry_run_tags_gpu_rules(tmp_path, name):
    args = ["-n", "all", "--cores", "8", "--resources", "gpu=2", "--configfile", str(ROOT / "config" / name)]
    result = snakemake(*args, workdir=tmp_path)
    assert result.returncode == 0, result.stderr
    jobs = result.stdout.split("rule ")[1:]
    assert any(job.startswith("download_dataset:") for job in jobs)
    for job in jobs:
        rule = job.split(":", 1)[0]
        resources = next((line for line in job.splitlines() if "resources:" in line), "")
        assert ("gpu=1" in resources) == (rule in GPU_RULES), (rule, resources)


@pytest.mark.parametrize(
    ("target", "last_rule"),
    [("table_faces", "table"), ("figure1_colored_digits", "figure1"), ("mixing_grid_faces", "figure_mixing")],
)
def test_named_targets_build_one_output(tmp_path, target, last_rule):
    result = snakemake("-n", target, "--cores", "2", workdir=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"rule {last_rule}:" in result.stdout
    assert "rule all:" not in result.stdout


def test_bad_config_fails_before_any_job(tmp_path):
    result = snakemake("-n", "all", "--cores", "1", "--config", "device=tpu", workdir=tmp_path)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "device" in output and "tpu" in output
    assert not (tmp_path / "results").exists()


@pytest.mark.integration
def test_whole_dag_on_test_config(tmp_path):
    args = ["all", "--cores", "2", "--resources", "gpu=2", "--configfile", str(ROOT / "config" / "test.yaml")]
    result = snakemake(*args, workdir=tmp_path)
    assert result.returncode == 0, result.stderr[-5000:]
    results = tmp_path / "results"
    for dataset in ("colored_digits", "faces"):
        tidy = pd.read_csv(results / "tables" / f"{dataset}.csv")
        assert set(tidy.method) == {
            "nominal",
            "linf_pgd",
            "autoaugment",
            "colorjitter",
            "randmix",
            "advmix",
            "advmix_fast",
        }
        assert {
            "clean_acc",
            "worst_group_acc",
            "advmix_attack_acc",
            "linf_attack_acc",
            "consistency",
            "rel_error_reduction",
        } <= set(tidy.metric)
        acc = tidy[tidy.metric != "rel_error_reduction"]["mean"]
        assert acc.between(0, 1).all()
        for ext in ("md", "tex"):
            assert (results / "tables" / f"{dataset}.{ext}").stat().st_size > 0
        for figure in ("mixing_grid", "figure1"):
            assert (results / "figures" / f"{dataset}_{figure}.png").stat().st_size > 0
        for sidecar in (
            f"tables/{dataset}",
            f"figures/{dataset}_figure1",
            f"figures/{dataset}_disentanglement",
        ):
            provenance = json.loads((results / f"{sidecar}.provenance.json").read_text())
            assert provenance["seeds"]["run"] == [0] and provenance["wall_seconds"] > 0
            assert {"git", "config_hash", "packages", "job"} <= set(provenance)
        inversion = json.loads((results / "metrics" / dataset / "inversion.json").read_text())
        assert {"psnr_test", "label_agreement", "speedup_vs_optimisation"} <= set(inversion)
        assert 0 <= inversion["label_agreement"] <= 1 and inversion["speedup_vs_optimisation"] > 0
        generator = json.loads((results / "metrics" / dataset / "generator.json").read_text())
        assert {"split_index", "label_kept", "nuisance_moved", "marginal_gap_max"} <= set(generator)
        assert generator["oracle_feature_distance"] >= 0 and generator["fid"] is None
        gan_stats = [json.loads(line) for line in (results / dataset / "stylegan" / "stats.jsonl").open()]
        assert gan_stats and not any(key.startswith("oracle") for row in gan_stats for key in row)
        assert 0 <= generator["marginal_gap_max"] <= 1 and generator["nuisance_moved"]
        assert generator["marginal_samples"] == 32  # config/test.yaml: analysis.marginal_samples
        shares = next(iter(generator["marginals"].values()))
        assert set(shares) == {"samples", "training images"}
        assert sum(shares["training images"].values()) == pytest.approx(1.0)
        disentanglement = pd.read_csv(results / dataset / "disentanglement" / "map.csv")
        assert set(disentanglement["mode"]) == {"layer", "from"}
        assert (results / "figures" / f"{dataset}_disentanglement.png").stat().st_size > 0
        channels = pd.read_csv(results / dataset / "disentanglement" / "channels.csv")
        assert set(channels["factor"]) == set(generator["marginals"]) and channels["layer"].min() == 0
    assert any((tmp_path / "logs" / "train_stylegan").iterdir())
    assert any((results / "benchmarks" / "rules" / "evaluate").iterdir())
    report = snakemake(*args, "--report", "report.html", workdir=tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    html = (tmp_path / "report.html").read_text()
    for caption in ("Results on faces, one row per", "Figure-1-style panel for faces", "sweep on faces"):
        assert caption in html, f"the report lacks the caption {caption!r}"


def _upstream_rules(rulegraph: str, targets: set[str]) -> set[str]:
    """Rules with a path to any of ``targets`` in a ``--rulegraph`` dot graph."""
    names = dict(re.findall(r'^\s*(\d+)\[label = "([^"]+)"', rulegraph, flags=re.M))
    parents: dict[str, set[str]] = {}
    for src, dst in re.findall(r"^\s*(\d+) -> (\d+)", rulegraph, flags=re.M):
        parents.setdefault(names[dst], set()).add(names[src])
    seen, todo = set(), [t for t in targets if t in parents]
    while todo:
        for parent in parents.get(todo.pop(), ()):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


@pytest.mark.parametrize("configfile", ["config.yaml", "test.yaml"])
def test_no_oracle_upstream_of_any_classifier(tmp_path, configfile):
    args = ["all", "--rulegraph", "dot", "--cores", "1", "--configfile", str(ROOT / "config" / configfile)]
    result = snakemake(*args, workdir=tmp_path)
    assert result.returncode == 0, result.stderr
    upstream = _upstream_rules(result.stdout, {"train_classifier", "sweep_run"})
    assert {"make_dataset", "train_stylegan", "gather_codes"} <= upstream  # the graph was read
    assert not upstream & {"make_oracle_split", "train_oracle", "disentanglement", "channel_map"}

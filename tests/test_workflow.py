"""The Snakemake workflow: lint, dry run of every stage, and the whole DAG on config/test.yaml."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from snakemake.utils import update_config

from admixlib.report import METRICS

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
TEST_CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
update_config(
    TEST_CONFIG, yaml.safe_load((ROOT / "config" / "test.yaml").read_text())
)  # as --configfile does
STAGES = [
    "make_dataset", "make_oracle_split", "train_oracle", "disentanglement", "train_stylegan", "train_encoder", "invert", "gather_codes", "inversion_report", "train_classifier",
    "consistency_variations", "evaluate", "table", "figure_mixing", "figure1", "make_pool_split", "invert_pool", "bias_subset",
    "sweep_table",
]  # fmt: skip
GPU_RULES = {
    "train_oracle", "disentanglement", "train_stylegan", "train_encoder", "invert", "inversion_report", "invert_pool",
    "train_classifier", "tune_classifier", "consistency_variations", "evaluate", "figure_mixing", "figure1",
}  # fmt: skip


def snakemake(*args, workdir: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    cmd = [*SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_lint_is_clean(tmp_path):
    result = snakemake("--lint", workdir=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dry_run_lists_every_stage(tmp_path):
    result = snakemake("-n", "all", "sweeps", "--cores", "8", "--resources", "gpu=2", workdir=tmp_path)
    assert result.returncode == 0, result.stderr
    for stage in STAGES:
        assert f"rule {stage}:" in result.stdout, stage


def test_all_builds_the_headline_only(tmp_path):
    result = snakemake("-n", "all", "--cores", "8", "--resources", "gpu=2", workdir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "rule table:" in result.stdout and "rule figure1:" in result.stdout
    for extra in ("bias_subset", "sweep_table", "tune_classifier", "gan_seeds_table", "ablation_table"):
        assert f"rule {extra}:" not in result.stdout, extra


@pytest.mark.parametrize("name", ["celeba.yaml", "mnist.yaml", "real_digits.yaml"])
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
    args = ["all", "sweeps", "tune_methods", "gan_seeds", "ablation", "--cores", "2", "--resources", "gpu=2"]
    args += ["--configfile", str(ROOT / "config" / "test.yaml")]
    result = snakemake(*args, workdir=tmp_path)
    assert result.returncode == 0, result.stderr[-5000:]
    results = tmp_path / "results"
    for dataset in ("colored_digits", "faces"):
        tidy = pd.read_csv(results / "tables" / f"{dataset}.csv")
        assert tidy.method.unique().tolist() == TEST_CONFIG["run"]["methods"]
        assert set(METRICS) <= set(tidy.metric)
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
    tuning = pd.read_csv(results / "tables" / "colored_digits_tuning.csv")  # config/test.yaml's grids
    assert list(tuning.columns) == ["method", "setting", "val_clean_acc", "val_worst_group_acc", "chosen"]
    assert tuning.groupby("method")["chosen"].sum().to_dict() == {"advmix": 1, "colorjitter": 1}
    assert tuning["setting"].tolist()[:2] == ["lam=0.5 hue=0.1", "lam=0.2 hue=0.5"]
    gan_seeds = pd.read_csv(results / "tables" / "colored_digits_gan_seeds.csv")  # n_gans: 2, seeds: [0]
    assert set(gan_seeds["gan_seed"].astype(str)) == {"0", "1", "all"}
    pooled = gan_seeds[(gan_seeds["gan_seed"].astype(str) == "all") & (gan_seeds["metric"] == "clean_acc")]
    assert set(pooled["method"]) == {"nominal", "advmix"} and (pooled["n_seeds"] == 2).all()
    generators = pd.read_csv(results / "tables" / "colored_digits_gan_seeds_generator.csv")
    assert generators["gan_seed"].tolist() == [0, 1]  # label_kept may be NaN: no label-differing pair
    assert (generators["label_kept"].isna() | generators["label_kept"].between(0, 1)).all()
    ablation = pd.read_csv(results / "tables" / "colored_digits_ablation.csv")
    assert set(ablation["method"]) == {"nominal", "randmix", "advmix", "resample_nuisance", "advmix_generic"}
    generic = json.loads((results / "metrics" / "colored_digits-generic" / "generator.json").read_text())
    assert generic["split_index"] == 3  # ablation.generator.mixing
    assert any((tmp_path / "logs" / "train_stylegan").iterdir())
    assert any((results / "benchmarks" / "rules" / "evaluate").iterdir())
    report = snakemake(*args, "--report", "report.html", workdir=tmp_path)
    assert report.returncode == 0, report.stderr[-3000:]
    html = (tmp_path / "report.html").read_text()
    for caption in ("Results on faces, one row per", "Figure-1-style panel for faces", "sweep on faces"):
        assert caption in html, f"the report lacks the caption {caption!r}"
    rendered = snakemake("results_md", "--cores", "1", *args[-2:], workdir=tmp_path)
    assert rendered.returncode == 0, rendered.stderr[-3000:]
    doc = (tmp_path / "docs" / "results.md").read_text()
    digits, faces = doc.split("## colored_digits")[1].split("## faces")
    assert (
        "### Targets" in digits and "| unbiased-test error at least 21% lower, interval above 0 |" in digits
    )
    assert "### GAN seeds" in digits and "`gan_seed` all:" in digits  # the table built above
    assert "(`snakemake gan_seeds` builds `faces_gan_seeds.csv`)" in faces  # not built for faces
    assert "| total |" in doc  # the cost table from the benchmark files


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
    config = ["--configfile", str(ROOT / "config" / configfile)]
    args = [
        "all",
        "sweeps",
        "tune_methods",
        "gan_seeds",
        "ablation",
        "--rulegraph",
        "dot",
        "--cores",
        "1",
        *config,
    ]
    result = snakemake(*args, workdir=tmp_path)
    assert result.returncode == 0, result.stderr
    upstream = _upstream_rules(result.stdout, {"train_classifier", "tune_classifier"})
    assert {"make_dataset", "train_stylegan", "gather_codes"} <= upstream  # the graph was read
    assert not upstream & {"make_oracle_split", "train_oracle", "disentanglement"}

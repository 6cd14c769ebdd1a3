"""Tidy tables: means, spreads, intervals and the error reduction against nominal."""

import math

import pandas as pd
import pytest

from admixlib.report import summarise_runs, write_tables


def run(method, seed, clean, worst=0.5):
    metrics = {"clean_acc": clean, "worst_group_acc": worst, "advmix_attack_acc": 0.4, "linf_attack_acc": 0.3}
    return {"method": method, "seed": seed, "metrics": metrics}


@pytest.fixture
def runs():
    return [run("nominal", s, c) for s, c in enumerate([0.8, 0.7, 0.9])] + [
        run("advmix", s, c) for s, c in enumerate([0.9, 0.85, 0.95])
    ]


def test_tidy_columns_and_values(runs):
    tidy = summarise_runs(runs, dataset="faces", methods=["nominal", "advmix"])
    assert list(tidy.columns) == [
        "dataset",
        "method",
        "metric",
        "mean",
        "std",
        "ci95_low",
        "ci95_high",
        "n_seeds",
    ]
    row = tidy[(tidy.method == "advmix") & (tidy.metric == "clean_acc")].iloc[0]
    assert row["mean"] == pytest.approx(0.9)
    assert row["std"] == pytest.approx(0.05)
    assert row["ci95_low"] < row["mean"] < row["ci95_high"]
    assert row["n_seeds"] == 3


def test_error_reduction_is_paired_by_seed(runs):
    tidy = summarise_runs(runs, dataset="faces", methods=["nominal", "advmix"])
    red = tidy[(tidy.method == "advmix") & (tidy.metric == "rel_error_reduction")].iloc[0]
    expected = [1 - 0.1 / 0.2, 1 - 0.15 / 0.3, 1 - 0.05 / 0.1]
    assert red["mean"] == pytest.approx(sum(expected) / 3)
    nominal = tidy[(tidy.method == "nominal") & (tidy.metric == "rel_error_reduction")].iloc[0]
    assert nominal["mean"] == pytest.approx(0.0)


def test_single_seed_has_no_spread():
    tidy = summarise_runs([run("nominal", 0, 0.8)], dataset="d", methods=["nominal"])
    row = tidy[tidy.metric == "clean_acc"].iloc[0]
    assert math.isnan(row["std"]) and row["n_seeds"] == 1


def test_written_tables(tmp_path, runs):
    tidy = summarise_runs(runs, dataset="faces", methods=["nominal", "advmix"])
    paths = {k: tmp_path / f"t.{k}" for k in ("csv", "md", "tex")}
    write_tables(tidy, csv_path=paths["csv"], md_path=paths["md"], tex_path=paths["tex"], caption="faces")
    assert pd.read_csv(paths["csv"]).shape == tidy.shape
    md = paths["md"].read_text()
    assert "| advmix |" in md and "90.0 ± 5.0 [77.6, 100.0*]" in md  # t(2) * 5 / sqrt(3) = 12.4
    tex = paths["tex"].read_text()
    assert r"\begin{tabular}" in tex and r"$\pm$" in tex


def test_undefined_error_reduction_keeps_its_row():
    runs = [run("nominal", 0, 1.0), run("advmix", 0, 1.0)]
    tidy = summarise_runs(runs, dataset="faces", methods=["nominal", "advmix"])
    row = tidy[(tidy.method == "advmix") & (tidy.metric == "rel_error_reduction")].iloc[0]
    assert math.isnan(row["mean"]) and row["n_seeds"] == 0


def test_csv_keeps_the_raw_interval_and_only_the_markdown_clips_and_marks_it(tmp_path):
    runs = [run("nominal", s, c) for s, c in enumerate([1.0, 0.99, 1.0])]
    tidy = summarise_runs(runs, dataset="d", methods=["nominal"])
    row = tidy.query("metric == 'clean_acc'").iloc[0]
    assert row["ci95_low"] < row["mean"] < 1.0 < row["ci95_high"]  # t(2) * 0.0058 / sqrt(3) = 0.014
    paths = {k: tmp_path / f"t.{k}" for k in ("csv", "md", "tex")}
    write_tables(tidy, csv_path=paths["csv"], md_path=paths["md"], tex_path=paths["tex"], caption="d")
    assert pd.read_csv(paths["csv"]).query("metric == 'clean_acc'")["ci95_high"].item() > 1.0
    assert "99.7 ± 0.6 [98.2, 100.0*]" in paths["md"].read_text()

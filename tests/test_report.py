"""Tidy tables: means, spreads, intervals and the error reduction against nominal."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from admixlib.report import crossed_interval, summarise_runs, wide_table, write_tables
from admixlib.report.results_doc import comparison_table, targets_table


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


def test_a_page_rendered_from_the_csv_shows_the_tables_numbers(tmp_path):
    """docs/results.md is rendered from the CSV: a mean just above a rounding tie (70.250000556 %)
    must read 70.3 there as in the Markdown table, not 70.2 from a CSV rounded to 70.25."""
    tidy = summarise_runs(
        [run("nominal", s, 0.70250000556) for s in range(3)], dataset="d", methods=["nominal"]
    )
    paths = {k: tmp_path / f"t.{k}" for k in ("csv", "md", "tex")}
    write_tables(tidy, csv_path=paths["csv"], md_path=paths["md"], tex_path=paths["tex"], caption="d")
    assert wide_table(pd.read_csv(paths["csv"])).loc["nominal", "clean acc"].startswith("70.3 ")
    assert "| 70.3 ± 0.0" in paths["md"].read_text()


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


def _tidy_row(method, metric, mean, low, high):
    return dict(
        dataset="d",
        method=method,
        metric=metric,
        mean=mean,
        std=0.01,
        ci95_low=low,
        ci95_high=high,
        n_seeds=3,
    )


def test_results_page_computes_each_target_and_interval_relation():
    rows = [
        _tidy_row("nominal", "clean_acc", 0.70, 0.68, 0.72),
        _tidy_row("advmix", "clean_acc", 0.90, 0.85, 0.95),
        _tidy_row("randmix", "clean_acc", 0.88, 0.80, 0.96),
        _tidy_row("nominal", "worst_group_acc", 0.10, 0.0, 0.2),
        _tidy_row("advmix", "worst_group_acc", 0.15, 0.05, 0.25),  # higher, but within noise: missed
        _tidy_row("randmix", "worst_group_acc", 0.50, 0.4, 0.6),
        _tidy_row("nominal", "advmix_attack_acc", 0.50, 0.45, 0.55),
        _tidy_row("advmix", "advmix_attack_acc", 0.80, 0.75, 0.85),
        _tidy_row("randmix", "advmix_attack_acc", 0.65, 0.60, 0.70),
        _tidy_row("advmix", "rel_error_reduction", 0.66, 0.5, 1.2),
    ]
    tidy = pd.DataFrame(rows)
    targets = "\n".join(targets_table(tidy))
    assert (
        "| worst group higher, intervals apart | 15.0 [5.0, 25.0] against 10.0 [0.0, 20.0] | **no** |"
        in targets
    )
    assert "| AdvMix attack at least 20 points higher, intervals apart | 80.0 [75.0, 85.0] against" in targets
    assert (
        "| unbiased-test error at least 21% lower, interval above 0 | 66.0 [50.0, 100.0*] | yes |" in targets
    )
    wide = tidy.copy()
    wide.loc[wide["metric"] == "rel_error_reduction", "ci95_low"] = -0.2  # within noise of no reduction
    assert "| 66.0 [-20.0, 100.0*] | **no** |" in "\n".join(targets_table(wide))
    comparison = "\n".join(comparison_table(tidy))
    assert "| randmix | overlap | below | above |" in comparison


def test_crossed_interval_counts_each_factor_once():
    seeds = np.array([0.70, 0.74, 0.78])
    t_half = stats.t.ppf(0.975, 2) * np.std(seeds, ddof=1) / math.sqrt(3)
    # a method that does not use the GAN repeats its models: the classifier seeds' own t-interval
    mean, _, low, high = crossed_interval(np.tile(seeds, (3, 1)))
    assert (low, high) == pytest.approx((mean - t_half, mean + t_half))
    # the GAN draw alone moves the result: the t-interval over the GANs' means, not over 9 pairs
    gans = np.tile(seeds[:, None], (1, 3))
    assert crossed_interval(gans)[2:] == pytest.approx((mean - t_half, mean + t_half))
    assert crossed_interval(seeds[None])[2:] == pytest.approx((mean - t_half, mean + t_half))
    assert crossed_interval(np.full((2, 2), 0.5)) == (0.5, 0.0, 0.5, 0.5)
    _, _, low, high = crossed_interval(np.array([[0.0, 1.0], [1.0, 0.0]]))  # pairs differ only jointly
    assert low < 0.0 and high > 1.0

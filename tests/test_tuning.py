"""Target tune_methods: the chosen setting per method, the table's columns, and the grid checks."""

import copy
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from admixlib.configcheck import ConfigError, check_config
from admixlib.stages.tuning import TUNING_COLUMNS, setting_label, tuning_table, tuning_table_stage

ROOT = Path(__file__).resolve().parent.parent


def row(method, setting, clean, worst):
    return {"method": method, "setting": setting, "val_clean_acc": clean, "val_worst_group_acc": worst}


def test_the_best_val_worst_group_is_chosen_per_method_ties_by_clean_then_order():
    table = tuning_table(
        [
            row("advmix", "a", 0.90, 0.70),
            row("advmix", "b", 0.80, 0.75),  # best worst group
            row("linf_pgd", "a", 0.70, 0.60),
            row("linf_pgd", "b", 0.75, 0.60),  # same worst group, better clean
            row("linf_pgd", "c", 0.75, 0.60),  # a full tie: the earlier one wins
            row("colorjitter", "a", 0.99, None),  # undefined worst group ranks last
            row("colorjitter", "b", 0.50, 0.10),
        ]
    )
    assert list(table.columns) == TUNING_COLUMNS
    chosen = table[table["chosen"]].set_index("method")["setting"].to_dict()
    assert chosen == {"advmix": "b", "linf_pgd": "b", "colorjitter": "b"}


def test_stage_reads_the_val_files_and_labels_settings(tmp_path):
    runs = []
    for i, (clean, worst) in enumerate([(0.9, 0.5), (0.8, 0.6)]):
        path = tmp_path / f"val{i}.json"
        path.write_text(json.dumps({"metrics": {"clean_acc": clean, "worst_group_acc": worst}}))
        runs.append({"method": "randmix", "setting": {"lam": 0.5, "donors": i + 1}, "val": path})
    tuning_table_stage(runs=runs, table_path=tmp_path / "t.csv")
    table = pd.read_csv(tmp_path / "t.csv")
    assert table["setting"].tolist() == ["lam=0.5 donors=1", "lam=0.5 donors=2"]
    assert table["chosen"].tolist() == [False, True]
    assert setting_label({"eps": 0.1, "steps": 3}) == "eps=0.1 steps=3"


@pytest.fixture(scope="module")
def config():
    return yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_default_grids_give_every_method_the_same_budget(config):
    sizes = {len(grid) for grid in config["tuning"]["grids"].values()}
    assert len(sizes) == 1 and 4 <= sizes.pop() <= 6
    tuned = set(config["run"]["methods"]) - {"nominal", "nominal_long"}
    assert set(config["tuning"]["methods"]) == set(config["tuning"]["grids"]) == tuned, (
        "every method of run.methods but the nominal ones is tuned alike: it needs a grid of the same size "
        "under tuning.grids and its name in tuning.methods"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda g: g["advmix"].pop(), "the same number of settings"),
        (lambda g: g["randmix"][0].update(donorz=2), "donorz"),
    ],
)
def test_uneven_or_misspelt_grids_are_rejected(config, change, message):
    bad = copy.deepcopy(config)
    change(bad["tuning"]["grids"])
    with pytest.raises(ConfigError, match=message):
        check_config(bad)

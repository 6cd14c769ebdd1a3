"""Target tune_methods: each method's grid, trained on the training split and scored on val."""

import json
import logging
import math
from pathlib import Path

import pandas as pd

log = logging.getLogger("admix.stages")
TUNING_COLUMNS = ["method", "setting", "val_clean_acc", "val_worst_group_acc", "chosen"]


def setting_label(setting: dict) -> str:
    """A grid setting as ``key=value`` pairs in the grid's order, e.g. ``"lam=0.5 eps=0.0039"``."""
    return " ".join(f"{key}={value}" for key, value in setting.items())


def tuning_table(rows: list[dict]) -> pd.DataFrame:
    """One row per (method, setting) with ``TUNING_COLUMNS``; per method, ``chosen`` marks the setting
    with the highest val worst-group accuracy (ties: higher val clean accuracy, then the earlier
    setting). An undefined worst group (no group large enough) ranks last.

    ``rows``: dicts with ``method``, ``setting`` (the label), ``val_clean_acc`` and
    ``val_worst_group_acc`` (None or NaN when undefined), in grid order per method.
    """
    table = pd.DataFrame(rows, columns=TUNING_COLUMNS[:-1])
    worst = table["val_worst_group_acc"].astype(float).fillna(-math.inf)
    table["chosen"] = False
    for _, group in table.groupby("method", sort=False):
        order = sorted(group.index, key=lambda i: (-worst[i], -table.at[i, "val_clean_acc"], i))
        table.loc[order[0], "chosen"] = True
    return table


def tuning_table_stage(*, runs: list[dict], table_path) -> pd.DataFrame:
    """Read every tuning run's val scores (``runs``: dicts with ``method``, ``setting`` (dict) and
    ``val`` (a ``val.json`` path from rule tune_classifier)) and write :func:`tuning_table` as CSV."""
    rows = []
    for run in runs:
        metrics = json.loads(Path(run["val"]).read_text())["metrics"]
        rows.append(
            {
                "method": run["method"],
                "setting": setting_label(run["setting"]),
                "val_clean_acc": metrics["clean_acc"],
                "val_worst_group_acc": metrics["worst_group_acc"],
            }
        )
    table = tuning_table(rows)
    Path(table_path).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(table_path, index=False, float_format="%.4f")
    for row in table[table["chosen"]].itertuples():
        log.info("%s: chose %s (val worst group %s)", row.method, row.setting, row.val_worst_group_acc)
    return table

"""Rules of the two sweeps: bias_subset and sweep_table (invert_pool is in ``stages.inversion``).

The bias sweep trains on subsets of one unbiased, inverted ``pool`` split, each drawn with a given
label/spurious agreement; the split-index ablation trains on the main training split with another
``k``. Both train and evaluate through the same stages as the main table (``stages.classifier``).
"""

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from admixlib.data import factors_path_for, load_split, save_split, split_seed, subsample_with_bias
from admixlib.perturb.augment import to_uint8
from admixlib.report import plot_sweep, summarise_runs
from admixlib.report.tables import write_tidy
from admixlib.runtime import save_atomic
from admixlib.stages.codes import load_codes

log = logging.getLogger("admix.stages")


def bias_subset_stage(
    *, pool_path, pool_codes_path, bias: float, n_train: int, seed: int, split_path, codes_path
) -> dict:
    """Draw a training set of ``n_train`` pool images whose spurious factor agrees with the label
    with probability ``bias`` (balanced labels); write it and its codes. The draw depends only on
    ``seed`` and ``bias``, so every method and classifier seed of the sweep trains on the same set."""
    pool, codes = load_split(pool_path), load_codes(pool_codes_path)
    label, spurious = pool.meta["label_name"], pool.meta["spurious_factor"]
    if spurious is None:
        raise ValueError(f"{pool_path} has no spurious factor: the bias sweep needs data.spurious_factor")
    rng = np.random.default_rng(split_seed(seed, f"bias{bias}"))
    rows = subsample_with_bias(
        pool.factors[label].to_numpy(), pool.factors[spurious].to_numpy(), n=n_train, bias=bias, rng=rng
    )
    index = torch.from_numpy(rows)
    factors = pool.factors.iloc[rows].reset_index(drop=True)
    agreement = float((factors[label] == factors[spurious]).mean())
    meta = {**pool.meta, "split": "train", "bias": bias, "agreement": agreement, "pool_rows": rows.tolist()}
    images = to_uint8(pool.images[index])
    save_split(
        split_path,
        factors_path_for(split_path),
        images=images,
        labels=pool.labels[index],
        factors=factors,
        meta=meta,
    )
    subset = {"ws": codes.ws[index], "recon": codes.recon[index].half(), "psnr": codes.psnr[index]}
    save_atomic(
        {**subset, "meta": {"split": "train", "bias": bias, "from": str(pool_codes_path)}}, codes_path
    )
    log.info("bias %.3f: %d images, agreement %.3f", bias, len(rows), agreement)
    return {"n": len(rows), "agreement": agreement}


def sweep_table_stage(
    *, dataset: str, swept: str, runs: dict, methods: list[str], csv_path, figure_path, caption: str
) -> pd.DataFrame:
    """Summarise a sweep into a tidy CSV (the main table's columns plus ``swept``, the swept
    setting's name) and a figure. ``runs``: ``{value: [evaluation JSON paths]}``, one per (method,
    seed) at that value; ``methods``: the rows, in order."""
    frames = []
    for value, paths in runs.items():
        evals = [json.loads(Path(p).read_text()) for p in paths]
        present = [m for m in methods if any(e["method"] == m for e in evals)]
        frames.append(summarise_runs(evals, dataset=dataset, methods=present).assign(**{swept: value}))
    tidy = pd.concat(frames, ignore_index=True)
    write_tidy(tidy, csv_path)
    plot_sweep(tidy, swept=swept, path=figure_path, title=caption)
    return tidy

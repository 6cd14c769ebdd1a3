"""Rules of the two sweeps: invert_pool, bias_subset and sweep_table.

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

from admixlib.data import load_split, save_split, split_seed, subsample_with_bias
from admixlib.inversion import invert_images, load_encoder, psnr
from admixlib.report import plot_sweep, summarise_runs
from admixlib.runtime import resolve_device, save_atomic
from admixlib.stages.codes import load_codes
from admixlib.stylegan import load_generator

log = logging.getLogger("admix.stages")


def invert_split_stage(*, split_path, generator_path, encoder_path, codes_path, cfg: dict, device) -> None:
    """Invert every image of one split (encoder + ``cfg["refine_steps"]`` refinement steps) and save
    its codes file (``ws``, ``recon``, ``psnr``, ``meta``) as ``gather_codes`` does for the main splits."""
    device = resolve_device(device)
    split = load_split(split_path)
    G = load_generator(generator_path, map_location=device)
    E = load_encoder(encoder_path, map_location=device)
    ws, recon = invert_images(
        G,
        E,
        split.images,
        refine_steps=cfg["refine_steps"],
        refine_lr=cfg["refine_lr"],
        batch_size=cfg["batch_size"],
        device=device,
    )
    recon = recon.cpu()
    quality = psnr(split.images, recon)
    meta = {"split": split.meta["split"], "refine_steps": cfg["refine_steps"]}
    save_atomic({"ws": ws.cpu(), "recon": recon.half(), "psnr": quality, "meta": meta}, codes_path)
    log.info("inverted %d images of %s: PSNR %.2f dB", len(split), split_path, float(quality.mean()))


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
    images = ((pool.images[index] + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
    csv_path = Path(split_path).with_name(f"{Path(split_path).stem}_factors.csv")
    save_split(split_path, csv_path, images=images, labels=pool.labels[index], factors=factors, meta=meta)
    subset = {"ws": codes.ws[index], "recon": codes.recon[index].half(), "psnr": codes.psnr[index]}
    save_atomic(
        {**subset, "meta": {"split": "train", "bias": bias, "from": str(pool_codes_path)}}, codes_path
    )
    log.info("bias %.3f: %d images, agreement %.3f", bias, len(rows), agreement)
    return {"n": len(rows), "agreement": agreement}


def sweep_table_stage(
    *, dataset: str, swept: str, runs: dict, methods: list[str], csv_path, figure_path, caption: str
) -> pd.DataFrame:
    """Summarise a sweep into a tidy CSV (the main table's columns plus ``swept``) and a figure.

    Args:
        swept: name of the swept setting (``bias`` or ``split_index``), the new column.
        runs: ``{value: [evaluation JSON paths]}``, one file per (method, seed) at that value.
        methods: table rows, in order.
    """
    frames = []
    for value, paths in runs.items():
        evals = [json.loads(Path(p).read_text()) for p in paths]
        present = [m for m in methods if any(e["method"] == m for e in evals)]
        frames.append(summarise_runs(evals, dataset=dataset, methods=present).assign(**{swept: value}))
    tidy = pd.concat(frames, ignore_index=True)
    Path(csv_path).parent.mkdir(parents=True, exist_ok=True)
    tidy.to_csv(csv_path, index=False, float_format="%.6g")
    plot_sweep(tidy, swept=swept, path=figure_path, title=caption)
    return tidy

"""Rules train_oracle and disentanglement: measure what the generator's styles carry."""

import logging
import math

import torch

from admixlib.analysis import (
    disentanglement_map,
    factor_shares,
    load_oracle,
    marginal_gap,
    mixing_scores,
    pair_balanced_accuracy,
    plot_map,
    read_factors,
    readings_accuracy,
    sample_pairs,
    save_oracle,
    train_oracle,
)
from admixlib.analysis.fidelity import generator_samples, inception_fid, oracle_feature_distance
from admixlib.data import load_split
from admixlib.runtime import resolve_device, torch_generator
from admixlib.stages.codes import load_codes
from admixlib.stages.jsonio import write_json
from admixlib.stylegan import load_generator

log = logging.getLogger("admix.stages")
SEED = 0  # of the disentanglement stage's pairs and samples


def train_oracle_stage(
    *, oracle_split_path, val_path, oracle_path, metrics_path, cfg: dict, device, seed: int
):
    """Train the factor oracle on the oracle split (all factors independent); score it on val."""
    device = resolve_device(device)
    data, val = load_split(oracle_split_path), load_split(val_path)
    names = list(data.meta["factor_names"])
    oracle = train_oracle(
        images=data.images, factors=data.factors, factor_names=names, steps=cfg["steps"],
        batch_size=cfg["batch_size"], lr=cfg["lr"], width=cfg["width"], device=device, seed=seed,
    )  # fmt: skip
    save_oracle(oracle, oracle_path)
    readings = read_factors(oracle, val.images, device=device)  # read once, scored two ways
    accuracy = readings_accuracy(readings, val.factors, names)
    balanced = pair_balanced_accuracy(readings, val.factors, names)
    write_json(
        {"split": "val", "accuracy": accuracy, "pair_balanced_accuracy": balanced, "factor_names": names},
        metrics_path,
    )
    log.info("oracle val accuracy: %s; balanced over each pair of factors, at worst: %s", accuracy, balanced)


def sample_quality(G, oracle, real: torch.Tensor, *, n: int, inception_weights, seed: int, device) -> dict:
    """``oracle_feature_distance`` of ``n`` samples to ``n`` training images, and ``fid`` (torch-fidelity,
    Inception) when ``inception_weights`` names a file; ``fid`` is null otherwise."""
    real = real[torch.randperm(len(real), generator=torch_generator(seed + 2))[:n]]
    fake = generator_samples(G, len(real), seed=seed + 3)
    quality = {
        "oracle_feature_distance": oracle_feature_distance(oracle, real, fake, device=device),
        "quality_samples": len(real),
        "fid": None,
    }
    if inception_weights is not None:
        quality["fid"] = inception_fid(real, fake, weights_path=inception_weights, device=device)
    return quality


def spurious_verdict(factor: str | None, samples: dict, inputs: dict, split_index: int) -> dict | None:
    """Whether mixing at ``split_index`` moves the training set's spurious ``factor`` (from two
    :func:`~admixlib.analysis.mixing_scores` results): ``{name, moved_on_samples, moved_on_training_inputs,
    mixing_moves_it, note}``, where it counts as moved in at least half of the inverted training pairs.
    None without a spurious factor (or when it is the label); logs a warning when it is not moved."""
    if factor is None or factor not in inputs["nuisance_moved"]:
        return None
    moved = inputs["nuisance_moved"][factor]
    verdict = {
        "name": factor,
        "moved_on_samples": samples["nuisance_moved"].get(factor),
        "moved_on_training_inputs": moved,
        "mixing_moves_it": None if math.isnan(moved) else bool(moved >= 0.5),
        "note": "moved: share of inverted training pairs whose mixed image takes the donor's value; "
        "moves it: at least half (null: no pair's source and donor differ in it, as the oracle reads them)",
    }
    if verdict["mixing_moves_it"] is None:
        log.warning("no training pair differs in the spurious factor %s as the oracle reads it: "
                    "whether mixing moves it is unknown", factor)  # fmt: skip
    elif not verdict["mixing_moves_it"]:
        log.warning(
            "mixing styles %d and up moves the spurious factor %s in only %.2f of training pairs: AdvMix "
            "cannot remove this bias at this split; read the disentanglement map and set mixing.split_index "
            "or choose another spurious factor",
            split_index, factor, moved,
        )  # fmt: skip
    return verdict


def disentanglement_stage(
    *,
    generator_path,
    oracle_path,
    train_path,
    train_codes_path,
    map_path,
    figure_path,
    metrics_path,
    split_index: int,
    add_residual: bool,
    n_pairs: int,
    fid_samples: int,
    marginal_samples: int,
    inception_weights=None,
    device,
) -> dict:
    """Per-layer map of which oracle factors move with which styles, and the fine-mixing scores at
    ``split_index`` on generator samples and on the inputs AdvMix trains on (inverted training
    images). The oracle marginals and their gap are read on ``marginal_samples`` separate samples: on
    the ``n_pairs`` sources alone, sampling noise would be about as large as the gap's target."""
    device = resolve_device(device)
    G = load_generator(generator_path, map_location=device)
    oracle = load_oracle(oracle_path, map_location=device)
    train, codes = load_split(train_path), load_codes(train_codes_path)
    names, label = list(train.meta["factor_names"]), train.meta["label_name"]
    common = {"factor_names": names, "label_name": label, "device": device}
    source, donor = sample_pairs(G, n_pairs, seed=SEED)
    table = disentanglement_map(G, oracle, source_ws=source, donor_ws=donor, **common)
    table.to_csv(map_path, index=False, float_format="%.4f")
    plot_map(
        table,
        figure_path,
        title=f"share of pairs where a factor follows the donor's styles (k = {split_index})",
    )
    samples = mixing_scores(G, oracle, split_index=split_index, source_ws=source, donor_ws=donor, **common)

    pick = torch.randperm(len(codes.ws), generator=torch_generator(SEED + 1))[: 2 * n_pairs]
    src, don = pick[: len(pick) // 2], pick[len(pick) // 2 :]
    residuals = codes.residuals(train.images)[src] if add_residual else None
    real = mixing_scores(
        G, oracle, split_index=split_index, source_ws=codes.ws[src], donor_ws=codes.ws[don],
        source_residuals=residuals, **common,
    )  # fmt: skip
    rendered = generator_samples(G, marginal_samples, seed=SEED + 4)
    readings = {
        "samples": read_factors(oracle, rendered, device=device),
        "training images": read_factors(oracle, train.images, device=device),
    }
    gap = marginal_gap(readings["samples"], readings["training images"], names)
    marginals = {f: {on: factor_shares(r, f) for on, r in readings.items()} for f in names}
    quality = sample_quality(
        G, oracle, train.images, n=fid_samples, inception_weights=inception_weights, seed=SEED, device=device
    )
    metrics = {
        "split_index": split_index,
        "label_kept": samples["label_kept"],
        "nuisance_moved": samples["nuisance_moved"],
        "marginal_gap_max": gap,
        "marginals": marginals,
        "marginal_samples": marginal_samples,
        "n_pairs": samples["n_pairs"],
        "measured_on": "generator samples (source and donor drawn from the mapping network)",
        "training_inputs": {**real, "measured_on": "inverted training images, donors from the training set"},
        "add_residual": add_residual,
        "spurious_factor": spurious_verdict(train.meta.get("spurious_factor"), samples, real, split_index),
        **quality,
    }
    write_json(metrics, metrics_path)
    log.info("generator metrics: %s", metrics)
    return metrics

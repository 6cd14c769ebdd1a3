"""Choosing one of several GANs trained alike but for the seed, by how close each comes to the
sample-side targets (label kept, every nuisance moved, marginal gap), scored on fresh samples."""

import math

import torch
from torch import nn

from admixlib.analysis.disentangle import marginal_gap, mixing_scores, sample_pairs
from admixlib.analysis.fidelity import generator_samples
from admixlib.analysis.oracle import FactorOracle, read_factors


def sample_side_scores(
    G: nn.Module,
    oracle: FactorOracle,
    train_images: torch.Tensor,
    *,
    factor_names: list[str],
    label_name: str,
    split_index: int,
    n_pairs: int,
    marginal_samples: int,
    seed: int,
    device: str | torch.device = "cpu",
) -> dict:
    """Whole-style mixing at ``split_index`` on ``n_pairs`` sample pairs drawn from ``seed``, and the
    marginal gap between ``marginal_samples`` samples (drawn from ``seed + 1``) and ``train_images``
    (``[N, 3, H, W]`` in ``[-1, 1]``), as the oracle reads them.

    Returns ``label_kept``, ``moved_{factor}`` for every nuisance, ``marginal_gap_max`` and
    ``gap_{factor}`` for every factor (shares in ``[0, 1]``).
    """
    source, donor = sample_pairs(G, n_pairs, seed=seed)
    mixing = mixing_scores(
        G,
        oracle,
        split_index=split_index,
        source_ws=source,
        donor_ws=donor,
        factor_names=factor_names,
        label_name=label_name,
        device=device,
    )
    data = read_factors(oracle, train_images, device=device)
    samples = read_factors(oracle, generator_samples(G, marginal_samples, seed=seed + 1), device=device)
    return {
        "label_kept": mixing["label_kept"],
        **{f"moved_{f}": share for f, share in mixing["nuisance_moved"].items()},
        "marginal_gap_max": marginal_gap(samples, data, factor_names),
        **{f"gap_{f}": marginal_gap(samples, data, [f]) for f in factor_names},
    }


def worst_margin(scores: dict, *, label_kept: float, nuisance_moved: float, marginal_gap: float) -> float:
    """The smallest of (score - target) over the targets of :func:`sample_side_scores`' ``scores``
    (for the gap: target - gap): >= 0 when every target is met, else the largest shortfall, negated.
    A share over no pairs (NaN: the samples never differ in that factor) counts as 0."""

    def share(value: float) -> float:
        return 0.0 if math.isnan(value) else value

    moved = [share(v) - nuisance_moved for k, v in scores.items() if k.startswith("moved_")]
    return min([share(scores["label_kept"]) - label_kept, marginal_gap - scores["marginal_gap_max"], *moved])

"""Analysis tools: a factor oracle and the disentanglement map / mixing scores it makes possible."""

from admixlib.analysis.disentangle import (
    disentanglement_map,
    factor_shares,
    marginal_gap,
    mixing_scores,
    plot_map,
    sample_pairs,
)
from admixlib.analysis.oracle import (
    load_oracle,
    pair_balanced_accuracy,
    read_factors,
    readings_accuracy,
    save_oracle,
    train_oracle,
)

__all__ = [
    "disentanglement_map",
    "factor_shares",
    "load_oracle",
    "marginal_gap",
    "mixing_scores",
    "pair_balanced_accuracy",
    "plot_map",
    "read_factors",
    "readings_accuracy",
    "sample_pairs",
    "save_oracle",
    "train_oracle",
]

"""Analysis tools: a factor oracle and the disentanglement map / mixing scores it makes possible."""

from admixlib.analysis.disentangle import disentanglement_map, marginal_gap, mixing_scores, plot_map
from admixlib.analysis.oracle import (
    FactorOracle,
    load_oracle,
    oracle_accuracy,
    read_factors,
    save_oracle,
    train_oracle,
)

__all__ = [
    "FactorOracle",
    "disentanglement_map",
    "load_oracle",
    "marginal_gap",
    "mixing_scores",
    "oracle_accuracy",
    "plot_map",
    "read_factors",
    "save_oracle",
    "train_oracle",
]

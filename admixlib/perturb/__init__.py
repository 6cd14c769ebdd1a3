"""Perturbation sets (l_inf ball, AutoAugment, RandMix/AdvMix style mixing) and the worst-case search."""

from admixlib.perturb.attack import find_worst_case, per_example_loss
from admixlib.perturb.augment import AutoAugmentSet
from admixlib.perturb.base import Batch, Perturbation, PerturbationSet
from admixlib.perturb.linf import LinfBall
from admixlib.perturb.mixing import StyleMixSet, mix_styles, project_capped_simplex, random_coefficients

__all__ = [
    "AutoAugmentSet",
    "Batch",
    "LinfBall",
    "Perturbation",
    "PerturbationSet",
    "StyleMixSet",
    "find_worst_case",
    "mix_styles",
    "per_example_loss",
    "project_capped_simplex",
    "random_coefficients",
]

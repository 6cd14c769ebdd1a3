"""Perturbation sets (l_inf ball, AutoAugment, ColorJitter, RandMix/AdvMix style mixing) and the worst-case search."""

from admixlib.perturb.attack import find_worst_case
from admixlib.perturb.augment import autoaugment_set, colorjitter_set
from admixlib.perturb.base import Batch, Perturbation, PerturbationSet
from admixlib.perturb.linf import LinfBall
from admixlib.perturb.mixing import (
    StyleMixSet,
    fine_style_variations,
    mix_styles,
    project_capped_simplex,
    random_coefficients,
    render_mixed,
)
from admixlib.perturb.resample import ResampleSet

__all__ = [
    "Batch",
    "LinfBall",
    "Perturbation",
    "PerturbationSet",
    "ResampleSet",
    "StyleMixSet",
    "autoaugment_set",
    "colorjitter_set",
    "find_worst_case",
    "fine_style_variations",
    "mix_styles",
    "project_capped_simplex",
    "random_coefficients",
    "render_mixed",
]

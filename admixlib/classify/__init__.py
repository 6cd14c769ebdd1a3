"""Classifier (small CNN), the one training loop for every method, evaluation and attacks."""

from admixlib.classify.evaluate import (
    bias_groups,
    evaluate_classifier,
    factor_groups,
    group_accuracy,
    predict_proba,
    robust_correct,
    variation_metrics,
    worst_group,
)
from admixlib.classify.models import build_classifier, load_classifier, save_classifier
from admixlib.classify.train import ClassifierRecipe, train_classifier

__all__ = [
    "ClassifierRecipe",
    "bias_groups",
    "build_classifier",
    "evaluate_classifier",
    "factor_groups",
    "group_accuracy",
    "load_classifier",
    "predict_proba",
    "robust_correct",
    "save_classifier",
    "train_classifier",
    "variation_metrics",
    "worst_group",
]

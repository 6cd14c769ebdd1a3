"""Classifier (small CNN), the one training loop for every method, evaluation and attacks."""

from admixlib.classify.evaluate import (
    evaluate_classifier,
    group_accuracy,
    predict_proba,
    prediction_consistency,
)
from admixlib.classify.models import build_classifier, load_classifier, save_classifier
from admixlib.classify.train import train_classifier

__all__ = [
    "build_classifier",
    "evaluate_classifier",
    "group_accuracy",
    "load_classifier",
    "predict_proba",
    "prediction_consistency",
    "save_classifier",
    "train_classifier",
]

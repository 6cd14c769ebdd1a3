"""Evaluation of a classifier: clean and per-group accuracy, accuracy under AdvMix and l_inf attacks."""

from __future__ import annotations

import logging

import pandas as pd
import torch
from torch import Tensor, nn

from admixlib.perturb import Batch, LinfBall, StyleMixSet, find_worst_case
from admixlib.runtime import torch_generator

log = logging.getLogger("admix.classify")


def predict_proba(
    model: nn.Module, images: Tensor, *, batch_size: int = 256, device: str | torch.device = "cpu"
) -> Tensor:
    """Class probabilities ``[N, C]`` (float32, on CPU) of ``model`` on ``images`` ``[N, 3, H, W]``.

    Runs batchwise under ``torch.inference_mode`` in eval mode (the model's mode is restored after).
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(images), batch_size):
            logits = model(images[i : i + batch_size].to(device))
            out.append(torch.softmax(logits.float(), dim=1).cpu())
    model.train(was_training)
    return torch.cat(out) if out else torch.empty(0, 0)


def group_accuracy(
    correct: Tensor, factors: pd.DataFrame, *, label_name: str, spurious_factor: str | None
) -> tuple[dict[str, float], dict[str, int]]:
    """Accuracy per (label, spurious factor) group.

    Args:
        correct: bool ``[N]``, whether each prediction is right.
        factors: DataFrame with ``N`` rows, holding columns ``label_name`` and ``spurious_factor``.
        label_name, spurious_factor: column names; with ``spurious_factor=None`` groups are labels.

    Returns:
        ``(acc, count)``: dicts keyed ``"label=a|factor=b"`` (or ``"label=a"``), only non-empty groups.
    """
    if len(factors) != len(correct):
        raise ValueError(f"factors has {len(factors)} rows but there are {len(correct)} predictions")
    cols = [label_name] if spurious_factor is None else [label_name, spurious_factor]
    frame = factors[cols].reset_index(drop=True).copy()
    frame["_correct"] = correct.cpu().numpy().astype(float)
    acc, count = {}, {}
    for values, group in frame.groupby(cols, sort=True):
        values = values if isinstance(values, tuple) else (values,)
        key = f"label={values[0]}" if spurious_factor is None else f"label={values[0]}|factor={values[1]}"
        acc[key] = float(group["_correct"].mean())
        count[key] = len(group)
    return acc, count


def prediction_consistency(
    model: nn.Module,
    images: Tensor,
    variations: Tensor,
    *,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> float:
    """Share of images whose predicted class is the same on the image and on all its variations.

    Args:
        model: classifier.
        images: ``[N, 3, H, W]`` in ``[-1, 1]``.
        variations: ``[N, V, 3, H, W]``, e.g. from :func:`admixlib.perturb.fine_style_variations`.

    Returns:
        A fraction in ``[0, 1]`` (the quantity behind the paper's Figure 1); NaN when ``N == 0``.
    """
    n, v = variations.shape[:2]
    if len(images) != n:
        raise ValueError(f"{len(images)} images but variations for {n}")
    if n == 0:
        return float("nan")
    pred = predict_proba(model, images, batch_size=batch_size, device=device).argmax(1)
    varied = predict_proba(model, variations.flatten(0, 1), batch_size=batch_size, device=device)
    stable = (varied.argmax(1).reshape(n, v) == pred[:, None]).all(dim=1)
    return float(stable.float().mean())


def attack_accuracy(
    model: nn.Module,
    pset,
    *,
    images: Tensor,
    labels: Tensor,
    codes: Tensor | None,
    residuals: Tensor | None,
    restarts: int,
    batch_size: int,
    device: torch.device,
    generator: torch.Generator,
) -> float:
    """Fraction of examples still classified correctly on the worst case ``find_worst_case`` finds
    in ``pset`` (model in eval mode; ``pset.steps`` ascent steps, ``restarts`` restarts)."""
    correct = 0
    for i in range(0, len(images), batch_size):
        sl = slice(i, i + batch_size)
        batch = Batch(
            images=images[sl].to(device),
            labels=labels[sl].to(device),
            codes=None if codes is None else codes[sl].to(device),
            residuals=None if residuals is None else residuals[sl].to(device),
        )
        worst = find_worst_case(pset, model, batch, restarts=restarts, generator=generator)
        with torch.no_grad():
            correct += int((model(worst).argmax(1) == batch.labels).sum())
    return correct / max(len(images), 1)


def evaluate_classifier(
    model: nn.Module,
    *,
    images: Tensor,
    labels: Tensor,
    factors: pd.DataFrame,
    label_name: str,
    spurious_factor: str | None,
    advmix_set: StyleMixSet | None = None,
    advmix_restarts: int = 1,
    linf_set: LinfBall | None = None,
    codes: Tensor | None = None,
    residuals: Tensor | None = None,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> dict:
    """Evaluate ``model`` on a test split.

    Args:
        model: classifier (put in eval mode; its mode is restored at the end).
        images: ``[N, 3, H, W]`` in ``[-1, 1]``; labels: int64 ``[N]``.
        factors: DataFrame aligned with the images (columns ``label_name``, ``spurious_factor``).
        label_name, spurious_factor: factor columns defining the groups (``spurious_factor`` may be None).
        advmix_set: StyleMixSet for the AdvMix attack (``codes`` of the test images required;
            ``residuals`` if it adds them), or None to skip.
        advmix_restarts: random restarts of the AdvMix attack.
        linf_set: LinfBall for the PGD attack, or None to skip.
        batch_size, device: batching and device.
        seed: seeds the attacks' random starts (``torch_generator(seed)``, CPU).

    Returns:
        dict: ``clean_acc``, ``group_acc`` (``{"label=a|factor=b": acc}``), ``group_count`` (same keys,
        example counts), ``worst_group_acc`` (min over non-empty groups), ``advmix_attack_acc`` and
        ``linf_attack_acc`` (None when skipped), ``n_test``.
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    probs = predict_proba(model, images, batch_size=batch_size, device=device)
    correct = probs.argmax(1) == labels.cpu()
    group_acc, group_count = group_accuracy(
        correct, factors, label_name=label_name, spurious_factor=spurious_factor
    )
    result = {
        "clean_acc": float(correct.float().mean()),
        "group_acc": group_acc,
        "group_count": group_count,
        "worst_group_acc": min(group_acc.values()),
        "advmix_attack_acc": None,
        "linf_attack_acc": None,
        "n_test": len(images),
    }
    common = dict(images=images, labels=labels, batch_size=batch_size, device=device)
    if advmix_set is not None:
        result["advmix_attack_acc"] = attack_accuracy(
            model,
            advmix_set,
            codes=codes,
            residuals=residuals,
            restarts=advmix_restarts,
            generator=torch_generator(seed),
            **common,
        )
    if linf_set is not None:
        result["linf_attack_acc"] = attack_accuracy(
            model,
            linf_set,
            codes=None,
            residuals=None,
            restarts=1,
            generator=torch_generator(seed + 1),
            **common,
        )
    model.train(was_training)
    log.info("evaluation: %s", {k: v for k, v in result.items() if k not in ("group_acc", "group_count")})
    return result

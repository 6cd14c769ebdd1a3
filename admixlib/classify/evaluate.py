"""Evaluation of a classifier: clean and per-group accuracy, accuracy under AdvMix and l_inf attacks,
and consistency under fine-style variations, all on the same images."""

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


def factor_groups(factors: pd.DataFrame, *, label_name: str, spurious_factor: str | None) -> pd.Series:
    """Per row, its (label, spurious factor) group ``"label=a|factor=b"`` (``"label=a"`` without a
    spurious factor)."""
    keys = "label=" + factors[label_name].astype(str).reset_index(drop=True)
    if spurious_factor is None:
        return keys
    return keys + "|factor=" + factors[spurious_factor].astype(str).reset_index(drop=True)


def bias_groups(factors: pd.DataFrame, *, label_name: str, spurious_factor: str | None) -> pd.Series:
    """Per row, ``"label=a|aligned"`` where the spurious factor takes the value the biased training
    split pairs with the label (every data set here biases towards ``spurious == label``), else
    ``"label=a|conflicting"``; ``"label=a"`` without a spurious factor."""
    labels = factors[label_name].reset_index(drop=True)
    keys = "label=" + labels.astype(str)
    if spurious_factor is None:
        return keys
    aligned = factors[spurious_factor].reset_index(drop=True) == labels
    return keys + aligned.map({True: "|aligned", False: "|conflicting"})


def group_accuracy(correct: Tensor, groups: pd.Series) -> tuple[dict[str, float], dict[str, int]]:
    """Accuracy and size of each group: ``correct`` bool ``[N]``, ``groups`` the N rows' group keys.
    Returns ``(acc, count)``, dicts keyed by group (sorted; only non-empty groups)."""
    if len(groups) != len(correct):
        raise ValueError(f"{len(groups)} group keys but {len(correct)} predictions")
    frame = pd.DataFrame({"group": groups.to_numpy(), "correct": correct.cpu().numpy().astype(float)})
    stats = frame.groupby("group", sort=True)["correct"].agg(["mean", "size"])
    acc = {str(k): float(v) for k, v in stats["mean"].items()}
    return acc, {str(k): int(v) for k, v in stats["size"].items()}


def worst_group(
    acc: dict[str, float], count: dict[str, int], *, min_size: int
) -> tuple[float | None, str | None]:
    """``(accuracy, key)`` of the least accurate group with at least ``min_size`` images; ``(None,
    None)`` when no group is that large (a minimum over groups of a few images is mostly noise)."""
    scored = {key: value for key, value in acc.items() if count[key] >= min_size}
    if not scored:
        log.warning("no group has %d or more images; worst-group accuracy is undefined", min_size)
        return None, None
    key = min(scored, key=scored.get)
    return scored[key], key


def group_metrics(
    correct: Tensor, factors: pd.DataFrame, *, label_name: str, spurious_factor: str | None, min_size: int
) -> dict:
    """The group metrics of :func:`evaluate_classifier` from ``correct`` (bool ``[N]``) and the N rows
    of ``factors``: ``group_acc``/``group_count`` (:func:`factor_groups`), ``bias_group_acc``/
    ``bias_group_count`` (:func:`bias_groups`), and ``worst_group_acc``/``worst_group``
    (:func:`worst_group` over the bias groups), with ``min_group_size``."""
    keys = {"label_name": label_name, "spurious_factor": spurious_factor}
    group_acc, group_count = group_accuracy(correct, factor_groups(factors, **keys))
    bias_acc, bias_count = group_accuracy(correct, bias_groups(factors, **keys))
    worst_acc, worst_key = worst_group(bias_acc, bias_count, min_size=min_size)
    return {
        "group_acc": group_acc,
        "group_count": group_count,
        "bias_group_acc": bias_acc,
        "bias_group_count": bias_count,
        "worst_group_acc": worst_acc,
        "worst_group": worst_key,
        "min_group_size": min_size,
    }


def variation_metrics(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    variations: Tensor,
    *,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> dict:
    """How predictions hold up under each image's variations.

    Args:
        model: classifier.
        images: ``[N, 3, H, W]`` in ``[-1, 1]``; labels: int64 ``[N]``.
        variations: ``[N, V, 3, H, W]``, e.g. from :func:`admixlib.perturb.fine_style_variations`.

    Returns:
        ``consistency``: share of images whose predicted class is the same on the image and every
        variation (the quantity behind the paper's Figure 1; a constant classifier scores 1), and
        ``consistent_acc``: share whose prediction is correct on the image and every variation.
        Both NaN when ``N == 0``.
    """
    n, v = variations.shape[:2]
    if len(images) != n or len(labels) != n:
        raise ValueError(f"{len(images)} images and {len(labels)} labels but variations for {n}")
    if n == 0:
        return {"consistency": float("nan"), "consistent_acc": float("nan")}
    pred = predict_proba(model, images, batch_size=batch_size, device=device).argmax(1)
    varied = predict_proba(model, variations.flatten(0, 1), batch_size=batch_size, device=device)
    stable = (varied.argmax(1).reshape(n, v) == pred[:, None]).all(dim=1)
    correct = stable & (pred == labels.cpu())
    return {"consistency": float(stable.float().mean()), "consistent_acc": float(correct.float().mean())}


def robust_correct(
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
) -> Tensor:
    """Bool ``[N]``: the clean image and every candidate the attack renders (``find_worst_case`` in
    ``pset``: ``pset.steps`` ascent steps, ``restarts`` restarts) are all classified correctly, the
    model in eval mode. Its mean never exceeds clean accuracy on the same images."""
    out = []
    for i in range(0, len(images), batch_size):
        sl = slice(i, i + batch_size)
        batch = Batch(
            images=images[sl].to(device),
            labels=labels[sl].to(device),
            codes=None if codes is None else codes[sl].to(device),
            residuals=None if residuals is None else residuals[sl].to(device),
        )
        out.append(_batch_robust_correct(model, pset, batch, restarts=restarts, generator=generator))
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.bool)


def _batch_robust_correct(model: nn.Module, pset, batch: Batch, *, restarts: int, generator) -> Tensor:
    """:func:`robust_correct` on one batch: bool ``[N]`` on the CPU. The candidates' predictions are
    the logits the attack computed on them (``observe``), not a second pass."""
    with torch.no_grad():
        right = [model(batch.images).argmax(1) == batch.labels]

    def check(_images: Tensor, logits: Tensor) -> None:
        right.append(logits.argmax(1) == batch.labels)

    find_worst_case(pset, model, batch, restarts=restarts, generator=generator, observe=check)
    return torch.stack(right).all(dim=0).cpu()


def evaluate_classifier(
    model: nn.Module,
    *,
    images: Tensor,
    labels: Tensor,
    factors: pd.DataFrame,
    label_name: str,
    spurious_factor: str | None,
    min_group_size: int = 1,
    advmix_set: StyleMixSet | None = None,
    advmix_restarts: int = 1,
    linf_set: LinfBall | None = None,
    codes: Tensor | None = None,
    residuals: Tensor | None = None,
    variations: Tensor | None = None,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> dict:
    """Evaluate ``model`` on one set of images; every metric is computed on all of them.

    Args:
        model: classifier (put in eval mode; its mode is restored at the end).
        images: ``[N, 3, H, W]`` in ``[-1, 1]``; labels: int64 ``[N]``.
        factors: DataFrame aligned with the images (columns ``label_name``, ``spurious_factor``).
        label_name, spurious_factor: factor columns defining the groups (``spurious_factor`` may be None).
        min_group_size: groups of fewer images are left out of the worst group.
        advmix_set: StyleMixSet for the AdvMix attack (``codes`` of the images required;
            ``residuals`` if it adds them), or None to skip.
        advmix_restarts: random restarts of the AdvMix attack.
        linf_set: LinfBall for the PGD attack, or None to skip.
        codes, residuals: W+ codes ``[N, L, D]`` and residuals ``[N, 3, H, W]`` of the images.
        variations: ``[N, V, 3, H, W]`` fine-style variations of the images, or None to skip.
        batch_size, device: batching and device.
        seed: seeds the attacks' random starts (``torch_generator(seed)``, CPU).

    Returns:
        dict: ``clean_acc``; ``group_acc`` and ``group_count`` per (label, spurious factor) group;
        ``bias_group_acc`` and ``bias_group_count`` per label x aligned/conflicting group
        (:func:`bias_groups`); ``worst_group_acc`` and ``worst_group``, the least accurate bias group
        of at least ``min_group_size`` images (None when there is none); ``advmix_attack_acc`` and
        ``linf_attack_acc``, the share whose clean image and every attack candidate are classified
        correctly (:func:`robust_correct`; None when skipped); ``consistency`` and
        ``consistent_acc`` (:func:`variation_metrics`; None when skipped); ``n_test`` and
        ``min_group_size``.
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    correct = predict_proba(model, images, batch_size=batch_size, device=device).argmax(1) == labels.cpu()
    result = {
        "clean_acc": float(correct.float().mean()),
        **group_metrics(
            correct, factors, label_name=label_name, spurious_factor=spurious_factor, min_size=min_group_size
        ),
        "advmix_attack_acc": None,
        "linf_attack_acc": None,
        "consistency": None,
        "consistent_acc": None,
        "n_test": len(images),
    }
    common = dict(images=images, labels=labels, batch_size=batch_size, device=device)
    if advmix_set is not None:
        robust = robust_correct(
            model, advmix_set, codes=codes, residuals=residuals, restarts=advmix_restarts,
            generator=torch_generator(seed), **common,
        )  # fmt: skip
        result["advmix_attack_acc"] = float(robust.float().mean())
    if linf_set is not None:
        robust = robust_correct(
            model, linf_set, codes=None, residuals=None, restarts=1, generator=torch_generator(seed + 1),
            **common,
        )  # fmt: skip
        result["linf_attack_acc"] = float(robust.float().mean())
    if variations is not None:
        result |= variation_metrics(model, images, labels, variations, batch_size=batch_size, device=device)
    model.train(was_training)
    detail = ("group_acc", "group_count", "bias_group_acc", "bias_group_count")
    log.info("evaluation: %s", {k: v for k, v in result.items() if k not in detail})
    return result

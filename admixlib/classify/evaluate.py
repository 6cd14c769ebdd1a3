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


def variation_metrics(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    variations: Tensor,
    *,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> dict:
    """How predictions on ``images [N, 3, H, W]`` (``labels`` int64 ``[N]``) hold up under their
    ``variations [N, V, 3, H, W]`` (e.g. :func:`admixlib.perturb.fine_style_variations`).

    Returns ``consistency``, the share of images predicted the same class on the image and every
    variation (a constant classifier scores 1), and ``consistent_acc``, the share predicted correctly
    on all of them; both NaN when ``N == 0``.
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
    """Evaluate ``model`` (eval mode, restored after) on ``images [N, 3, H, W]`` with ``labels [N]``
    and their ``factors`` (a DataFrame with columns ``label_name`` and ``spurious_factor``, which may
    be None); every metric is computed on all N images.

    The AdvMix attack (``advmix_set``, needing the images' ``codes [N, L, D]`` and, if it adds them,
    ``residuals [N, 3, H, W]``), the l_inf attack (``linf_set``) and the consistency (``variations
    [N, V, 3, H, W]``) are skipped when None; ``seed`` seeds the attacks' random starts.

    Returns a dict: ``clean_acc``; ``group_acc``/``group_count`` per (label, spurious factor) group
    (:func:`factor_groups`) and ``bias_group_acc``/``bias_group_count`` per :func:`bias_groups`
    group; ``worst_group_acc``/``worst_group``, the least accurate bias group of at least
    ``min_group_size`` images (None when there is none); ``advmix_attack_acc``/``linf_attack_acc``
    (:func:`robust_correct`), ``consistency``/``consistent_acc`` (:func:`variation_metrics`), each
    None when skipped; ``n_test`` and ``min_group_size``.
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    correct = predict_proba(model, images, batch_size=batch_size, device=device).argmax(1) == labels.cpu()
    keys = {"label_name": label_name, "spurious_factor": spurious_factor}
    group_acc, group_count = group_accuracy(correct, factor_groups(factors, **keys))
    bias_acc, bias_count = group_accuracy(correct, bias_groups(factors, **keys))
    worst_acc, worst_key = worst_group(bias_acc, bias_count, min_size=min_group_size)
    result = {
        "clean_acc": float(correct.float().mean()),
        "group_acc": group_acc,
        "group_count": group_count,
        "bias_group_acc": bias_acc,
        "bias_group_count": bias_count,
        "worst_group_acc": worst_acc,
        "worst_group": worst_key,
        "min_group_size": min_group_size,
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

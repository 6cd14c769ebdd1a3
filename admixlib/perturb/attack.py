"""Projected gradient ascent over a perturbation set: the worst case inside the set for each example."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from admixlib.perturb.base import Batch, Perturbation, PerturbationSet


def find_worst_case(
    pset: PerturbationSet,
    model: nn.Module,
    batch: Batch,
    *,
    steps: int | None = None,
    restarts: int = 1,
    generator: torch.Generator,
    observe: Callable[[Tensor, Tensor], None] | None = None,
) -> Tensor:
    """Search ``pset`` around ``batch`` for the images that maximise ``model``'s per-example loss.

    Each restart draws ``pset.random_init``, projects it, then runs ``steps`` rounds of
    ``delta <- project(step(delta, d loss / d delta))``. Every iterate whose loss was computed (the
    start and each ascent iterate, including the last) is a candidate; per example the candidate with
    the highest cross-entropy over all iterates and restarts is returned. With ``steps == 0`` and
    ``restarts == 1`` the random sample is returned without running ``model`` (RandMix, AutoAugment)
    unless ``observe`` wants its logits.

    A set with an ``attack_image(p, batch)`` method (a cheap surrogate of ``to_image``) is ascended on
    the surrogate; per restart, the iterate with the highest surrogate loss is then rendered exactly
    with ``to_image``, and those exact images compete across restarts.

    The model's train/eval mode is left as set, and no parameter ``.grad`` is touched (gradients are
    taken with ``torch.autograd.grad`` w.r.t. ``delta`` only).

    Args:
        pset: a :class:`~admixlib.perturb.base.PerturbationSet`.
        model: classifier mapping ``[N, 3, H, W]`` images to ``[N, C]`` logits.
        batch: the clean batch (images on the model's device).
        steps, restarts: ascent steps per restart (``None``: ``pset.steps``) and random starts (>= 1).
        generator: torch generator for the random starts (CPU generators are fine for any device).
        observe: called with the detached images ``[N, 3, H, W]`` and ``model``'s logits ``[N, C]`` of
            every exactly rendered candidate (not the surrogate's iterates), so an evaluation can
            require every candidate to be right without running the model on them again.

    Returns:
        Detached images ``[N, 3, H, W]`` in ``[-1, 1]``.
    """
    steps = pset.steps if steps is None else int(steps)
    if steps < 0 or restarts < 1:
        raise ValueError(f"need steps >= 0 and restarts >= 1, got steps={steps}, restarts={restarts}")
    best_images: Tensor | None = None
    best_loss: Tensor | None = None

    def consider(images: Tensor, logits: Tensor, loss: Tensor, _iterate=None) -> None:
        nonlocal best_images, best_loss
        images, loss = images.detach(), loss.detach()
        if observe is not None:
            observe(images, logits.detach())
        if best_images is None:
            best_images, best_loss = images.clone(), loss.clone()
            return
        better = loss > best_loss
        best_loss = torch.where(better, loss, best_loss)
        best_images = torch.where(better[:, None, None, None], images, best_images)

    surrogate = getattr(pset, "attack_image", None)
    for _ in range(restarts):
        p = pset.project(pset.random_init(batch, generator=generator))
        if steps > 0 and surrogate is None:
            p = _ascend(pset, model, batch, p, steps=steps, render=pset.to_image, consider=consider)
        elif steps > 0:  # ascend on the cheap surrogate; only this restart's best iterate is rendered
            p = _best_iterate(pset, model, batch, p, steps=steps, render=surrogate)
        with torch.no_grad():
            images = pset.to_image(p, batch).detach()
            if restarts == 1 and observe is None and (steps == 0 or surrogate is not None):
                return images  # the only candidate and nothing compares it: no model pass
            consider(images, *_logits_and_loss(model, images, batch.labels))
    assert best_images is not None
    return best_images


def _logits_and_loss(model: nn.Module, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """``model``'s logits ``[N, C]`` on ``images`` and their per-example cross-entropy ``[N]``."""
    logits = model(images)
    return logits, F.cross_entropy(logits, labels, reduction="none")


def _ascend(pset, model, batch: Batch, p: Perturbation, *, steps: int, render, consider) -> Perturbation:
    """``steps`` projected ascent steps from ``p`` on images from ``render``; every iterate's images,
    logits and per-example loss go to ``consider``. Returns the last (unevaluated) iterate."""
    for _ in range(steps):
        with torch.enable_grad():
            delta = p.delta.detach().requires_grad_(True)
            p = p.with_delta(delta)
            images = render(p, batch)
            logits, loss = _logits_and_loss(model, images, batch.labels)
            (grad,) = torch.autograd.grad(loss.sum(), [delta])
        consider(images, logits, loss, p)
        p = pset.project(pset.step(p.with_delta(delta.detach()), grad))
    return p


def _best_iterate(pset, model, batch: Batch, p: Perturbation, *, steps: int, render) -> Perturbation:
    """The iterate (start, ascent iterates and the last) with the highest loss on ``render``'s images,
    chosen per example."""
    best = {"delta": None, "loss": None}

    def keep(images: Tensor, logits: Tensor, loss: Tensor, iterate) -> None:
        delta, loss = iterate.delta.detach(), loss.detach()
        if best["delta"] is None:
            best.update(delta=delta.clone(), loss=loss.clone())
            return
        better = loss > best["loss"]
        best["loss"] = torch.where(better, loss, best["loss"])
        best["delta"] = torch.where(better.view(-1, *[1] * (delta.ndim - 1)), delta, best["delta"])

    last = _ascend(pset, model, batch, p, steps=steps, render=render, consider=keep)
    with torch.no_grad():
        keep(None, *_logits_and_loss(model, render(last, batch), batch.labels), last)
    return last.with_delta(best["delta"])

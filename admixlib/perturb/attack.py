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
    """The images ``[N, 3, H, W]`` (detached, in ``[-1, 1]``) in ``pset`` around ``batch`` that
    maximise ``model``'s per-example cross-entropy (``model``: ``[N, 3, H, W] -> [N, C]`` logits).

    Each of ``restarts`` restarts projects ``pset.random_init`` (drawn with ``generator``), then runs
    ``steps`` (None: ``pset.steps``) rounds of ``delta <- project(step(delta, d loss / d delta))``;
    per example the iterate with the highest loss over all iterates and restarts wins. With one
    restart and no steps the random sample is returned without running ``model``, unless ``observe``
    wants its logits. A set with ``attack_image(p, batch)`` (a cheap surrogate of ``to_image``) is
    ascended on the surrogate, and each restart's best iterate is rendered exactly with ``to_image``.

    ``observe(images, logits)`` sees every exactly rendered candidate (detached), so an evaluation
    can require each to be right without another model pass. The model's train/eval mode and its
    parameters' ``.grad`` are left alone (gradients are taken w.r.t. ``delta`` only).
    """
    steps = pset.steps if steps is None else int(steps)
    if steps < 0 or restarts < 1:
        raise ValueError(f"need steps >= 0 and restarts >= 1, got steps={steps}, restarts={restarts}")
    best = None  # (images, loss)

    def consider(images: Tensor, logits: Tensor, loss: Tensor, _iterate=None) -> None:
        nonlocal best
        images, loss = images.detach(), loss.detach()
        if observe is not None:
            observe(images, logits.detach())
        best = _keep_higher(best, images, loss)

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
    assert best is not None
    return best[0]


def _keep_higher(best: tuple[Tensor, Tensor] | None, value: Tensor, loss: Tensor) -> tuple[Tensor, Tensor]:
    """``(value, loss)`` per example (first dimension) where ``loss`` is higher than in ``best``,
    ``best``'s elsewhere; copies of both when ``best`` is None."""
    if best is None:
        return value.clone(), loss.clone()
    best_value, best_loss = best
    better = loss > best_loss
    best_value = torch.where(better.view(-1, *[1] * (value.ndim - 1)), value, best_value)
    return best_value, torch.where(better, loss, best_loss)


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
    best = None  # (delta, loss)

    def keep(images: Tensor, logits: Tensor, loss: Tensor, iterate) -> None:
        nonlocal best
        best = _keep_higher(best, iterate.delta.detach(), loss.detach())

    last = _ascend(pset, model, batch, p, steps=steps, render=render, consider=keep)
    with torch.no_grad():
        keep(None, *_logits_and_loss(model, render(last, batch), batch.labels), last)
    return last.with_delta(best[0])

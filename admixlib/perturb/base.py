"""The perturbation-set interface shared by l_inf PGD, AutoAugment, RandMix and AdvMix.

A perturbation set describes a family of images around a batch. Its state for one batch is a
:class:`Perturbation`: a tensor ``delta`` that gradient ascent moves, and a ``context`` dict of fixed
per-batch data (donor codes, cached generator activations, the clean images, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor


@dataclass
class Batch:
    """One mini-batch as the perturbation sets see it.

    Attributes:
        images: float32 ``[N, 3, H, W]`` in ``[-1, 1]``.
        labels: int64 ``[N]``.
        codes: float32 W+ codes ``[N, L, w_dim]`` of the images (needed by :class:`StyleMixSet`), or None.
        residuals: float32 ``[N, 3, H, W]`` reconstruction residuals ``x - G(w(x))``, or None.
        index: int64 ``[N]``, each image's row in the training split (needed by
            :class:`~admixlib.perturb.resample.ResampleSet`), or None.
    """

    images: Tensor
    labels: Tensor
    codes: Tensor | None = None
    residuals: Tensor | None = None
    index: Tensor | None = None

    def __len__(self) -> int:
        return int(self.images.shape[0])


@dataclass
class Perturbation:
    """The state of a perturbation set for one batch.

    Attributes:
        delta: the tensor optimised by gradient ascent (its shape depends on the set).
        context: fixed per-batch data the set needs to turn ``delta`` into images.
    """

    delta: Tensor
    context: dict = field(default_factory=dict)

    def with_delta(self, delta: Tensor) -> Perturbation:
        """Return a copy that shares ``context`` and holds ``delta``."""
        return replace(self, delta=delta)


@runtime_checkable
class PerturbationSet(Protocol):
    """What :func:`admixlib.perturb.find_worst_case` and the training loop need from a perturbation set.

    Attributes:
        steps: default number of projected gradient-ascent steps (0: random sampling only).
    """

    steps: int

    def random_init(self, batch: Batch, *, generator: torch.Generator) -> Perturbation:
        """Draw a random feasible starting point for ``batch`` using ``generator``."""
        ...

    def step(self, p: Perturbation, grad: Tensor) -> Perturbation:
        """One ascent step on ``p.delta`` given the loss gradient ``grad`` (same shape as ``delta``)."""
        ...

    def project(self, p: Perturbation) -> Perturbation:
        """Project ``p.delta`` back into the feasible set."""
        ...

    def to_image(self, p: Perturbation, batch: Batch) -> Tensor:
        """Render ``[N, 3, H, W]`` images in ``[-1, 1]``, differentiable w.r.t. ``p.delta``."""
        ...


class DrawnImages:
    """Base of the sets whose ``delta`` is the drawn images ``[N, 3, H, W]`` themselves (``steps``
    0): subclasses implement ``random_init``; there is no ascent and every draw is feasible."""

    steps = 0

    def step(self, p: Perturbation, grad: Tensor) -> Perturbation:
        """No ascent: the draw is not differentiable; returns ``p`` unchanged."""
        return p

    def project(self, p: Perturbation) -> Perturbation:
        """Identity (every drawn image is feasible)."""
        return p

    def to_image(self, p: Perturbation, batch: Batch) -> Tensor:
        """The drawn images ``[N, 3, H, W]`` in ``[-1, 1]``."""
        return p.delta

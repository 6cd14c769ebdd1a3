"""The l_inf ball around each image: the classical PGD adversarial-training perturbation set."""

from __future__ import annotations

import torch
from torch import Tensor

from admixlib.perturb.base import Batch, Perturbation


class LinfBall:
    """Images ``x + delta`` with ``||delta||_inf <= eps`` and ``x + delta`` in ``[-1, 1]``.

    ``eps`` and ``step_size`` are given in ``[0, 1]``-pixel units (e.g. ``8/255``, as in the
    literature) and doubled internally because images live in ``[-1, 1]``. The start is uniform in the
    ball; a step is ``delta + step_size * sign(grad)`` (gradient ascent); projection clamps ``delta``
    to ``[-eps, eps]`` and ``x + delta`` to ``[-1, 1]``.

    ``delta`` has the images' shape ``[N, 3, H, W]``; ``context["images"]`` holds the clean images.
    """

    def __init__(self, *, eps: float, step_size: float, steps: int) -> None:
        if eps < 0 or step_size < 0 or steps < 0:
            raise ValueError(f"eps, step_size and steps must be >= 0, got {eps}, {step_size}, {steps}")
        self.eps = 2.0 * float(eps)
        self.step_size = 2.0 * float(step_size)
        self.steps = int(steps)

    def __repr__(self) -> str:
        return f"LinfBall(eps={self.eps / 2:.5g}, step_size={self.step_size / 2:.5g}, steps={self.steps})"

    def random_init(self, batch: Batch, *, generator: torch.Generator) -> Perturbation:
        """Uniform start in the ``eps`` ball (drawn on ``generator``'s device, then moved)."""
        x = batch.images
        u = torch.rand(x.shape, generator=generator, device=generator.device, dtype=x.dtype)
        delta = (2.0 * u - 1.0).to(x.device) * self.eps
        return Perturbation(delta=delta, context={"images": x.detach()})

    def step(self, p: Perturbation, grad: Tensor) -> Perturbation:
        """Sign-gradient ascent step of size ``step_size`` (in ``[-1, 1]`` units)."""
        return p.with_delta(p.delta + self.step_size * torch.sign(grad))

    def project(self, p: Perturbation) -> Perturbation:
        """Clamp ``delta`` to ``[-eps, eps]`` and ``x + delta`` to ``[-1, 1]``."""
        x = p.context["images"]
        delta = p.delta.clamp(-self.eps, self.eps)
        delta = (x + delta).clamp(-1.0, 1.0) - x
        return p.with_delta(delta)

    def to_image(self, p: Perturbation, batch: Batch) -> Tensor:
        """``clamp(x + delta, -1, 1)`` ``[N, 3, H, W]``."""
        return (batch.images + p.delta).clamp(-1.0, 1.0)

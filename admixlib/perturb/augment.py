"""Analytic data augmentation (torchvision AutoAugment / RandAugment / ColorJitter) as a perturbation set.

It has no ascent steps: ``random_init`` applies the augmentation and ``to_image`` returns the result.
Wrapping it as a perturbation set lets the one training loop treat it like RandMix.
"""

from __future__ import annotations

import torch
from torch import Tensor

from admixlib.perturb.base import Batch, DrawnImages, Perturbation

POLICIES = ("autoaugment", "randaugment")


def to_uint8(images: Tensor) -> Tensor:
    """Map float images in ``[-1, 1]`` to uint8 ``[0, 255]`` (same shape)."""
    return ((images.detach() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)


def from_uint8(images: Tensor) -> Tensor:
    """Map uint8 images ``[0, 255]`` to float32 in ``[-1, 1]`` (same shape)."""
    return images.to(torch.float32) / 127.5 - 1.0


class AugmentSet(DrawnImages):
    """Per-image random augmentation by a torchvision v2 ``transform`` acting on uint8 ``[3, H, W]``.

    ``delta`` is the augmented batch ``[N, 3, H, W]`` in ``[-1, 1]``; ``steps`` is 0. The transform's
    randomness is drawn from the global torch RNG inside ``torch.random.fork_rng``, seeded from the
    ``generator`` passed to :meth:`random_init`, so runs are reproducible and the global state is
    left unchanged. Build one with :func:`autoaugment_set` or :func:`colorjitter_set`.
    """

    def __init__(self, transform, *, name: str) -> None:
        self.transform = transform
        self.name = name

    def __repr__(self) -> str:
        return f"AugmentSet({self.name})"

    def random_init(self, batch: Batch, *, generator: torch.Generator) -> Perturbation:
        """Augment every image of ``batch`` independently (on CPU, uint8), return them as ``delta``."""
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())
        images = to_uint8(batch.images).cpu()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            out = torch.stack([self.transform(img) for img in images])
        return Perturbation(delta=from_uint8(out).to(batch.images.device), context={})


def autoaugment_set(*, policy: str = "autoaugment", num_ops: int = 2, magnitude: int = 9) -> AugmentSet:
    """AutoAugment with its CIFAR-10 policy (``policy="autoaugment"``), or RandAugment applying
    ``num_ops`` operations at ``magnitude`` (of 31 bins, 0 to 30; torchvision's defaults 2 and 9)."""
    from torchvision.transforms import v2  # on first use (admixlib.report.plotting says why)

    if policy == "autoaugment":
        return AugmentSet(v2.AutoAugment(policy=v2.AutoAugmentPolicy.CIFAR10), name="policy='autoaugment'")
    if policy == "randaugment":
        name = f"policy='randaugment' num_ops={num_ops} magnitude={magnitude}"
        return AugmentSet(v2.RandAugment(num_ops=num_ops, magnitude=magnitude), name=name)
    raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")


def colorjitter_set(*, brightness: float, contrast: float, saturation: float, hue: float) -> AugmentSet:
    """ColorJitter with factors drawn from ``[max(0, 1 - b), 1 + b]`` (brightness, contrast,
    saturation) and a hue shift from ``[-hue, hue]`` (``hue`` at most 0.5), in a random order."""
    if not 0.0 <= hue <= 0.5:
        raise ValueError(f"hue must be in [0, 0.5], got {hue}")
    from torchvision.transforms import v2  # on first use (admixlib.report.plotting says why)

    jitter = v2.ColorJitter(brightness=brightness, contrast=contrast, saturation=saturation, hue=hue)
    name = f"colorjitter b={brightness} c={contrast} s={saturation} h={hue}"
    return AugmentSet(jitter, name=name)

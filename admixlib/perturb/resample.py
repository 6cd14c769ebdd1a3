"""Perfect nuisance augmentation: each training image redrawn by the data generator with its spurious
factor resampled (an upper bound for AdvMix that only a procedural data set allows)."""

from __future__ import annotations

import torch
from torch import Tensor

from admixlib.perturb.augment import from_uint8
from admixlib.perturb.base import Batch, DrawnImages, Perturbation


class ResampleSet(DrawnImages):
    """Per image, one of its redraws ``alternatives[v, i]`` with ``v`` uniform over the spurious
    factor's values; ``steps`` is 0 (a random draw, like RandMix).

    Args:
        alternatives: uint8 ``[V, N, 3, H, W]`` from :func:`admixlib.data.build.resampled_train`: row
            ``v`` is the whole training split with the spurious factor set to its ``v``-th value.
    """

    def __init__(self, alternatives: Tensor) -> None:
        if alternatives.ndim != 5:
            raise ValueError(f"alternatives must be [V, N, 3, H, W], got shape {tuple(alternatives.shape)}")
        self.alternatives = alternatives

    def __repr__(self) -> str:
        values, n = self.alternatives.shape[:2]
        return f"ResampleSet(values={values}, images={n})"

    def random_init(self, batch: Batch, *, generator: torch.Generator) -> Perturbation:
        """Draw a value per image and take that redraw of it (``batch.index`` names its row)."""
        if batch.index is None:
            raise ValueError("ResampleSet needs batch.index, each image's row in the training split")
        values = torch.randint(
            len(self.alternatives), (len(batch),), generator=generator, device=generator.device
        )
        redraws = self.alternatives[values.cpu(), batch.index.cpu()]
        return Perturbation(delta=from_uint8(redraws).to(batch.images.device), context={})

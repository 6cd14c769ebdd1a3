"""The mapping network z -> w, optionally class-conditional."""

import torch
from torch import nn

from admixlib.stylegan.layers import EqualLinear


class MappingNetwork(nn.Module):
    """z -> w: normalise z to unit second moment, then ``num_layers`` FC layers with lrelu (lr x0.01).

    With ``num_classes > 0`` it is class-conditional: a class embedding (normalised like z) joins z.
    The class is given, or else read off z itself (:meth:`labels_of`), so every z keeps one image.
    ``forward(z [N, z_dim], labels [N] int64 | None = None) -> w [N, w_dim]``.
    """

    def __init__(
        self,
        *,
        z_dim: int,
        w_dim: int,
        num_layers: int,
        lr_mul: float = 0.01,
        num_classes: int = 0,
        class_probs: list[float] | None = None,
    ):
        super().__init__()
        self.num_classes = num_classes
        dims = [z_dim * (2 if num_classes else 1)] + [w_dim] * num_layers
        self.layers = nn.Sequential(
            *[EqualLinear(dims[i], dims[i + 1], lr_mul=lr_mul, activation="lrelu") for i in range(num_layers)]
        )
        if num_classes:
            probs = torch.full((num_classes,), 1.0 / num_classes) if class_probs is None else class_probs
            probs = torch.as_tensor(probs, dtype=torch.float32)
            if (
                probs.shape != (num_classes,)
                or (probs < 0).any()
                or not torch.isclose(probs.sum(), torch.tensor(1.0))
            ):
                raise ValueError(f"class_probs must be {num_classes} shares summing to 1, got {class_probs}")
            self.embed = EqualLinear(num_classes, z_dim)
            self.register_buffer("class_cdf", probs.cumsum(0)[:-1], persistent=False)

    def labels_of(self, z: torch.Tensor) -> torch.Tensor | None:
        """The class a latent ``z [N, z_dim]`` draws when none is given: the bin of ``Phi(z[:, 0])`` in
        the cumulative ``class_probs``, so classes come at the training data's rates. ``[N]`` int64,
        or None for an unconditional network."""
        if not self.num_classes:
            return None
        u = torch.special.ndtr(z[:, 0])
        return torch.bucketize(u, self.class_cdf, right=True)

    @staticmethod
    def _normalise(x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + 1e-8)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self._normalise(z)
        if self.num_classes:
            labels = self.labels_of(z) if labels is None else labels
            onehot = nn.functional.one_hot(labels, self.num_classes).to(z.dtype)
            x = torch.cat([x, self._normalise(self.embed(onehot))], dim=1)
        return self.layers(x)

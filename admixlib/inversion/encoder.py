"""Image -> W+ encoder: a strided CNN predicting an offset from the generator's mean w."""

import math
import os

import torch
from torch import nn

from admixlib.runtime import channels_last, load_module, save_module


class Encoder(nn.Module):
    """CNN mapping images ``[N, 3, res, res]`` in ``[-1, 1]`` to W+ codes ``[N, num_ws, w_dim]``.

    The prediction is ``w_avg + offset``: ``w_avg [w_dim]`` (the generator's mean w; zeros if None)
    is a buffer and the last layer starts at zero, so an untrained encoder returns the mean code.
    ``channels``: ``{res: ch}`` from ``resolution`` down to 4 (default 32 at the input, doubling as
    the size halves, capped at 128); ``hidden``: width of the fully connected layer.
    """

    def __init__(
        self, *, resolution: int, num_ws: int, w_dim: int, channels=None, hidden: int = 256, w_avg=None
    ):
        super().__init__()
        resolutions = [2**i for i in range(int(math.log2(resolution)), 1, -1)]  # res, ..., 4
        if channels is None:
            channels = {r: min(128, 32 * resolution // r) for r in resolutions}
        channels = {int(k): int(v) for k, v in channels.items()}
        self.kwargs = dict(
            resolution=resolution, num_ws=num_ws, w_dim=w_dim, channels=channels, hidden=hidden
        )
        self.num_ws, self.w_dim, self.resolution = num_ws, w_dim, resolution
        layers: list[nn.Module] = [nn.Conv2d(3, channels[resolution], 3, padding=1), nn.LeakyReLU(0.2)]
        for r in resolutions[:-1]:
            layers += [
                nn.Conv2d(channels[r], channels[r], 3, padding=1),
                nn.LeakyReLU(0.2),
                nn.Conv2d(channels[r], channels[r // 2], 3, stride=2, padding=1),
                nn.LeakyReLU(0.2),
            ]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels[4] * 16, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, num_ws * w_dim),
        )
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)
        self.register_buffer("w_avg", torch.zeros(w_dim) if w_avg is None else w_avg.detach().clone().float())
        channels_last(self)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``images [N, 3, res, res] -> ws [N, num_ws, w_dim]``."""
        offset = self.head(self.features(images)).view(-1, self.num_ws, self.w_dim)
        return self.w_avg + offset


def save_encoder(E: Encoder, path: str | os.PathLike) -> None:
    """Write ``{"kwargs": E.kwargs, "state_dict": ...}`` atomically to ``path`` (tensors on CPU)."""
    save_module(E, E.kwargs, path)


def load_encoder(path: str | os.PathLike, map_location="cpu") -> Encoder:
    """Load an encoder written by :func:`save_encoder` with ``weights_only=True``; eval mode,
    ``requires_grad=False``. Clear errors when missing/corrupt."""
    E = load_module(path, Encoder, what="an encoder", writer="train_encoder", map_location=map_location)
    return E.requires_grad_(False)

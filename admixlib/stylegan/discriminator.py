"""Residual StyleGAN2-style discriminator with minibatch standard deviation, and its file format."""

import math
import os

import torch
from torch import nn

from admixlib.runtime import channels_last, load_module, save_module
from admixlib.stylegan.layers import EqualConv2d, EqualLinear
from admixlib.stylegan.networks import normalise_channels


class DiscriminatorBlock(nn.Module):
    """Residual block: 3x3 conv, strided 3x3 conv (halves the size), plus a pooled 1x1 skip; / sqrt(2).

    ``forward(x [N, in, H, W]) -> [N, out, H / 2, W / 2]``.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = EqualConv2d(in_channels, in_channels, 3, activation="lrelu")
        self.conv2 = EqualConv2d(in_channels, out_channels, 3, stride=2, activation="lrelu")
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False)
        self.pool = nn.AvgPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        return (out + self.skip(self.pool(x))) / math.sqrt(2.0)


class Discriminator(nn.Module):
    """Residual discriminator with minibatch standard deviation and equalised learning rate.

    ``forward(img [N, 3, res, res], labels [N] int64 | None = None) -> logits [N]``. With
    ``num_classes > 0`` it is a projection discriminator: the logit adds the inner product of its last
    features with a class embedding, and ``labels`` are required. ``channels``: the width at each
    resolution from ``resolution`` down to 4 (a dict, or a list as for :class:`Generator`).
    """

    def __init__(self, *, resolution: int, channels, mbstd_group: int = 4, num_classes: int = 0):
        super().__init__()
        channels = normalise_channels(channels, resolution)
        self.kwargs = dict(resolution=resolution, channels=channels, mbstd_group=mbstd_group)
        if num_classes:  # absent from an unconditional D's kwargs, so older files still load
            self.kwargs["num_classes"] = num_classes
        self.num_classes = num_classes
        self.mbstd_group = mbstd_group
        self.from_rgb = EqualConv2d(3, channels[resolution], 1, activation="lrelu")
        res_list = sorted(channels, reverse=True)
        self.blocks = nn.Sequential(
            *[DiscriminatorBlock(channels[r], channels[r // 2]) for r in res_list if r > 4]
        )
        c4 = channels[4]
        self.conv = EqualConv2d(c4 + 1, c4, 3, activation="lrelu")
        self.fc = EqualLinear(c4 * 16, c4, activation="lrelu")
        self.out = EqualLinear(c4, 1)
        if num_classes:
            self.embed = EqualLinear(num_classes, c4)
        channels_last(self)

    def minibatch_stddev(self, x: torch.Tensor) -> torch.Tensor:
        """Append the across-group standard deviation as one feature map: ``[N, C, H, W] -> [N, C+1, H, W]``."""
        n, c, h, w = x.shape
        g = min(self.mbstd_group, n)
        while n % g:
            g -= 1
        y = x.reshape(g, n // g, c, h, w)
        y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # [n // g]
        y = y.reshape(1, n // g, 1, 1, 1).expand(g, -1, 1, h, w).reshape(n, 1, h, w)
        return torch.cat([x, y], dim=1)

    def features(self, img: torch.Tensor) -> list[torch.Tensor]:
        """Intermediate activations ``[from_rgb output, block 1 output, ...]`` of ``img [N, 3, res, res]``
        (a learned perceptual feature space, used by the encoder's feature loss)."""
        feats = [self.from_rgb(img)]
        for block in self.blocks:
            feats.append(block(feats[-1]))
        return feats

    def forward(self, img: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.blocks(self.from_rgb(img))
        h = self.fc(self.conv(self.minibatch_stddev(x)).flatten(1))
        logits = self.out(h).squeeze(1)
        if not self.num_classes:
            return logits
        if labels is None:
            raise ValueError("a class-conditional discriminator needs the images' labels")
        cmap = self.embed(torch.nn.functional.one_hot(labels, self.num_classes).to(h.dtype))
        return logits + (h * cmap).sum(dim=1) / math.sqrt(h.shape[1])


def save_discriminator(D: Discriminator, path: str | os.PathLike) -> None:
    """Write ``{"kwargs": D.kwargs, "state_dict": ...}`` atomically to ``path`` (tensors on CPU)."""
    save_module(D, D.kwargs, path)


def load_discriminator(path: str | os.PathLike, map_location="cpu") -> Discriminator:
    """Load a discriminator written by :func:`save_discriminator`; eval mode, ``requires_grad=False``."""
    D = load_module(
        path, Discriminator, what="a discriminator", writer="train_stylegan", map_location=map_location
    )
    return D.requires_grad_(False)

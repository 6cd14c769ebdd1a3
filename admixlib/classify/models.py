"""A small CNN classifier for 32x32 (or smaller) images, and its plain-dict checkpoints."""

from __future__ import annotations

import os

import torch
from torch import nn

from admixlib.runtime import channels_last, load_module, save_module

ARCHS = ("cnn",)


def conv_trunk(*, width: int, in_channels: int = 3) -> tuple[nn.Sequential, int]:
    """Four ``conv3x3 -> BatchNorm -> ReLU`` blocks (``width, 2w, 4w, 4w`` channels, the first three
    followed by 2x2 max-pooling); returns the trunk and its output channels. Images ``[N, C, H, W]``
    with ``H, W >= 8`` map to features ``[N, 4w, H/8, W/8]``."""
    chans = [in_channels, width, 2 * width, 4 * width, 4 * width]
    blocks: list[nn.Module] = []
    for i in range(4):
        blocks += [
            nn.Conv2d(chans[i], chans[i + 1], 3, padding=1, bias=False),
            nn.BatchNorm2d(chans[i + 1]),
            nn.ReLU(inplace=True),
        ]
        if i < 3:
            blocks.append(nn.MaxPool2d(2))
    return nn.Sequential(*blocks), chans[-1]


class SmallCNN(nn.Module):
    """Conv blocks ``conv3x3 -> BatchNorm -> ReLU (-> 2x2 max-pool)``, global average pool, linear.

    Channels ``width, 2*width, 4*width, 4*width``; the first three blocks pool (32 -> 16 -> 8 -> 4),
    the fourth does not. ``forward(x [N, in_channels, H, W]) -> logits [N, num_classes]``; any
    ``H, W >= 8`` works thanks to the global pool.
    """

    def __init__(self, *, num_classes: int, width: int = 32, in_channels: int = 3) -> None:
        super().__init__()
        self.features, channels = conv_trunk(width=width, in_channels=in_channels)
        self.head = nn.Linear(channels, num_classes)
        channels_last(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [N, in_channels, H, W] -> logits [N, num_classes]``."""
        return self.head(self.features(x).mean(dim=(2, 3)))


def build_classifier(
    *, arch: str = "cnn", num_classes: int, width: int = 32, in_channels: int = 3
) -> nn.Module:
    """A :class:`SmallCNN` (``arch="cnn"``) in train mode on the CPU, initialised from torch's global
    RNG; its kwargs are kept in ``model.build_kwargs`` for checkpoints."""
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
    model = SmallCNN(num_classes=num_classes, width=width, in_channels=in_channels)
    model.build_kwargs = dict(arch=arch, num_classes=num_classes, width=width, in_channels=in_channels)
    return model


def save_classifier(model: nn.Module, path: str | os.PathLike) -> None:
    """Write ``{"kwargs": build kwargs, "state_dict": ...}`` atomically to ``path`` (tensors on CPU)."""
    save_module(model, model.build_kwargs, path)


def load_classifier(path: str | os.PathLike, *, map_location="cpu") -> nn.Module:
    """Load a classifier written by :func:`save_classifier` (``weights_only=True``); eval mode."""
    return load_module(
        path, build_classifier, what="a classifier", writer="train_classifier", map_location=map_location
    )

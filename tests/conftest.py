"""Fixtures shared by several test modules."""

import pytest
import torch

from admixlib.stylegan import Generator


@pytest.fixture(scope="module")
def G():
    """A tiny 16x16 generator (6 styles, w_dim 8) in eval mode, with fixed weights."""
    torch.manual_seed(0)
    return Generator(z_dim=8, w_dim=8, mapping_layers=1, resolution=16, channels={4: 8, 8: 8, 16: 8}).eval()

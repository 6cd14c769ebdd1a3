"""Fixtures shared by several test modules."""

import pandas as pd
import pytest
import torch

from admixlib.stylegan import Generator


@pytest.fixture(scope="module")
def G():
    """A tiny 16x16 generator (6 styles, w_dim 8) in eval mode, with fixed weights."""
    torch.manual_seed(0)
    return Generator(z_dim=8, w_dim=8, mapping_layers=1, resolution=16, channels={4: 8, 8: 8, 16: 8}).eval()


N, RES = 24, 16  # images of the classifier tests' batch and their size


@pytest.fixture(scope="module")
def data(G):
    """A labelled batch for the classifier tests: images whose red channel leans with the label, W+
    codes, inversion residuals and a factor table (``smiling`` label, ``skin`` nuisance)."""
    gen = torch.Generator().manual_seed(0)
    codes = torch.randn(N, G.num_ws, G.w_dim, generator=gen)
    labels = torch.arange(N) % 2
    nuisance = (torch.arange(N) // 2) % 2
    images = (torch.rand(N, 3, RES, RES, generator=gen) * 2 - 1) * 0.5
    images[:, 0] += 0.4 * (2 * labels[:, None, None].float() - 1)
    with torch.no_grad():
        residuals = images - G.synthesis(codes)
    factors = pd.DataFrame({"smiling": labels.numpy(), "skin": nuisance.numpy()})
    return dict(images=images, labels=labels, codes=codes, residuals=residuals, factors=factors)

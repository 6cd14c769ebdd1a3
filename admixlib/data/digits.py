"""Colored digits: grey digit images whose strokes are painted with one of 10 palette colours.

The base images are scikit-learn's bundled 8x8 digits (1,797 images, no download), upsampled
bilinearly. ``colorize_digits`` is shared with the colored-MNIST reader. Factors: ``digit`` (the label,
0-9) and ``color`` (0-9, an index into PALETTE). With a bias, ``color == digit`` with probability
``bias``, otherwise the colour is uniform among the other nine.
"""

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

LABEL_NAME = "digit"
DIGIT_FACTORS = ("color",)
NUM_CLASSES = 10
# Ten well-separated stroke colours (RGB, 0-255): red, green, yellow, blue, orange, purple, cyan,
# magenta, lime, pink.
PALETTE = np.array(
    [
        [230, 25, 75],
        [60, 180, 75],
        [255, 225, 25],
        [0, 110, 230],
        [245, 130, 48],
        [145, 30, 180],
        [70, 240, 240],
        [240, 50, 230],
        [170, 255, 80],
        [250, 170, 200],
    ],
    dtype=np.float64,
)


def sample_colors(digits: np.ndarray, *, bias: float | None, rng) -> np.ndarray:
    """Colour index (int64 [N]) per digit: equal to the digit w.p. ``bias``, else one of the other 9;
    uniform and independent of the digit when ``bias`` is None."""
    digits = np.asarray(digits, dtype=np.int64)
    if bias is None:
        return rng.integers(0, NUM_CLASSES, size=len(digits)).astype(np.int64)
    if not 0.0 <= bias <= 1.0:
        raise ValueError(f"bias must be in [0, 1], got {bias}")
    other = (digits + rng.integers(1, NUM_CLASSES, size=len(digits))) % NUM_CLASSES
    return np.where(rng.random(len(digits)) < bias, digits, other).astype(np.int64)


def colorize_digits(
    gray: torch.Tensor | np.ndarray,
    digits: np.ndarray,
    *,
    bias: float | None,
    resolution: int,
    rng,
    color: int | None = None,
) -> tuple[torch.Tensor, pd.DataFrame]:
    """Paint grey digits (float [N, h, w] in [0, 1], stroke = 1) PALETTE[color] on dark grey, with
    per-image brightness and channel jitter, and upsample them bilinearly: (uint8 [N, 3, resolution,
    resolution], int64 factors ``digit, color``). ``color`` overrides every drawn colour index (the
    jitter comes out as without it)."""
    gray = torch.as_tensor(np.asarray(gray), dtype=torch.float32)
    if gray.ndim != 3:
        raise ValueError(f"gray digits must be [N, h, w], got shape {tuple(gray.shape)}")
    n = gray.shape[0]
    colors = sample_colors(digits, bias=bias, rng=rng)
    if color is not None:
        colors = np.full_like(colors, int(color))
    stroke = PALETTE[colors] * rng.uniform(0.9, 1.05, size=(n, 1)) + rng.uniform(-12, 12, size=(n, 3))
    background = rng.uniform(5, 25, size=(n, 1)) + rng.uniform(-5, 5, size=(n, 3))
    alpha = F.interpolate(gray[:, None], size=(resolution, resolution), mode="bilinear", align_corners=False)
    alpha = alpha.clamp(0.0, 1.0).double()
    stroke_t = torch.from_numpy(stroke)[:, :, None, None]
    background_t = torch.from_numpy(background)[:, :, None, None]
    images = background_t + alpha * (stroke_t - background_t)
    images = images.round().clamp(0, 255).to(torch.uint8)
    factors = pd.DataFrame({LABEL_NAME: np.asarray(digits, dtype=np.int64), "color": colors})
    return images, factors


def load_base_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as (grey float [1797, 8, 8] in [0, 1], labels int64 [1797])."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return (bunch.images / 16.0).astype(np.float32), bunch.target.astype(np.int64)


def split_digit_indices(*, n_val: int, n_test: int, seed: int, total: int = 1797) -> dict[str, np.ndarray]:
    """Disjoint index arrays over ``total`` base images from a seeded permutation: ``n_val`` for
    ``val``, ``n_test`` for ``test``, the rest for ``train``."""
    if n_val < 0 or n_test < 0 or n_val + n_test >= total:
        raise ValueError(f"n_val + n_test must be non-negative and < {total}, got {n_val} + {n_test}")
    perm = np.random.default_rng(seed).permutation(total)
    return {
        "val": np.sort(perm[:n_val]),
        "test": np.sort(perm[n_val : n_val + n_test]),
        "train": np.sort(perm[n_val + n_test :]),
    }


def make_colored_digits(
    *,
    indices: np.ndarray,
    bias: float | None,
    seed: int,
    resolution: int = 32,
    n: int | None = None,
    color: int | None = None,
) -> tuple[torch.Tensor, pd.DataFrame]:
    """:func:`colorize_digits` of the base images ``indices``, or of ``n`` drawn from them (with
    replacement only when ``n`` exceeds them; each copy gets its own colour and jitter): uint8
    ``[N, 3, resolution, resolution]`` images and their factors, one row each."""
    rng = np.random.default_rng(seed)
    indices = np.asarray(indices, dtype=np.int64)
    if n is not None and n != len(indices):
        indices = np.sort(rng.choice(indices, size=n, replace=n > len(indices)))
    gray, labels = load_base_digits()
    return colorize_digits(
        gray[indices], labels[indices], bias=bias, resolution=resolution, rng=rng, color=color
    )

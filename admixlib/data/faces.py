"""Procedural RGB faces whose label (``smiling``) is a large-scale mouth shape.

Faces are drawn with NumPy on a grid in "32-pixel units", so the geometry is the same at any
resolution. The mouth is a wide (60-68% of the face), 3-3.6 px thick curve whose corners rise 1-2.5 px
above its middle (smiling) or drop 0.5-2 px below it; with steeper curves a small CNN read the smile so
easily that it ignored every spurious factor, even at a bias of 0.98 (docs/science.md). The nuisance
factors change colours and shading, never geometry:

- ``skin_tone``: 0 light, 1 dark skin;
- ``lighting``: 0 light from the left, 1 from the right (a horizontal shading gradient);
- ``background_hue``: 0 blue-ish, 1 green-ish;
- ``lip_colour``: 0 dark red, 1 dark purple (the ink of the mouth and the eyes).

Each factor is jittered inside its bin; face position, face size and eye spacing are jittered too.
"""

import numpy as np
import pandas as pd
import torch

LABEL_NAME = "smiling"
FACE_FACTORS = ("skin_tone", "lighting", "background_hue", "lip_colour")

_SKIN = np.array([[236.0, 200.0, 170.0], [120.0, 80.0, 56.0]])
_LIPS = np.array([[150.0, 15.0, 35.0], [80.0, 20.0, 130.0]])
_BACKGROUND = np.array([[70.0, 105.0, 195.0], [95.0, 170.0, 75.0]])
_CHUNK = 1024
# mouth-corner height above the mouth's middle, in 32-px units: (low, high) when smiling / not smiling
SMILE_DEPTH = (1.0, 2.5)
FROWN_DEPTH = (-2.0, -0.5)


def sample_binary_factors(
    *, n: int, names: tuple[str, ...], label_name: str, bias: float | None, spurious_factor: str | None, rng
) -> pd.DataFrame:
    """``n`` rows of independent uniform binary factors: int64 columns ``[label_name, *names]``; with a
    ``bias``, ``spurious_factor`` equals the label with that probability."""
    if spurious_factor is not None and spurious_factor not in names:
        raise ValueError(f"spurious_factor must be one of {list(names)} (or None), got {spurious_factor!r}")
    if bias is not None and spurious_factor is None:
        raise ValueError("bias is set but spurious_factor is None; name the factor the bias applies to")
    if bias is not None and not 0.0 <= bias <= 1.0:
        raise ValueError(f"bias must be in [0, 1], got {bias}")
    label = rng.integers(0, 2, size=n)
    columns = {label_name: label}
    for name in names:
        if bias is not None and name == spurious_factor:
            agree = rng.random(n) < bias
            columns[name] = np.where(agree, label, 1 - label)
        else:
            columns[name] = rng.integers(0, 2, size=n)
    return pd.DataFrame({k: v.astype(np.int64) for k, v in columns.items()})


def _soft(edge_distance: np.ndarray, pix: float) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] from a signed distance (positive inside), in 32-px units."""
    return np.clip(edge_distance / pix + 0.5, 0.0, 1.0)


def _ellipse(xx, yy, cx, cy, rx, ry, pix):
    """Coverage [n, H, W] of ellipses with centres ``cx, cy`` and radii ``rx, ry`` (each [n, 1, 1])."""
    r = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
    return _soft((1.0 - r) * np.minimum(rx, ry), pix)


def _mouth(xx, yy, cx, ym, half_width, depth, thickness, pix):
    """Coverage [n, H, W] of a parabolic mouth: corners ``depth`` units above the middle (up = smile)."""
    t = (xx - cx) / half_width
    curve = ym + depth * (0.5 - t**2)
    slope = -2.0 * depth * t / half_width
    dist = np.abs(yy - curve) / np.sqrt(1.0 + slope**2)
    return _soft(thickness / 2.0 - dist, pix) * _soft(half_width - np.abs(xx - cx), pix)


def _blend(img, alpha, colour):
    """``img`` [n, H, W, 3] blended towards ``colour`` ([n, 1, 1, 3]) with coverage ``alpha`` [n, H, W]."""
    a = alpha[..., None]
    return img * (1.0 - a) + colour * a


def _jittered(base: np.ndarray, index: np.ndarray, *, spread: float, scale: float, rng) -> np.ndarray:
    """Per-image colours [n, 1, 1, 3]: ``base[index]`` times a brightness factor plus channel noise."""
    n = len(index)
    brightness = rng.uniform(1.0 - scale, 1.0 + scale, size=(n, 1))
    colour = base[index] * brightness + rng.uniform(-spread, spread, size=(n, 3))
    return colour[:, None, None, :]


def draw_faces(factors: pd.DataFrame, *, resolution: int, rng) -> np.ndarray:
    """Faces for the rows of ``factors`` (columns ``smiling`` + FACE_FACTORS): uint8 [n, 3, res, res]."""
    n = len(factors)
    pix = 32.0 / resolution
    coords = (np.arange(resolution) + 0.5) * pix
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    xx, yy = xx[None], yy[None]

    def u(lo, hi):
        return rng.uniform(lo, hi, size=(n, 1, 1))

    smiling = factors[LABEL_NAME].to_numpy()[:, None, None]
    cx, cy = 16.0 + u(-1, 1), 16.5 + u(-1, 1)
    rx, ry = 11.0 * u(0.92, 1.08), 13.0 * u(0.92, 1.08)

    background = _jittered(_BACKGROUND, factors["background_hue"].to_numpy(), spread=15, scale=0.08, rng=rng)
    img = background * (1.0 + 0.12 * (yy[..., None] - 16.0) / 16.0 * u(-1, 1)[..., None])
    face = _ellipse(xx, yy, cx, cy, rx, ry, pix)
    img = _blend(img, face, _jittered(_SKIN, factors["skin_tone"].to_numpy(), spread=8, scale=0.08, rng=rng))

    # eyes and mouth share one ink (the lip colour), so a face has three colour regions: background,
    # skin and ink; every colour a face shows is one of the nuisances (see docs/design-decisions.md)
    lips = _jittered(_LIPS, factors["lip_colour"].to_numpy(), spread=12, scale=0.05, rng=rng)
    eye_dx, eye_y = 0.38 * rx * u(0.88, 1.12), cy - 0.22 * ry
    for side in (-1.0, 1.0):
        eye = _ellipse(xx, yy, cx + side * eye_dx, eye_y, 1.6 * u(0.9, 1.1), 1.3 * u(0.9, 1.1), pix)
        img = _blend(img, eye, lips)

    depth = np.where(smiling == 1, u(*SMILE_DEPTH), u(*FROWN_DEPTH))
    mouth_y, half_width, thickness = cy + 0.42 * ry, rx * u(0.60, 0.68), u(3.0, 3.6)
    img = _blend(img, _mouth(xx, yy, cx, mouth_y, half_width, depth, thickness, pix), lips)

    side = np.where(factors["lighting"].to_numpy()[:, None, None] == 1, 1.0, -1.0)
    shade = 1.0 + side * u(0.30, 0.45) * np.clip((xx - cx) / rx, -1.0, 1.0)
    img = img * (1.0 + (shade - 1.0) * face)[..., None]
    img = img + rng.normal(0.0, 2.0, size=img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8).transpose(0, 3, 1, 2)


def make_faces(
    *,
    n: int,
    bias: float | None,
    spurious_factor: str | None,
    seed: int,
    resolution: int = 32,
    spurious_value: int | None = None,
) -> tuple[torch.Tensor, pd.DataFrame]:
    """``n`` procedural faces from ``seed``: (uint8 [n, 3, resolution, resolution], int64 factors
    ``smiling, *FACE_FACTORS``). Factors are independent and uniform, except that with a ``bias``
    ``spurious_factor`` equals ``smiling`` with that probability. ``spurious_value`` overrides
    ``spurious_factor`` after the draw; everything else about each face comes out as without it.
    """
    if resolution < 16:
        raise ValueError(f"resolution must be at least 16 pixels, got {resolution}")
    rng = np.random.default_rng(seed)
    factors = sample_binary_factors(
        n=n, names=FACE_FACTORS, label_name=LABEL_NAME, bias=bias, spurious_factor=spurious_factor, rng=rng
    )
    if spurious_value is not None:
        factors[spurious_factor] = int(spurious_value)
    chunks = [
        draw_faces(factors.iloc[start : start + _CHUNK], resolution=resolution, rng=rng)
        for start in range(0, n, _CHUNK)
    ]
    images = np.concatenate(chunks) if chunks else np.zeros((0, 3, resolution, resolution), np.uint8)
    return torch.from_numpy(images), factors

"""Which styles carry which factor: the disentanglement map, mixing scores and marginal gaps.

All readings come from a :class:`~admixlib.analysis.oracle.FactorOracle`. A "pair" is (source ``i``,
donor ``i``); for a factor ``f`` only pairs whose source and donor readings of ``f`` differ count,
and ``moved`` is the share of those pairs where the mixed image's reading equals the donor's.
Shares over zero pairs are NaN.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from admixlib.analysis.oracle import FactorOracle, read_factors
from admixlib.perturb import mix_styles, mixing_start, normalise_mask, render_mixed
from admixlib.report.plotting import pyplot_and_seaborn
from admixlib.runtime import torch_generator

MODES = ("layer", "from")
PANEL_TITLES = {"layer": "style i only", "from": "styles i..L-1", "channel": "channel c, then styles k..L-1"}


def _check_codes(G: nn.Module, source_ws: Tensor, donor_ws: Tensor, residuals: Tensor | None) -> None:
    shape = (int(G.num_ws), int(G.w_dim))
    if source_ws.ndim != 3 or tuple(source_ws.shape[1:]) != shape or source_ws.shape != donor_ws.shape:
        raise ValueError(
            f"source_ws and donor_ws must both be [N, {shape[0]}, {shape[1]}], "
            f"got {tuple(source_ws.shape)} and {tuple(donor_ws.shape)}"
        )
    if residuals is not None and len(residuals) != len(source_ws):
        raise ValueError(f"source_residuals has {len(residuals)} rows, codes have {len(source_ws)}")


def _read_codes(
    G: nn.Module,
    oracle: FactorOracle,
    ws: Tensor,
    *,
    residuals: Tensor | None,
    batch_size: int,
    device: torch.device,
    channel_mask: Tensor | None = None,
    source_ws: Tensor | None = None,
    mask_layer: int = 0,
) -> pd.DataFrame:
    """Render ``ws [N, L, D]`` with ``G.synthesis(noise_mode="const")`` (+ ``residuals [N, 3, H, W]``),
    clamp to ``[-1, 1]`` (always, so source, donor and mixed images are treated alike) in batches and
    return the oracle's readings (DataFrame, N rows). With ``channel_mask``, style ``mask_layer`` is
    channel-mixed between ``source_ws`` and ``ws`` (:func:`~admixlib.perturb.mixing.render_mixed`)."""
    G.eval().to(device)
    images = []
    with torch.inference_mode():
        for start in range(0, len(ws), batch_size):
            rows = slice(start, start + batch_size)
            if channel_mask is None:
                img = G.synthesis(ws[rows].to(device), noise_mode="const")
            else:
                img = render_mixed(
                    G, ws[rows].to(device), source_ws=source_ws[rows].to(device), start=mask_layer,
                    channel_mask=channel_mask.to(device),
                )  # fmt: skip
            if residuals is not None:
                img = img + residuals[rows].to(device)
            images.append(img.clamp(-1.0, 1.0).cpu())
    stacked = torch.cat(images) if images else torch.zeros(0, 3, G.resolution, G.resolution)
    return read_factors(oracle, stacked, batch_size=batch_size, device=device)


def _read_pairs(G, oracle, source_ws, donor_ws, residuals, factor_names, label_name, batch_size, device):
    """Check the pair codes, move them to the CPU and read sources (with ``residuals``) and donors.

    Returns ``(source_ws, donor_ws, source readings, donor readings, read kwargs)``.
    """
    _check_codes(G, source_ws, donor_ws, residuals)
    if label_name not in factor_names:
        raise ValueError(f"label_name {label_name!r} is not in factor_names {factor_names}")
    kw = dict(batch_size=int(batch_size), device=torch.device(device))
    source_ws, donor_ws = source_ws.detach().cpu(), donor_ws.detach().cpu()
    src = _read_codes(G, oracle, source_ws, residuals=residuals, **kw)
    don = _read_codes(G, oracle, donor_ws, residuals=None, **kw)
    return source_ws, donor_ws, src, don, kw


def sample_pairs(G: nn.Module, n: int, *, seed: int) -> tuple[Tensor, Tensor]:
    """``n`` (source, donor) pairs of unmixed W+ codes drawn from ``G`` with ``seed`` on ``G``'s
    device: two ``[n, L, D]`` tensors on the CPU."""
    gen = torch_generator(seed, G.w_avg.device)
    with torch.no_grad():
        ws = G.sample_ws(2 * n, mixing_prob=0.0, generator=gen).cpu()
    return ws[:n], ws[n:]


def _share(hit: np.ndarray, mask: np.ndarray) -> tuple[float, int]:
    """``(mean of hit over mask, mask count)``; NaN over an empty mask."""
    n = int(mask.sum())
    return (float(hit[mask].mean()) if n else float("nan")), n


def _moved(src: pd.DataFrame, don: pd.DataFrame, mixed: pd.DataFrame, factor: str) -> tuple[float, int]:
    s, d, m = (t[factor].to_numpy() for t in (src, don, mixed))
    return _share(m == d, s != d)


def disentanglement_map(
    G: nn.Module,
    oracle: FactorOracle,
    *,
    source_ws: Tensor,
    donor_ws: Tensor,
    factor_names: list[str],
    label_name: str,
    source_residuals: Tensor | None = None,
    batch_size: int = 128,
    device: str | torch.device = "cpu",
) -> pd.DataFrame:
    """Per style layer, which factors move when that layer (or that layer onward) comes from a donor.

    For every layer ``i`` in ``0..L-1``: mode ``"layer"`` copies the donor's style at layer ``i`` only,
    mode ``"from"`` copies styles ``i..L-1``. Mixed images (and the sources' own images) get the
    source's residual when ``source_residuals`` is given; donors are rendered without residual.
    Every rendered image is clamped to ``[-1, 1]`` before the oracle reads it.

    Args:
        G: generator (``num_ws``, ``w_dim``, ``synthesis``); set to eval mode and moved to ``device``.
        oracle: factor oracle reading at least ``factor_names``.
        source_ws, donor_ws: W+ codes ``[N, L, D]``; row ``i`` of each forms pair ``i``.
        factor_names: factors to report (must be oracle heads).
        label_name: the label factor (must be in ``factor_names``); its ``moved`` is the label flip
            rate, so ``1 - moved`` is "label kept".
        source_residuals: ``[N, 3, H, W]`` added to source and mixed images, or None.
        batch_size: images per forward pass.
        device: device of rendering and reading.

    Returns:
        Long DataFrame, ``2 * L * F`` rows, columns ``mode`` ("layer"/"from"), ``layer`` (int),
        ``factor``, ``moved`` (float in [0, 1], NaN where ``n_pairs == 0``), ``n_pairs`` (int),
        ``is_label`` (bool).
    """
    source_ws, donor_ws, src, don, kw = _read_pairs(
        G, oracle, source_ws, donor_ws, source_residuals, factor_names, label_name, batch_size, device
    )
    rows = []
    for mode in MODES:
        for i in range(int(G.num_ws)):
            mixed_ws = source_ws.clone()
            sel = slice(i, i + 1) if mode == "layer" else slice(i, None)
            mixed_ws[:, sel] = donor_ws[:, sel]
            mixed = _read_codes(G, oracle, mixed_ws, residuals=source_residuals, **kw)
            for f in factor_names:
                moved, n = _moved(src, don, mixed, f)
                rows.append(
                    dict(mode=mode, layer=i, factor=f, moved=moved, n_pairs=n, is_label=f == label_name)
                )
    return pd.DataFrame(rows, columns=["mode", "layer", "factor", "moved", "n_pairs", "is_label"])


def mixing_scores(
    G: nn.Module,
    oracle: FactorOracle,
    *,
    split_index: int,
    source_ws: Tensor,
    donor_ws: Tensor,
    factor_names: list[str],
    label_name: str,
    source_residuals: Tensor | None = None,
    channel_mask: Tensor | None = None,
    batch_size: int = 128,
    device: str | torch.device = "cpu",
) -> dict:
    """How well full fine-style mixing at split ``k`` keeps the label and moves the nuisances.

    The mixed codes are :func:`~admixlib.perturb.mix_styles` with one donor (``donor_ws[i]`` for
    source ``i``) and all coefficients 1, i.e. styles ``k..L-1`` taken from the donor, and with
    ``channel_mask`` also the masked channels of style ``k-1`` (as :class:`~admixlib.perturb.StyleMixSet`).

    Args:
        split_index: ``k`` in ``0..L-1``.
        channel_mask: 0/1 ``[C]`` over style ``k-1``'s modulation channels, or None.
        Others: as in :func:`disentanglement_map`.

    Returns:
        ``{"label_kept": float, "nuisance_moved": {factor: float}, "n_pairs": N, "n_label_pairs": int}``
        where ``label_kept`` is the share, among pairs whose source/donor label readings differ
        (``n_label_pairs`` of them), of mixed images that keep the source's label reading, and
        ``nuisance_moved[f]`` is ``moved`` (as in the map) for every non-label factor. Shares over
        zero pairs are NaN.
    """
    source_ws, donor_ws, src, don, kw = _read_pairs(
        G, oracle, source_ws, donor_ws, source_residuals, factor_names, label_name, batch_size, device
    )
    mask = normalise_mask(channel_mask)
    start = mixing_start(int(split_index), mask)
    coeffs = torch.ones(len(source_ws), 1, int(G.num_ws) - start)  # validated by mix_styles
    mixed_ws = mix_styles(source_ws, donor_ws[:, None], coeffs, start)
    mixed = _read_codes(
        G, oracle, mixed_ws, residuals=source_residuals, channel_mask=mask, source_ws=source_ws,
        mask_layer=start, **kw,
    )  # fmt: skip
    s, d, m = (t[label_name].to_numpy() for t in (src, don, mixed))
    label_kept, n_label = _share(m == s, s != d)
    nuisance = {f: _moved(src, don, mixed, f)[0] for f in factor_names if f != label_name}
    return {
        "label_kept": label_kept,
        "nuisance_moved": nuisance,
        "n_pairs": len(source_ws),
        "n_label_pairs": n_label,
    }


def factor_shares(readings: pd.DataFrame, factor: str) -> dict[str, float]:
    """``{value (as a string): share of rows}`` of one factor's readings, values in ascending order."""
    shares = readings[factor].value_counts(normalize=True).sort_index()
    return {str(value): float(share) for value, share in shares.items()}


def marginal_gap(pred_a: pd.DataFrame, pred_b: pd.DataFrame, factor_names: list[str]) -> float:
    """``max over factors f and values v of |P_a(f = v) - P_b(f = v)|`` (empirical marginals).

    Args:
        pred_a, pred_b: DataFrames of int readings (any lengths >= 1) with columns ``factor_names``.
        factor_names: factors to compare.

    Returns:
        The gap in ``[0, 1]`` (0 for identical marginals, 1 when some value is certain in one frame
        and absent from the other).
    """
    gap = 0.0
    for f in factor_names:
        pa = pred_a[f].value_counts(normalize=True)
        pb = pred_b[f].value_counts(normalize=True)
        pa, pb = pa.align(pb, fill_value=0.0)
        if len(pa):
            gap = max(gap, float((pa - pb).abs().max()))
    return gap


def plot_map(map_df: pd.DataFrame, path, *, title: str, ylabel: str = "layer") -> None:
    """Heatmaps of ``moved`` from :func:`disentanglement_map`, one panel per mode, saved as PNG.

    Layers (column ``layer``, named ``ylabel``) on the y axis, factors (in first-seen order) on the x
    axis, values annotated with two decimals, colour scale fixed to ``[0, 1]``; NaN cells are left
    blank. The title is wrapped to the figure's width.
    """
    modes = [m for m in MODES if m in set(map_df["mode"])] or sorted(set(map_df["mode"]))
    factors = list(dict.fromkeys(map_df["factor"]))
    n_layers = int(map_df["layer"].nunique()) if len(map_df) else 1
    plt, sns = pyplot_and_seaborn()
    width = 1.5 + 1.1 * len(factors) * len(modes)
    row_height = 0.45 if n_layers <= 12 else 0.25  # a per-channel map has dozens of rows
    fig, axes = plt.subplots(
        1, len(modes), figsize=(width, 1.5 + row_height * n_layers), squeeze=False, layout="constrained"
    )
    for ax, mode in zip(axes[0], modes):
        grid = (
            map_df[map_df["mode"] == mode]
            .pivot(index="layer", columns="factor", values="moved")
            .reindex(columns=factors)
            .sort_index()
        )
        sns.heatmap(grid, ax=ax, vmin=0.0, vmax=1.0, annot=True, fmt=".2f", cmap="viridis", cbar=True)
        ax.set_title(PANEL_TITLES.get(mode, mode))
        ax.set_xlabel("factor")
        ax.set_ylabel(ylabel)
    fig.suptitle(textwrap.fill(title, width=int(8 * width)))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)

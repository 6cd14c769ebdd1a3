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
from admixlib.perturb import mix_styles
from admixlib.report.plotting import pyplot_and_seaborn
from admixlib.runtime import torch_generator

MODES = ("layer", "from")
PANEL_TITLES = {"layer": "style i only", "from": "styles i..L-1"}


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
) -> pd.DataFrame:
    """Render ``ws [N, L, D]`` with ``G.synthesis(noise_mode="const")`` (+ ``residuals [N, 3, H, W]``),
    clamp to ``[-1, 1]`` (always, so source, donor and mixed images are treated alike) in batches and
    return the oracle's readings (DataFrame, N rows)."""
    G.eval().to(device)
    images = []
    with torch.inference_mode():
        for start in range(0, len(ws), batch_size):
            rows = slice(start, start + batch_size)
            img = G.synthesis(ws[rows].to(device), noise_mode="const")
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

    Pair ``i`` is row ``i`` of ``source_ws`` and ``donor_ws`` (``[N, L, D]``). For every layer ``i``,
    mode ``"layer"`` copies the donor's style ``i`` only, mode ``"from"`` styles ``i..L-1``. Sources
    and mixed images get ``source_residuals [N, 3, H, W]`` when given (donors never). ``G`` is set to
    eval mode and moved to ``device``; ``label_name`` must be in ``factor_names`` (oracle heads), and
    its ``moved`` is the label flip rate.

    Returns a long DataFrame of ``2 * L * F`` rows with columns ``mode``, ``layer``, ``factor``,
    ``moved`` (NaN where ``n_pairs == 0``), ``n_pairs`` and ``is_label``.
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
    batch_size: int = 128,
    device: str | torch.device = "cpu",
) -> dict:
    """How well taking styles ``split_index..L-1`` from the donor (:func:`~admixlib.perturb.mix_styles`
    with coefficients 1) keeps the label and moves the nuisances; ``split_index`` in ``[0, L)``, one
    pair per row of ``source_ws`` and ``donor_ws`` (both ``[N, L, D]``); other arguments as in
    :func:`disentanglement_map`.

    Returns ``{"label_kept", "nuisance_moved": {factor: moved}, "n_pairs", "n_label_pairs"}``:
    ``label_kept`` is the share of mixed images keeping the source's label reading among the
    ``n_label_pairs`` pairs whose label readings differ; ``nuisance_moved`` has ``moved`` (as in the
    map) for every non-label factor.
    """
    source_ws, donor_ws, src, don, kw = _read_pairs(
        G, oracle, source_ws, donor_ws, source_residuals, factor_names, label_name, batch_size, device
    )
    start = int(split_index)
    coeffs = torch.ones(len(source_ws), 1, int(G.num_ws) - start)  # validated by mix_styles
    mixed_ws = mix_styles(source_ws, donor_ws[:, None], coeffs, start)
    mixed = _read_codes(G, oracle, mixed_ws, residuals=source_residuals, **kw)
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
    """``max over factors f and values v of |P_a(f = v) - P_b(f = v)|`` in ``[0, 1]``, with ``P`` the
    empirical marginals of int readings (DataFrames of any lengths >= 1 with columns ``factor_names``)."""
    gap = 0.0
    for f in factor_names:
        pa = pred_a[f].value_counts(normalize=True)
        pb = pred_b[f].value_counts(normalize=True)
        pa, pb = pa.align(pb, fill_value=0.0)
        if len(pa):
            gap = max(gap, float((pa - pb).abs().max()))
    return gap


def plot_map(map_df: pd.DataFrame, path, *, title: str) -> None:
    """Heatmaps of ``moved`` from :func:`disentanglement_map` (layers by factors, in ``[0, 1]``, NaN
    blank), one panel per mode, saved as PNG at ``path`` under the wrapped ``title``."""
    modes = [m for m in MODES if m in set(map_df["mode"])]
    factors = list(dict.fromkeys(map_df["factor"]))
    n_layers = int(map_df["layer"].nunique()) if len(map_df) else 1
    plt, sns = pyplot_and_seaborn()
    width = 1.5 + 1.1 * len(factors) * len(modes)
    fig, axes = plt.subplots(
        1, len(modes), figsize=(width, 1.5 + 0.45 * n_layers), squeeze=False, layout="constrained"
    )
    for ax, mode in zip(axes[0], modes):
        grid = (
            map_df[map_df["mode"] == mode]
            .pivot(index="layer", columns="factor", values="moved")
            .reindex(columns=factors)
            .sort_index()
        )
        sns.heatmap(grid, ax=ax, vmin=0.0, vmax=1.0, annot=True, fmt=".2f", cmap="viridis", cbar=True)
        ax.set_title(PANEL_TITLES[mode])
        ax.set_xlabel("factor")
        ax.set_ylabel("layer")
    fig.suptitle(textwrap.fill(title, width=int(8 * width)))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)

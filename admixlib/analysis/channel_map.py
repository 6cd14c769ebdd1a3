"""A diagnostic of the last coarse style's channels (StyleSpace's channels): what they carry.

At a split index ``k`` a nuisance can live partly in style ``k-1``, next to the label. Per modulation
channel ``c`` of the conv that style ``k-1`` drives, :func:`channel_scores` measures, with the oracle,
what mixing moves when channel ``c`` (and styles ``k..L-1``) come from the donor. It only measures:
no classifier trains with anything chosen from it.
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from admixlib.analysis.disentangle import mixing_scores
from admixlib.analysis.oracle import FactorOracle


def mask_channels(G: nn.Module, split_index: int) -> int:
    """Number of modulation channels of the conv driven by style ``split_index - 1``."""
    layer = int(split_index) - 1
    if not 0 <= layer < len(G.synthesis.convs):
        raise ValueError(
            f"style {layer} drives no conv; a channel mask needs 1 <= k <= {len(G.synthesis.convs)}"
        )
    return int(G.synthesis.convs[layer].conv.weight.shape[1])


def channel_scores(G: nn.Module, oracle: FactorOracle, *, split_index: int, **pairs) -> pd.DataFrame:
    """Mixing scores with each channel of style ``k-1`` mixed alone (plus styles ``k..L-1``).

    Args:
        G, oracle, split_index: as in :func:`~admixlib.analysis.mixing_scores`.
        pairs: the other keyword arguments of :func:`~admixlib.analysis.mixing_scores` (``source_ws``,
            ``donor_ws``, ``factor_names``, ``label_name``, ``source_residuals``, ``device``, ...).

    Returns:
        Long DataFrame, one row per (channel, factor): ``mode`` ("channel"), ``layer`` (the channel
        index), ``factor``, ``moved`` (label: the flip rate ``1 - label_kept``), ``is_label``; the
        shape :func:`~admixlib.analysis.plot_map` draws.
    """
    channels = mask_channels(G, split_index)
    rows = []
    for c in range(channels):
        one = torch.zeros(channels)
        one[c] = 1.0
        scores = mixing_scores(G, oracle, split_index=split_index, channel_mask=one, **pairs)
        rows += _rows(scores, channel=c, label_name=pairs["label_name"])
    return pd.DataFrame(rows, columns=["mode", "layer", "factor", "moved", "is_label"])


def _rows(scores: dict, *, channel: int, label_name: str) -> list[dict]:
    flips = 1.0 - scores["label_kept"]
    rows = [dict(mode="channel", layer=channel, factor=label_name, moved=flips, is_label=True)]
    for f, moved in scores["nuisance_moved"].items():
        rows.append(dict(mode="channel", layer=channel, factor=f, moved=moved, is_label=False))
    return rows

"""Which channels of the last coarse style mixing may also take from a donor (StyleSpace's channels).

At a split index ``k`` a nuisance can live partly in style ``k-1``, next to the label. Per modulation
channel ``c`` of the conv that style ``k-1`` drives, :func:`channel_scores` measures what mixing moves
when channel ``c`` (and styles ``k..L-1``) come from the donor. :func:`choose_channel_mask` then adds
channels greedily, best ratio of nuisance moved to label flips first, while the label is still kept.

This uses more knowledge than the paper's split index: the oracle, which reads the nuisances, picks the
channels. It judges training pairs only (never test images) and never trains a classifier itself.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor, nn

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


def weakest_nuisance(scores: dict) -> str | None:
    """The nuisance that mixing moves least (NaN shares ignored), or None when there is none."""
    moved = {f: m for f, m in scores["nuisance_moved"].items() if not math.isnan(m)}
    return min(moved, key=moved.get) if moved else None


def choose_channel_mask(
    G: nn.Module,
    oracle: FactorOracle,
    *,
    split_index: int,
    min_label_kept: float,
    nuisance_target: float = 1.0,
    per_channel: pd.DataFrame | None = None,
    **pairs,
) -> tuple[Tensor, dict]:
    """Greedy 0/1 mask ``[C]`` over style ``k-1``'s channels for the nuisance mixing moves least.

    No channel is mixed when whole-style mixing at ``k`` already moves every nuisance in at least
    ``nuisance_target`` of pairs: a channel would then cost label flips for next to no gain.

    Channels are ranked by how much mixing each alone raises that nuisance per label flip it costs
    (``gain / (flips + 0.01)``); only channels with a positive gain are tried. A channel is kept when,
    with it, the label is still kept in at least ``min_label_kept`` of pairs (or, where whole-style
    mixing at ``k`` already keeps it less often, at least as often as that does) and the nuisance
    moves at least as often as without it.

    Args:
        G, oracle, split_index: as in :func:`~admixlib.analysis.mixing_scores`.
        min_label_kept: share of label-differing pairs that must keep the source's label.
        nuisance_target: share of pairs below which the weakest nuisance gets a mask.
        per_channel: :func:`channel_scores` of the same pairs, or None to compute it.
        pairs: the other keyword arguments of :func:`~admixlib.analysis.mixing_scores`.

    Returns:
        ``(mask [C], summary)``; ``summary`` has ``target_factor`` (None: no nuisance below target),
        ``without_mask`` and ``with_mask`` (mixing scores on these pairs).
    """
    channels = mask_channels(G, split_index)
    base = mixing_scores(G, oracle, split_index=split_index, **pairs)
    target = weakest_nuisance(base)
    if target is not None and base["nuisance_moved"][target] >= nuisance_target:
        target = None
    mask, best = torch.zeros(channels), base
    label_floor = min(min_label_kept, base["label_kept"])
    if target is not None:
        table = (
            channel_scores(G, oracle, split_index=split_index, **pairs)
            if per_channel is None
            else per_channel
        )
        alone = table.pivot(index="layer", columns="factor", values="moved")
        flips = (alone[pairs["label_name"]] - (1.0 - base["label_kept"])).clip(lower=0.0)
        gain = alone[target] - base["nuisance_moved"][target]
        ranked = (gain / (flips + 0.01))[gain > 0].sort_values(ascending=False)
        for c in ranked.index:
            trial = mask.clone()
            trial[int(c)] = 1.0
            scores = mixing_scores(G, oracle, split_index=split_index, channel_mask=trial, **pairs)
            if (
                scores["label_kept"] >= label_floor
                and scores["nuisance_moved"][target] >= best["nuisance_moved"][target]
            ):
                mask, best = trial, scores
    return mask, {"target_factor": target, "without_mask": base, "with_mask": best}


def masked_channels(mask: Tensor | None) -> list[int] | None:
    """The indices where a 0/1 mask ``[C]`` is 1 (None for no mask): how files record a mask."""
    return None if mask is None else mask.nonzero().flatten().tolist()


def save_channel_mask(path, *, mask: Tensor, split_index: int, enabled: bool, **summary) -> None:
    """Write the mask as JSON: ``enabled``, ``layer`` (``k - 1``), ``split_index``, ``num_channels``,
    ``channels`` (the mixed channel indices; empty when disabled) and the ``summary`` entries."""
    chosen = masked_channels(mask) if enabled else []
    record = {
        "enabled": bool(enabled),
        "layer": int(split_index) - 1,
        "split_index": int(split_index),
        "num_channels": int(len(mask)),
        "channels": chosen,
        **summary,
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(record, indent=2, default=float) + "\n")


def load_channel_mask(path, *, split_index: int) -> Tensor | None:
    """The mask saved by :func:`save_channel_mask` as a 0/1 ``[C]`` tensor when it applies at
    ``split_index`` (its layer is ``split_index - 1`` and it mixes at least one channel), else None.
    ``path=None`` also gives None."""
    if path is None:
        return None
    try:
        record = json.loads(Path(path).read_text())
        layer, channels, size = int(record["layer"]), list(record["channels"]), int(record["num_channels"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RuntimeError(f"{path} is not a channel mask ({err}); re-run rule channel_mask") from err
    if layer != int(split_index) - 1 or not channels:
        return None
    mask = torch.zeros(size)
    mask[channels] = 1.0
    return mask

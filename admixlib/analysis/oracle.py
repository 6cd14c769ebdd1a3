"""A factor classifier ("oracle") that reads every factor of an image.

It is trained on the ``oracle`` split (all factors independent) and only ever *judges* images
(generated, mixed, reconstructed); it is never used to train a robust classifier.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from admixlib.classify.models import conv_trunk
from admixlib.runtime import load_module, save_module, torch_generator

log = logging.getLogger("admix.analysis")
WEIGHT_DECAY = 5e-4  # the oracle's AdamW
MIN_CELL_ROWS = 5  # images a (value, value) cell needs to count in pair_balanced_accuracy


class FactorOracle(nn.Module):
    """The classifier's conv trunk (:func:`~admixlib.classify.models.conv_trunk` of ``width``, then a
    global average pool) with a linear head per entry of ``factor_classes`` (``{factor: K_f}``).

    ``forward(x [N, in_channels, H, W] in [-1, 1], H, W >= 8) -> {factor: logits [N, K_f]}``.
    """

    def __init__(self, *, factor_classes: dict[str, int], width: int = 32, in_channels: int = 3) -> None:
        super().__init__()
        if not factor_classes:
            raise ValueError("factor_classes must name at least one factor")
        if any(int(k) < 1 for k in factor_classes.values()):
            raise ValueError(f"every factor needs >= 1 class, got {factor_classes}")
        self.factor_classes = {str(f): int(k) for f, k in factor_classes.items()}
        self.build_kwargs = dict(
            factor_classes=dict(self.factor_classes), width=width, in_channels=in_channels
        )
        self.features, channels = conv_trunk(width=width, in_channels=in_channels)
        # A ModuleList (not ModuleDict): factor names need not be valid module names.
        self.heads = nn.ModuleList(nn.Linear(channels, k) for k in self.factor_classes.values())

    @property
    def factor_names(self) -> list[str]:
        """Factor names in head order."""
        return list(self.factor_classes)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        """``x [N, C, H, W] -> {factor: logits [N, K_f]}``."""
        h = self.features(x).mean(dim=(2, 3))
        return {f: head(h) for f, head in zip(self.factor_classes, self.heads)}


def train_oracle(
    *,
    images: Tensor,
    factors: pd.DataFrame,
    factor_names: list[str],
    steps: int,
    batch_size: int,
    lr: float = 1e-3,
    width: int = 32,
    device: str | torch.device = "cpu",
    seed: int = 0,
    progress: bool = True,
) -> FactorOracle:
    """A :class:`FactorOracle` trained on ``images [N, 3, H, W]`` in ``[-1, 1]`` to read the columns
    ``factor_names`` (label first; non-negative ints, ``K_f = max + 1``) of the aligned ``factors``.

    Loss: the heads' cross-entropies summed; AdamW with cosine decay to 0 over ``steps``; batches of
    ``batch_size`` (at most N) from seeded epoch permutations. ``seed`` sets the init (the global RNG
    is forked, not consumed) and the data order. Returns the oracle in eval mode on ``device``.
    """
    if len(images) != len(factors):
        raise ValueError(f"images ({len(images)}) and factors ({len(factors)}) differ in length")
    missing = [f for f in factor_names if f not in factors.columns]
    if missing:
        raise ValueError(f"factors lack columns {missing}; have {list(factors.columns)}")
    device = torch.device(device)
    targets = torch.tensor(factors[list(factor_names)].to_numpy(dtype=np.int64))  # [N, F]
    if (targets < 0).any():
        raise ValueError("factor values must be non-negative integers")
    factor_classes = {f: int(targets[:, j].max()) + 1 for j, f in enumerate(factor_names)}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = FactorOracle(factor_classes=factor_classes, width=width, in_channels=images.shape[1])
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=WEIGHT_DECAY)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(int(steps), 1))
    n = len(images)
    batch_size = min(int(batch_size), n)
    data_gen = torch_generator(seed)
    perm, cursor = torch.randperm(n, generator=data_gen), 0
    log.info(
        "training factor oracle %s for %d steps, batch %d, on %s", factor_classes, steps, batch_size, device
    )
    for _step in tqdm(range(int(steps)), disable=not progress, desc="oracle"):
        if cursor + batch_size > n:
            perm, cursor = torch.randperm(n, generator=data_gen), 0
        idx = perm[cursor : cursor + batch_size]
        cursor += batch_size
        x, y = images[idx].to(device), targets[idx].to(device)
        logits = model(x)
        loss = sum(F.cross_entropy(logits[f], y[:, j]) for j, f in enumerate(factor_names))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
    return model.eval()


def save_oracle(model: FactorOracle, path: str | os.PathLike) -> None:
    """Write ``{"kwargs": constructor kwargs, "state_dict": ...}`` atomically (tensors on CPU)."""
    save_module(model, model.build_kwargs, path)


def load_oracle(path: str | os.PathLike, map_location="cpu") -> FactorOracle:
    """Load an oracle written by :func:`save_oracle` (``weights_only=True``); eval mode on ``map_location``."""
    return load_module(path, FactorOracle, what="an oracle", writer="train_oracle", map_location=map_location)


def read_factors(
    oracle: FactorOracle,
    images: Tensor,
    *,
    batch_size: int = 256,
    device: str | torch.device = "cpu",
) -> pd.DataFrame:
    """The argmax of every head for ``images [N, 3, H, W]`` in ``[-1, 1]`` (read in batches on
    ``device``, where the oracle is moved in eval mode): int64 DataFrame of N rows indexed 0..N-1, a
    column per factor."""
    device = torch.device(device)
    oracle.eval().to(device)
    chunks: dict[str, list[Tensor]] = {f: [] for f in oracle.factor_names}
    with torch.inference_mode():
        for start in range(0, len(images), max(1, int(batch_size))):
            logits = oracle(images[start : start + batch_size].to(device, torch.float32))
            for f, z in logits.items():
                chunks[f].append(z.argmax(1).cpu())
    cols = {f: (torch.cat(c) if c else torch.zeros(0, dtype=torch.int64)).numpy() for f, c in chunks.items()}
    return pd.DataFrame(cols, columns=oracle.factor_names).astype("int64")


def readings_accuracy(pred: pd.DataFrame, truth: pd.DataFrame, factor_names: list[str]) -> dict[str, float]:
    """``{factor: share of rows where the reading equals the truth}`` (rows aligned by position)."""
    truth = truth.reset_index(drop=True)
    return {f: float((pred[f].to_numpy() == truth[f].to_numpy()).mean()) for f in factor_names}


def pair_balanced_accuracy(
    pred: pd.DataFrame, truth: pd.DataFrame, factor_names: list[str]
) -> dict[str, dict]:
    """Each factor's accuracy as if the images were balanced over it and one other factor, at worst.

    For factors ``f`` and ``g``, ``f``'s accuracy is averaged over the (``f`` value, ``g`` value) cells
    of at least ``MIN_CELL_ROWS`` images; the lowest over ``g`` is reported. A head that reads a
    correlated factor instead of its own (lipstick for gender) scores low in the cells where the two
    disagree, which a plain accuracy on correlated images hides. ``pred`` and ``truth``: a row per
    image, a column per factor. Returns ``{f: {"accuracy", "against": g}}`` (NaN and None where no
    pair has two such cells).
    """
    truth = truth.reset_index(drop=True)
    result = {}
    for f in factor_names:
        hit = pd.Series(pred[f].to_numpy() == truth[f].to_numpy())
        worst = {"accuracy": float("nan"), "against": None}
        for g in (g for g in factor_names if g != f):
            cells = hit.groupby([truth[f], truth[g]]).agg(["mean", "size"])
            cells = cells[cells["size"] >= MIN_CELL_ROWS]
            if len(cells) < 2:
                continue
            balanced = float(cells["mean"].mean())
            if worst["against"] is None or balanced < worst["accuracy"]:
                worst = {"accuracy": balanced, "against": g}
        result[f] = worst
    return result

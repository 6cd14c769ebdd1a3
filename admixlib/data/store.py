"""Split files: ``{split}.pt`` (uint8 images, int64 labels, meta) + ``{split}_factors.csv``.

The ``.pt`` is a plain dict loadable with ``torch.load(weights_only=True)``; the csv holds one integer
column per factor (label included), one row per image, in the same order.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from admixlib.runtime import atomic_write, save_atomic

REQUIRED_META = ("dataset", "split", "label_name", "factor_names", "num_classes", "spurious_factor", "bias")
_REMEDY = "re-create it with the make_dataset rule (e.g. snakemake --forcerun make_dataset)"


@dataclass
class SplitData:
    """One loaded split: images float32 [N, 3, H, W] in [-1, 1], labels int64 [N], factors, meta."""

    images: torch.Tensor
    labels: torch.Tensor
    factors: pd.DataFrame
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def factors_path_for(pt_path: str | os.PathLike) -> Path:
    """The factors csv that belongs to a split file: ``data/train.pt`` -> ``data/train_factors.csv``."""
    pt_path = Path(pt_path)
    return pt_path.with_name(f"{pt_path.stem}_factors.csv")


def _check_arrays(images: torch.Tensor, labels: torch.Tensor, factors: pd.DataFrame, meta: dict) -> None:
    """Raise ValueError unless shapes, dtypes, meta keys and the label column agree."""
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 4:
        raise ValueError("images must be a uint8 tensor [N, 3, H, W]")
    if images.shape[1] != 3:
        raise ValueError(f"images must have 3 channels, got shape {tuple(images.shape)}")
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64 or labels.ndim != 1:
        raise ValueError("labels must be an int64 tensor [N]")
    n = images.shape[0]
    if labels.shape[0] != n or len(factors) != n:
        raise ValueError(f"images ({n}), labels ({labels.shape[0]}) and factors ({len(factors)}) differ")
    missing = [key for key in REQUIRED_META if key not in meta]
    if missing:
        raise ValueError(f"meta lacks keys {missing}")
    label_name = meta["label_name"]
    if label_name not in factors.columns:
        raise ValueError(f"factors must contain the label column {label_name!r}")
    if not (factors[label_name].to_numpy() == labels.numpy()).all():
        raise ValueError(f"labels differ from factors[{label_name!r}]")


def save_split(
    pt_path: str | os.PathLike,
    csv_path: str | os.PathLike,
    *,
    images: torch.Tensor,
    labels: torch.Tensor,
    factors: pd.DataFrame,
    meta: dict,
) -> None:
    """Write a split atomically: the csv first, then the ``.pt`` (uint8 images, int64 labels, meta).

    ``csv_path`` must be ``factors_path_for(pt_path)`` so that ``load_split`` finds it. ``meta`` needs
    REQUIRED_META; ``n``, ``resolution`` and the factor names are filled in from the data.
    """
    pt_path, csv_path = Path(pt_path), Path(csv_path)
    if csv_path.resolve() != factors_path_for(pt_path).resolve():
        raise ValueError(f"factors csv for {pt_path} must be {factors_path_for(pt_path)}, got {csv_path}")
    factors = factors.reset_index(drop=True).astype("int64")
    _check_arrays(images, labels, factors, meta)
    meta = {
        **meta,
        "n": int(images.shape[0]),
        "resolution": int(images.shape[-1]),
        "factor_names": list(meta["factor_names"]),
    }
    with atomic_write(csv_path, "w", newline="") as handle:
        factors.to_csv(handle, index=False)
    save_atomic({"images": images.contiguous(), "labels": labels.contiguous(), "meta": meta}, pt_path)


def load_split(pt_path: str | os.PathLike) -> SplitData:
    """Load a split written by ``save_split`` and its factors csv.

    Returns SplitData with images float32 [N, 3, H, W] in [-1, 1]. Raises FileNotFoundError or
    RuntimeError naming the path and the rule that re-creates it when a file is missing or corrupt.
    """
    pt_path = Path(pt_path)
    csv_path = factors_path_for(pt_path)
    for path in (pt_path, csv_path):
        if not path.is_file():
            raise FileNotFoundError(f"split file {path} does not exist; {_REMEDY}")
    try:
        blob = torch.load(pt_path, map_location="cpu", weights_only=True)
        images, labels, meta = blob["images"], blob["labels"], blob["meta"]
    except Exception as err:  # truncated zip, wrong type, missing key
        raise RuntimeError(
            f"split file {pt_path} is truncated or corrupt ({type(err).__name__}: {err}); "
            f"delete it and {_REMEDY}"
        ) from err
    try:
        factors = pd.read_csv(csv_path)
    except Exception as err:
        raise RuntimeError(f"factors file {csv_path} is unreadable ({err}); delete it and {_REMEDY}") from err
    if len(factors) != images.shape[0] or labels.shape[0] != images.shape[0]:
        raise RuntimeError(
            f"{csv_path} has {len(factors)} rows but {pt_path} holds {images.shape[0]} images and "
            f"{labels.shape[0]} labels; {_REMEDY}"
        )
    if images.dtype != torch.uint8:
        raise RuntimeError(f"split file {pt_path} holds {images.dtype} images, expected uint8; {_REMEDY}")
    return SplitData(images=images.float() / 127.5 - 1.0, labels=labels.long(), factors=factors, meta=meta)

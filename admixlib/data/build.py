"""``build_dataset``: make every split of one data set and write its split files.

The train split is biased (``spurious_factor`` agrees with the label with probability ``bias``); val
and test are unbiased (label and nuisance factors independent). Each split draws from its own seed,
derived from ``seed`` and the split name.
"""

import logging
import os
import zlib

import numpy as np
import pandas as pd
import torch

from admixlib.data import digits as digits_mod
from admixlib.data import faces as faces_mod
from admixlib.data import real
from admixlib.data.store import save_split

log = logging.getLogger("admix.data")
# "oracle": factors all independent, drawn from the training pool; it trains the factor oracle that
# judges generated and mixed images, never a robust classifier.
# "pool": unbiased, drawn from the training pool; the bias sweep subsamples its training sets from it.
SPLITS = ("train", "val", "test", "oracle", "pool")
FROM_TRAINING_POOL = ("train", "oracle", "pool")


def split_seed(seed: int, split: str) -> int:
    """A 32-bit seed for ``split`` derived from the data set's ``seed`` (stable across runs)."""
    return int(np.random.SeedSequence([int(seed), zlib.crc32(split.encode())]).generate_state(1)[0])


def agreement(factors: pd.DataFrame, label_name: str, spurious_factor: str | None) -> float | None:
    """Fraction of rows where ``spurious_factor`` equals the label (None without a spurious factor)."""
    if spurious_factor is None or len(factors) == 0:
        return None
    return float((factors[label_name] == factors[spurious_factor]).mean())


def subsample_with_bias(
    label: np.ndarray, spurious: np.ndarray, *, n: int | None, bias: float, rng
) -> np.ndarray:
    """Indices of a subset with balanced labels where ``spurious == label`` w.p. ``bias``.

    For every class ``c`` (the values of ``label``) the agreeing group (label ``c``, spurious ``c``)
    gets an equal share of ``round(n * bias)`` rows and the disagreeing group (label ``c``, spurious
    any other value) an equal share of the rest; shares that do not divide evenly give their extra
    rows to the last classes. ``n=None`` (or too large) gives the largest such subset, with a warning
    when ``n`` was asked for. Returns sorted int64 indices. Raises ValueError naming the group sizes
    when not even one row per group fits.
    """
    classes = np.unique(label)
    agreeing = [np.flatnonzero((label == c) & (spurious == c)) for c in classes]
    disagreeing = [np.flatnonzero((label == c) & (spurious != c)) for c in classes]
    groups = agreeing + disagreeing  # the order in which rows are drawn

    def counts(total: int) -> list[int]:
        agree = int(round(total * bias))
        return _spread(agree, len(classes)) + _spread(total - agree, len(classes))

    shares = [bias / len(classes)] * len(classes) + [(1 - bias) / len(classes)] * len(classes)
    largest = min(len(label), int(min(len(g) / f for g, f in zip(groups, shares) if f > 0)) + 2)
    while largest > 0 and any(c > len(g) for g, c in zip(groups, counts(largest))):
        largest -= 1
    if largest == 0:
        sizes = {f"label {c}": (len(a), len(d)) for c, a, d in zip(classes, agreeing, disagreeing)}
        raise ValueError(
            f"no subset at bias {bias:.3f} fits these {len(label)} rows: (agreeing, disagreeing) rows per "
            f"label {sizes}; give the split more rows (e.g. sweeps.bias.pool_size)"
        )
    if n is None or n > largest:
        if n is not None:
            log.warning("asked for %d rows at bias %.3f but only %d fit; using %d", n, bias, largest, largest)
        n = largest
    chosen = [rng.choice(g, size=c, replace=False) for g, c in zip(groups, counts(n))]
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def _spread(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` near-equal counts, the extra ones on the last parts."""
    base, extra = divmod(total, parts)
    return [base + (i >= parts - extra) for i in range(parts)]


def _faces(split, *, n, bias, spurious_factor, seed, resolution, spurious_value=None, **_):
    """One split of procedural faces: (images, factors, extra meta); unbiased when ``bias`` is None."""
    images, factors = faces_mod.make_faces(
        n=n, bias=bias, spurious_factor=spurious_factor, seed=seed, resolution=resolution,
        spurious_value=spurious_value,
    )  # fmt: skip
    return images, factors, {}


def _colored_digits(split, *, n, bias, seed, resolution, base_seed, sizes, spurious_value=None, **_):
    """One split of colored 8x8 digits; the base images are split by ``base_seed``."""
    indices = digits_mod.split_digit_indices(n_val=sizes["n_val"], n_test=sizes["n_test"], seed=base_seed)
    pool = "train" if split in FROM_TRAINING_POOL else split
    n = n if pool == "train" else None
    images, factors = digits_mod.make_colored_digits(
        indices=indices[pool], n=n, bias=bias, seed=seed, resolution=resolution, color=spurious_value
    )
    return images, factors, {}


def _colored_mnist(
    split, *, n, bias, seed, resolution, base_seed, sizes, raw_dir, source, spurious_value=None, **_
):
    """One split of colored MNIST from ``source`` (:func:`~admixlib.data.real.mnist_pools`)."""
    pools = real.mnist_pools(
        raw_dir, source=source, n_val=sizes["n_val"], n_test=sizes["n_test"], seed=base_seed
    )
    gray, labels, ids = pools["test" if split == "test" else "val" if split == "val" else "train"]
    rng = np.random.default_rng(seed)
    index = np.arange(len(labels))
    if n is not None and n < len(index):
        index = np.sort(rng.choice(index, size=n, replace=False))
    images, factors = digits_mod.colorize_digits(
        gray[index].float() / 255.0, labels[index].numpy(), bias=bias, resolution=resolution, rng=rng,
        color=spurious_value,
    )  # fmt: skip
    return images, factors, {"source_ids": ids[index].tolist(), "source": source}


def _celeba(split, *, n, bias, spurious_factor, seed, resolution, raw_dir, label_attr, nuisance_attrs, **_):
    """One CelebA split: a subsample of the official split with label/spurious agreement ``bias``.

    With ``bias=None`` (val/test) and a spurious factor the four (label, spurious) groups are balanced.
    """
    pool = "train" if split in FROM_TRAINING_POOL else split
    table = real.celeba_table(raw_dir, split=pool, label_attr=label_attr, nuisance_attrs=nuisance_attrs)
    label_name = real.factor_name(label_attr)
    rng = np.random.default_rng(seed)
    if spurious_factor is not None:
        rows = subsample_with_bias(
            table[label_name].to_numpy(),
            table[spurious_factor].to_numpy(),
            n=n,
            bias=0.5 if bias is None else bias,
            rng=rng,
        )
    else:
        rows = np.arange(len(table))
        if n is not None and n < len(table):
            rows = np.sort(rng.choice(rows, size=n, replace=False))
    table = table.iloc[rows]
    images = real.load_celeba_images(raw_dir, list(table.index), resolution=resolution)
    return images, table.reset_index(drop=True), {"source_ids": list(table.index)}


_MAKERS = {
    "faces": _faces,
    "colored_digits": _colored_digits,
    "celeba": _celeba,
    "colored_mnist": _colored_mnist,
}
KINDS = tuple(_MAKERS)


def _label_info(kind: str, label_attr: str) -> tuple[str, int, tuple[str, ...]]:
    """(label column, number of classes, allowed spurious factors) of a data set kind."""
    if kind == "faces":
        return faces_mod.LABEL_NAME, 2, faces_mod.FACE_FACTORS
    if kind in ("colored_digits", "colored_mnist"):
        return digits_mod.LABEL_NAME, digits_mod.NUM_CLASSES, digits_mod.DIGIT_FACTORS
    return real.factor_name(label_attr), 2, ()


def build_dataset(
    kind: str,
    *,
    outputs: dict[str, tuple[str | os.PathLike, str | os.PathLike]],
    sizes: dict[str, int | None],
    bias: float | None,
    spurious_factor: str | None,
    seed: int,
    resolution: int,
    raw_dir: str | os.PathLike | None = None,
    label_attr: str = "Smiling",
    nuisance_attrs: tuple[str, ...] | list[str] = real.DEFAULT_NUISANCE_ATTRS,
    source: str = "official",
) -> dict:
    """Make the splits named in ``outputs`` (``split -> (pt_path, csv_path)``) and save them.

    ``sizes`` has ``n_train, n_val, n_test`` (see the README of the data stage for what each kind does
    with them). Returns ``{"kind", "splits": {split: {"n", "agreement", "pt"}}}``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    unknown = sorted(set(outputs) - set(SPLITS))
    if unknown:
        raise ValueError(f"unknown splits {unknown}; allowed: {SPLITS}")
    if kind in ("celeba", "colored_mnist") and raw_dir is None:
        raise ValueError(f"kind {kind!r} reads downloaded files: pass raw_dir")
    label_name, num_classes, allowed = _label_info(kind, label_attr)
    if kind == "celeba":
        allowed = tuple(real.factor_name(a) for a in nuisance_attrs)
        spurious_factor = None if spurious_factor is None else real.factor_name(spurious_factor)
    if spurious_factor is not None and spurious_factor not in allowed:
        raise ValueError(f"spurious_factor for {kind} must be one of {list(allowed)} or None")
    if bias is not None and spurious_factor is None:
        raise ValueError("bias is set but spurious_factor is None")
    summary = {"kind": kind, "splits": {}}
    for split, (pt_path, csv_path) in outputs.items():
        is_train = split == "train"
        images, factors, extra = _MAKERS[kind](
            split,
            n=sizes.get(f"n_{split}"),
            bias=bias if is_train else None,
            spurious_factor=spurious_factor,
            seed=split_seed(seed, split),
            base_seed=seed,
            sizes=sizes,
            resolution=resolution,
            raw_dir=raw_dir,
            label_attr=label_attr,
            nuisance_attrs=nuisance_attrs,
            source=source,
        )
        rate = agreement(factors, label_name, spurious_factor)
        meta = {
            "dataset": kind,
            "split": split,
            "label_name": label_name,
            "factor_names": list(factors.columns),
            "num_classes": num_classes,
            "spurious_factor": spurious_factor,
            "bias": bias if is_train else None,
            "resolution": resolution,
            "seed": split_seed(seed, split),
            "made_by": f"admixlib.data.build_dataset(kind={kind!r}, seed={seed})",
            "agreement": rate,
            **extra,
        }
        labels = torch.from_numpy(factors[label_name].to_numpy(dtype=np.int64, copy=True))
        save_split(pt_path, csv_path, images=images, labels=labels, factors=factors, meta=meta)
        log.info("%s/%s: %d images, label/%s agreement %s", kind, split, len(labels), spurious_factor, rate)
        summary["splits"][split] = {"n": int(len(labels)), "agreement": rate, "pt": str(pt_path)}
    return summary


RESAMPLABLE = {"faces": (0, 1), "colored_digits": tuple(range(10)), "colored_mnist": tuple(range(10))}


def resampled_train(
    kind: str, *, sizes: dict, bias: float, spurious_factor: str, seed: int, resolution: int, raw_dir=None,
    source: str = "official",
) -> tuple[torch.Tensor, list[int]]:  # fmt: skip
    """The training split redrawn once per value of its spurious factor: uint8
    ``[V, N, 3, H, W]``, image ``i`` of row ``v`` being training image ``i`` with the spurious factor
    set to ``values[v]`` and everything else as drawn (perfect nuisance augmentation, which only a
    data set whose nuisance is painted on allows: the procedural ones and colored MNIST, from
    ``raw_dir`` and ``source``). Returns ``(images, values)``."""
    if kind not in RESAMPLABLE:
        raise ValueError(
            f"resampling the nuisance needs a data set that paints it on ({list(RESAMPLABLE)}), not {kind!r}"
        )
    values = list(RESAMPLABLE[kind])
    rows = [
        _MAKERS[kind](
            "train", n=sizes.get("n_train"), bias=bias, spurious_factor=spurious_factor,
            seed=split_seed(seed, "train"), base_seed=seed, sizes=sizes, resolution=resolution,
            spurious_value=value, raw_dir=raw_dir, source=source,
        )[0]
        for value in values
    ]  # fmt: skip
    return torch.stack(rows), values

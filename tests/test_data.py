"""Tests of admixlib.data: procedural faces, colored digits, split files and build_dataset."""

import numpy as np
import pandas as pd
import pytest
import torch

from admixlib.data import (
    FACE_FACTORS,
    PALETTE,
    build_dataset,
    load_split,
    make_colored_digits,
    make_faces,
    save_split,
    split_digit_indices,
    subsample_with_bias,
)
from admixlib.data.faces import draw_faces


def _outputs(root, splits=("train", "val", "test")):
    """``split -> (pt, csv)`` paths under ``root``."""
    return {s: (root / f"{s}.pt", root / f"{s}_factors.csv") for s in splits}


def _meta(**overrides):
    """A minimal valid split meta dict."""
    meta = {
        "dataset": "faces",
        "split": "train",
        "label_name": "smiling",
        "factor_names": ["smiling", "lighting"],
        "num_classes": 2,
        "spurious_factor": None,
        "bias": None,
    }
    return {**meta, **overrides}


def test_faces_shapes_dtypes_and_columns():
    images, factors = make_faces(n=64, bias=None, spurious_factor=None, seed=0)
    assert images.dtype == torch.uint8 and images.shape == (64, 3, 32, 32)
    assert list(factors.columns) == ["smiling", *FACE_FACTORS]
    assert all(factors[c].dtype == np.int64 for c in factors.columns)
    assert set(np.unique(factors.to_numpy())) <= {0, 1}
    assert images.float().std() > 20  # not a blank canvas
    big, _ = make_faces(n=4, bias=None, spurious_factor=None, seed=0, resolution=64)
    assert big.shape == (4, 3, 64, 64)


@pytest.mark.parametrize("spurious", FACE_FACTORS)
def test_faces_bias_is_honoured(spurious):
    _, factors = make_faces(n=2000, bias=0.85, spurious_factor=spurious, seed=1)
    assert abs((factors["smiling"] == factors[spurious]).mean() - 0.85) < 0.03
    for other in set(FACE_FACTORS) - {spurious}:
        assert abs((factors["smiling"] == factors[other]).mean() - 0.5) < 0.05
    _, unbiased = make_faces(n=2000, bias=None, spurious_factor=None, seed=2)
    assert abs((unbiased["smiling"] == unbiased[spurious]).mean() - 0.5) < 0.05
    assert abs(unbiased["smiling"].mean() - 0.5) < 0.05


def test_faces_are_deterministic_by_seed():
    a, fa = make_faces(n=50, bias=0.9, spurious_factor="lighting", seed=3)
    b, fb = make_faces(n=50, bias=0.9, spurious_factor="lighting", seed=3)
    c, _ = make_faces(n=50, bias=0.9, spurious_factor="lighting", seed=4)
    assert torch.equal(a, b) and fa.equals(fb)
    assert not torch.equal(a, c)


def test_unknown_spurious_factor_names_allowed_values():
    with pytest.raises(ValueError, match="skin_tone"):
        make_faces(n=4, bias=0.9, spurious_factor="hair", seed=0)


def test_mouth_is_a_large_scale_feature():
    n = 200
    factors = pd.DataFrame(
        {
            "smiling": np.ones(n, dtype=np.int64),
            "skin_tone": np.arange(n) % 2,
            "lighting": np.arange(n) // 2 % 2,
            "background_hue": np.arange(n) // 4 % 2,
            "lip_colour": np.arange(n) // 8 % 2,
        }
    )
    smile = draw_faces(factors, resolution=32, rng=np.random.default_rng(0)).astype(float)
    flat = draw_faces(factors.assign(smiling=0), resolution=32, rng=np.random.default_rng(0)).astype(float)
    diff = np.abs(smile - flat).mean(axis=(0, 1))  # [H, W], identical draws except the mouth
    assert (diff > 10).sum() >= 30
    assert diff[16:].sum() / diff.sum() > 0.95  # all of it in the lower half of the face


def test_smiling_changes_the_mean_image_more_than_noise():
    images, factors = make_faces(n=2000, bias=None, spurious_factor=None, seed=5)
    images = images.float().mean(1)
    smile = factors["smiling"].to_numpy() == 1
    diff = (images[smile].mean(0) - images[~smile].mean(0)).abs()
    assert (diff > 8).sum() >= 30


def test_digit_splits_are_disjoint_and_cover_everything():
    parts = split_digit_indices(n_val=200, n_test=300, seed=0)
    assert len(parts["val"]) == 200 and len(parts["test"]) == 300
    everything = np.concatenate(list(parts.values()))
    assert len(np.unique(everything)) == len(everything) == 1797
    again = split_digit_indices(n_val=200, n_test=300, seed=0)
    assert all(np.array_equal(parts[k], again[k]) for k in parts)


def test_colored_digits_bias_palette_and_determinism():
    train = split_digit_indices(n_val=200, n_test=300, seed=0)["train"]
    images, factors = make_colored_digits(indices=train, n=2000, bias=0.9, seed=1)
    assert images.shape == (2000, 3, 32, 32) and images.dtype == torch.uint8
    assert list(factors.columns) == ["digit", "color"]
    assert abs((factors["digit"] == factors["color"]).mean() - 0.9) < 0.03
    wrong = factors[factors["digit"] != factors["color"]]
    assert wrong["color"].nunique() == 10
    again, factors_again = make_colored_digits(indices=train, n=2000, bias=0.9, seed=1)
    assert torch.equal(images, again) and factors.equals(factors_again)
    flat = images.permute(0, 2, 3, 1).reshape(len(images), -1, 3).double()
    brightest = flat[torch.arange(len(images)), flat.sum(-1).argmax(1)]  # [N, 3] stroke colour
    nearest = torch.cdist(brightest, torch.from_numpy(PALETTE)).argmin(1).numpy()
    assert (nearest == factors["color"].to_numpy()).mean() > 0.9
    corners = images[:, :, :2, :2].float()
    assert corners.max() < 45  # dark background


def test_colored_digits_unbiased():
    test = split_digit_indices(n_val=200, n_test=300, seed=0)["test"]
    images, factors = make_colored_digits(indices=test, bias=None, seed=2)
    assert len(images) == 300
    assert (factors["digit"] == factors["color"]).mean() < 0.2


def test_save_load_round_trip(tmp_path):
    images, factors = make_faces(n=20, bias=None, spurious_factor=None, seed=0)
    labels = torch.from_numpy(factors["smiling"].to_numpy().copy())
    pt, csv = tmp_path / "d" / "train.pt", tmp_path / "d" / "train_factors.csv"
    save_split(pt, csv, images=images, labels=labels, factors=factors, meta=_meta())
    data = load_split(pt)
    assert data.images.dtype == torch.float32 and data.images.shape == (20, 3, 32, 32)
    assert data.images.min() >= -1 and data.images.max() <= 1
    assert torch.equal(((data.images + 1) * 127.5).round().to(torch.uint8), images)
    assert torch.equal(data.labels, labels) and data.labels.dtype == torch.int64
    pd.testing.assert_frame_equal(data.factors, factors)
    assert data.meta["n"] == 20 and data.meta["resolution"] == 32 and len(data) == 20
    blob = torch.load(pt, weights_only=True)
    assert blob["images"].dtype == torch.uint8


def test_load_split_errors_name_the_path_and_rule(tmp_path):
    images, factors = make_faces(n=20, bias=None, spurious_factor=None, seed=0)
    labels = torch.from_numpy(factors["smiling"].to_numpy().copy())
    pt, csv = tmp_path / "val.pt", tmp_path / "val_factors.csv"
    with pytest.raises(FileNotFoundError, match="make_dataset"):
        load_split(pt)
    save_split(pt, csv, images=images, labels=labels, factors=factors, meta=_meta())
    pt.write_bytes(pt.read_bytes()[: pt.stat().st_size // 2])
    with pytest.raises(RuntimeError, match=r"val\.pt.*make_dataset"):
        load_split(pt)
    save_split(pt, csv, images=images, labels=labels, factors=factors, meta=_meta())
    factors.iloc[:5].to_csv(csv, index=False)
    with pytest.raises(RuntimeError, match="5 rows"):
        load_split(pt)
    with pytest.raises(ValueError, match="val_factors.csv"):
        save_split(pt, tmp_path / "other.csv", images=images, labels=labels, factors=factors, meta=_meta())
    with pytest.raises(ValueError, match="uint8"):
        save_split(pt, csv, images=images.float(), labels=labels, factors=factors, meta=_meta())


def test_subsample_with_bias():
    rng = np.random.default_rng(0)
    label, spurious = rng.integers(0, 2, 5000), rng.integers(0, 2, 5000)
    rows = subsample_with_bias(label, spurious, n=1000, bias=0.8, rng=rng)
    assert len(rows) == 1000 and len(np.unique(rows)) == 1000
    assert (label[rows] == spurious[rows]).mean() == pytest.approx(0.8)
    assert label[rows].mean() == pytest.approx(0.5)


def test_subsample_with_bias_keeps_every_class_of_a_multiclass_label():
    """Ten digits and ten colours: every digit, balanced, its colour agreeing w.p. bias."""
    rng = np.random.default_rng(0)
    label, spurious = rng.integers(0, 10, 20000), rng.integers(0, 10, 20000)
    rows = subsample_with_bias(label, spurious, n=1000, bias=0.9, rng=rng)
    assert len(rows) == 1000 and np.bincount(label[rows]).tolist() == [100] * 10
    assert (label[rows] == spurious[rows]).mean() == pytest.approx(0.9)
    never_agree = (label[:30] + 1) % 10
    with pytest.raises(ValueError, match=r"no subset at bias 0.990 fits these 30 rows.*pool_size"):
        subsample_with_bias(label[:30], never_agree, n=20, bias=0.99, rng=rng)


@pytest.mark.parametrize(("kind", "spurious"), [("faces", "background_hue"), ("colored_digits", "color")])
def test_build_dataset_writes_biased_train_and_unbiased_eval(tmp_path, kind, spurious):
    outputs = _outputs(tmp_path)
    summary = build_dataset(
        kind,
        outputs=outputs,
        sizes={"n_train": 2000, "n_val": 200, "n_test": 600},
        bias=0.9,
        spurious_factor=spurious,
        seed=7,
        resolution=32,
    )
    assert set(summary["splits"]) == {"train", "val", "test"}
    assert abs(summary["splits"]["train"]["agreement"] - 0.9) < 0.03
    chance = 0.5 if kind == "faces" else 0.1
    assert abs(summary["splits"]["test"]["agreement"] - chance) < 0.07
    train, test = load_split(outputs["train"][0]), load_split(outputs["test"][0])
    assert len(train) == 2000 and len(test) == 600
    assert train.meta["bias"] == 0.9 and test.meta["bias"] is None
    assert train.meta["spurious_factor"] == spurious and train.meta["dataset"] == kind
    assert train.meta["label_name"] == train.factors.columns[0]
    assert not torch.equal(train.images[:200], load_split(outputs["val"][0]).images)


def test_build_dataset_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        build_dataset("svhn", outputs={}, sizes={}, bias=None, spurious_factor=None, seed=0, resolution=32)
    with pytest.raises(ValueError, match="color"):
        build_dataset(
            "colored_digits",
            outputs=_outputs(tmp_path),
            sizes={"n_train": None, "n_val": 10, "n_test": 10},
            bias=0.9,
            spurious_factor="lighting",
            seed=0,
            resolution=32,
        )


@pytest.mark.parametrize("split", ["oracle", "pool"])
@pytest.mark.parametrize(("kind", "spurious"), [("faces", "skin_tone"), ("colored_digits", "color")])
def test_extra_splits_have_independent_factors(tmp_path, kind, spurious, split):
    outputs = {split: (tmp_path / f"{split}.pt", tmp_path / f"{split}_factors.csv")}
    sizes = {"n_train": 500, "n_val": 200, "n_test": 300, f"n_{split}": 2000}
    summary = build_dataset(
        kind, outputs=outputs, sizes=sizes, bias=0.95, spurious_factor=spurious, seed=3, resolution=32
    )
    chance = 0.5 if kind == "faces" else 0.1
    assert abs(summary["splits"][split]["agreement"] - chance) < 0.05
    extra = load_split(outputs[split][0])
    assert len(extra) == 2000 and extra.meta["bias"] is None

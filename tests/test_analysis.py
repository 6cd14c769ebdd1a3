"""Tests of the factor oracle and the disentanglement analysis (tiny generator, synthetic factors)."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from admixlib.analysis import (
    disentanglement_map,
    factor_shares,
    load_oracle,
    marginal_gap,
    mixing_scores,
    pair_balanced_accuracy,
    plot_map,
    read_factors,
    readings_accuracy,
    sample_pairs,
    save_oracle,
    train_oracle,
)
from admixlib.analysis.fidelity import frechet_distance, inception_fid, oracle_feature_distance
from admixlib.runtime import torch_generator
from admixlib.stages.analysis import spurious_verdict

FACTORS = ["color", "pos"]
COLORS = torch.tensor([[0.9, -0.8, -0.8], [-0.8, 0.9, -0.8], [-0.8, -0.8, 0.9]])


def make_toy(n: int, seed: int, res: int = 16):
    """Images whose background colour encodes ``color`` (3 values) and a white 6x6 square's quadrant
    encodes ``pos`` (4 values), plus a little noise. Returns ``(images [n, 3, res, res], factors)``."""
    gen = torch_generator(seed)
    color = torch.randint(3, (n,), generator=gen)
    pos = torch.randint(4, (n,), generator=gen)
    images = COLORS[color][:, :, None, None].expand(n, 3, res, res).clone()
    half = res // 2
    for i in range(n):
        y, x = (int(pos[i]) // 2) * half + 1, (int(pos[i]) % 2) * half + 1
        images[i, :, y : y + 6, x : x + 6] = 1.0
    images = (images + 0.05 * torch.randn(images.shape, generator=gen)).clamp(-1, 1)
    return images, pd.DataFrame({"color": color.numpy(), "pos": pos.numpy()})


@pytest.fixture(scope="module")
def oracle():
    images, factors = make_toy(256, seed=1)
    return train_oracle(
        images=images,
        factors=factors,
        factor_names=FACTORS,
        steps=100,
        batch_size=32,
        lr=3e-3,
        width=8,
        device="cpu",
        seed=0,
        progress=False,
    )


@pytest.fixture(scope="module")
def codes(G):
    source = G.sample_ws(24, generator=torch_generator(1))
    donor = G.sample_ws(24, generator=torch_generator(2))
    return source, donor


def test_oracle_reads_toy_factors(oracle):
    images, factors = make_toy(128, seed=7)
    acc = readings_accuracy(read_factors(oracle, images, device="cpu"), factors, oracle.factor_names)
    assert set(acc) == set(FACTORS)
    assert all(a > 0.9 for a in acc.values()), acc
    pred = read_factors(oracle, images, batch_size=50)
    assert list(pred.columns) == FACTORS and len(pred) == 128
    assert pred.dtypes.map(lambda d: np.issubdtype(d, np.integer)).all()
    assert oracle.factor_classes == {"color": 3, "pos": 4}


def test_save_load_round_trip(oracle, tmp_path):
    images, _ = make_toy(40, seed=3)
    save_oracle(oracle, tmp_path / "oracle.pt")
    loaded = load_oracle(tmp_path / "oracle.pt")
    pd.testing.assert_frame_equal(read_factors(oracle, images), read_factors(loaded, images))
    assert loaded.factor_names == FACTORS and not loaded.training


def test_disentanglement_map(G, oracle, codes, tmp_path):
    source, donor = codes
    kw = dict(factor_names=FACTORS, label_name="color", batch_size=10, device="cpu")
    df = disentanglement_map(G, oracle, source_ws=source, donor_ws=donor, **kw)
    L, F = G.num_ws, len(FACTORS)
    assert len(df) == 2 * L * F
    assert set(df["mode"]) == {"layer", "from"} and set(df["layer"]) == set(range(L))
    assert (df["n_pairs"] >= 0).all() and (df["n_pairs"] <= len(source)).all()
    assert df["moved"].isna().eq(df["n_pairs"] == 0).all()
    moved = df["moved"].dropna()
    assert ((moved >= 0) & (moved <= 1)).all()
    # Copying every style from the donor (and no residual) renders the donor itself.
    full = df[(df["mode"] == "from") & (df["layer"] == 0)]
    assert full["moved"].dropna().eq(1.0).all() and full["n_pairs"].gt(0).any()
    # Zero residuals change nothing.
    zero = torch.zeros(len(source), 3, G.resolution, G.resolution)
    df0 = disentanglement_map(G, oracle, source_ws=source, donor_ws=donor, source_residuals=zero, **kw)
    pd.testing.assert_frame_equal(df, df0)
    # Identical sources and donors: no pair differs anywhere, so every share is NaN.
    same = disentanglement_map(G, oracle, source_ws=source, donor_ws=source, **kw)
    assert (same["n_pairs"] == 0).all() and same["moved"].isna().all()
    plot_map(df, tmp_path / "fig" / "map.png", title="toy")
    assert (tmp_path / "fig" / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mixing_scores(G, oracle, codes):
    source, donor = codes
    res = torch.zeros(len(source), 3, G.resolution, G.resolution)
    out = mixing_scores(
        G,
        oracle,
        split_index=3,
        source_ws=source,
        donor_ws=donor,
        factor_names=FACTORS,
        label_name="color",
        source_residuals=res,
        batch_size=16,
    )
    assert set(out) == {"label_kept", "nuisance_moved", "n_pairs", "n_label_pairs"}
    assert out["n_pairs"] == len(source) and set(out["nuisance_moved"]) == {"pos"}
    for v in [out["label_kept"], *out["nuisance_moved"].values()]:
        assert math.isnan(v) or 0.0 <= v <= 1.0
    # Mixing every fine style with coefficient 1 is the map's "from k" row.
    df = disentanglement_map(
        G, oracle, source_ws=source, donor_ws=donor, factor_names=FACTORS, label_name="color"
    )
    row = df[(df["mode"] == "from") & (df["layer"] == 3) & (df["factor"] == "pos")].iloc[0]
    assert out["nuisance_moved"]["pos"] == pytest.approx(row["moved"], nan_ok=True)
    with pytest.raises(ValueError, match="split index k must be in"):
        mixing_scores(
            G,
            oracle,
            split_index=G.num_ws,
            source_ws=source,
            donor_ws=donor,
            factor_names=FACTORS,
            label_name="color",
        )


def test_sample_pairs_are_seeded_unmixed_and_distinct(G):
    source, donor = sample_pairs(G, 5, seed=3)
    assert source.shape == donor.shape == (5, G.num_ws, G.w_dim)
    assert torch.equal(source, sample_pairs(G, 5, seed=3)[0])
    assert torch.equal(source, source[:, :1].expand_as(source))  # one w per code: no style mixing
    assert not torch.allclose(source, donor)


def test_factor_shares():
    readings = pd.DataFrame({"color": [2, 0, 2, 2]})
    assert factor_shares(readings, "color") == {"0": 0.25, "2": 0.75}


def test_marginal_gap():
    a = pd.DataFrame({"color": [0, 1, 2, 0], "pos": [0, 1, 2, 3]})
    assert marginal_gap(a, a.copy(), FACTORS) == 0.0
    b = pd.DataFrame({"color": [3, 3], "pos": [0, 1]})
    c = pd.DataFrame({"color": [4, 4, 4], "pos": [0, 1, 0]})
    assert marginal_gap(b, c, ["color"]) == 1.0
    assert marginal_gap(b, c, FACTORS) == 1.0
    assert 0.0 < marginal_gap(a, b, ["pos"]) < 1.0


def test_frechet_distance_zero_for_same_features_and_grows_with_shift():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(400, 5))
    assert frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-6)
    near = frechet_distance(feats, feats + 0.1)
    far = frechet_distance(feats, feats + 1.0)
    assert near == pytest.approx(5 * 0.01, rel=1e-3) and far == pytest.approx(5.0, rel=1e-3)
    with pytest.raises(ValueError, match="features"):
        frechet_distance(feats, feats[:, :3])


def test_oracle_feature_distance_tells_real_from_other_images(oracle):
    real, _ = make_toy(128, seed=11)
    same, _ = make_toy(128, seed=12)
    noise = torch.rand(128, 3, 16, 16) * 2 - 1
    assert oracle_feature_distance(oracle, real, same) < oracle_feature_distance(oracle, real, noise)


def test_inception_fid_names_a_missing_weights_file(tmp_path):
    x = torch.zeros(4, 3, 16, 16)
    with pytest.raises(FileNotFoundError, match="inception_weights"):
        inception_fid(x, x, weights_path=tmp_path / "missing.pth")


def test_spurious_verdict_says_when_mixing_cannot_move_the_bias(caplog):
    samples = {"nuisance_moved": {"Male": 0.1, "Blond_Hair": 0.7}}
    inputs = {"nuisance_moved": {"Male": 0.2, "Blond_Hair": 0.8}}
    with caplog.at_level("WARNING", logger="admix.stages"):
        verdict = spurious_verdict("Male", samples, inputs, split_index=6)
    assert verdict["mixing_moves_it"] is False and verdict["moved_on_training_inputs"] == 0.2
    assert "moves the spurious factor Male in only 0.20" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="admix.stages"):
        assert spurious_verdict("Blond_Hair", samples, inputs, split_index=6)["mixing_moves_it"] is True
    assert caplog.text == ""
    assert spurious_verdict(None, samples, inputs, split_index=6) is None
    unread = {"nuisance_moved": {"Male": float("nan")}}
    with caplog.at_level("WARNING", logger="admix.stages"):
        assert spurious_verdict("Male", unread, unread, split_index=6)["mixing_moves_it"] is None
    assert "whether mixing moves it is unknown" in caplog.text


def test_pair_balanced_accuracy_exposes_a_head_that_reads_a_correlated_factor():
    """``lipstick`` tracks ``male`` in 90% of images; a head that reads not-male for lipstick is 90%
    accurate, but balanced over (lipstick, male) it is right in only two of the four cells."""
    rng = np.random.default_rng(0)
    male = rng.integers(0, 2, 2000)
    lipstick = np.where(rng.random(2000) < 0.9, 1 - male, male)
    truth = pd.DataFrame({"male": male, "lipstick": lipstick})
    pred = pd.DataFrame({"male": male, "lipstick": 1 - male})
    result = pair_balanced_accuracy(pred, truth, ["male", "lipstick"])
    assert (pred.lipstick == truth.lipstick).mean() == pytest.approx(0.9, abs=0.02)
    assert result["lipstick"] == {"accuracy": 0.5, "against": "male"}
    assert result["male"]["accuracy"] == 1.0

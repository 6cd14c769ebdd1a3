"""Choosing one of several candidate GANs by the sample-side targets (rule select_stylegan)."""

import math

import pandas as pd
import pytest
import torch
from test_analysis import FACTORS, make_toy

from admixlib.analysis import save_oracle, train_oracle
from admixlib.analysis.selection import sample_side_scores, worst_margin
from admixlib.data import load_split, save_split
from admixlib.stages.generator import select_stylegan_stage
from admixlib.stylegan import Generator, load_generator, save_generator

TARGETS = {"label_kept": 0.95, "nuisance_moved": 0.90, "marginal_gap": 0.05}


def test_worst_margin_is_the_largest_shortfall():
    met = {"label_kept": 0.97, "moved_a": 0.95, "moved_b": 0.91, "marginal_gap_max": 0.02, "gap_a": 0.02}
    assert worst_margin(met, **TARGETS) == pytest.approx(0.01)
    gap_missed = {**met, "marginal_gap_max": 0.11}
    assert worst_margin(gap_missed, **TARGETS) == pytest.approx(-0.06)
    never_moved = {**met, "moved_b": math.nan}  # no pair differed in b: counts as never moved
    assert worst_margin(never_moved, **TARGETS) == pytest.approx(-0.90)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A toy training split, an oracle of its factors, and two candidate generators of different seeds."""
    root = tmp_path_factory.mktemp("selection")
    images, factors = make_toy(96, seed=3)
    meta = {
        "dataset": "toy", "split": "train", "label_name": "color", "factor_names": FACTORS,
        "num_classes": 3, "spurious_factor": "pos", "bias": 0.5,
    }  # fmt: skip
    save_split(
        root / "train.pt", root / "train_factors.csv", images=((images + 1) * 127.5).round().to(torch.uint8),
        labels=torch.tensor(factors["color"].to_numpy()), factors=factors, meta=meta,
    )  # fmt: skip
    oracle = train_oracle(
        images=images, factors=factors, factor_names=FACTORS, steps=30, batch_size=32, lr=3e-3,
        width=8, device="cpu", seed=0, progress=False,
    )  # fmt: skip
    save_oracle(oracle, root / "oracle.pt")
    candidates = []
    for seed in (0, 5):
        torch.manual_seed(seed)
        G = Generator(z_dim=8, w_dim=8, mapping_layers=1, resolution=16, channels={4: 8, 8: 8, 16: 8})
        folder = root / f"seed{seed}"
        folder.mkdir()
        save_generator(G.eval(), folder / "generator.pt")
        for name in ("discriminator.pt", "samples.png", "stats.jsonl"):
            (folder / name).write_text(f"{name} of seed {seed}")
        candidates.append({
            "seed": seed, "generator": folder / "generator.pt", "discriminator": folder / "discriminator.pt",
            "samples": folder / "samples.png", "stats": folder / "stats.jsonl",
        })  # fmt: skip
    return root, oracle, candidates


def test_select_stylegan_keeps_the_candidate_with_the_largest_worst_margin(workspace, tmp_path):
    root, oracle, candidates = workspace
    out = {
        name: tmp_path / name for name in ("generator.pt", "discriminator.pt", "samples.png", "stats.jsonl")
    }
    chosen = select_stylegan_stage(
        candidates=candidates, oracle_path=root / "oracle.pt", train_path=root / "train.pt",
        generator_path=out["generator.pt"], discriminator_path=out["discriminator.pt"],
        samples_path=out["samples.png"], stats_path=out["stats.jsonl"], selection_path=tmp_path / "sel.csv",
        split_index=3, targets=TARGETS, n_pairs=16, marginal_samples=32, device="cpu", seed=7,
    )  # fmt: skip
    table = pd.read_csv(tmp_path / "sel.csv")
    assert table["gan_seed"].tolist() == [0, 5]
    assert {"label_kept", "moved_pos", "marginal_gap_max", "gap_color", "gap_pos", "worst_margin"} <= set(
        table
    )
    assert table["selected"].sum() == 1
    best = table.loc[table["worst_margin"].idxmax()]
    assert bool(best["selected"]) and best["gan_seed"] == chosen
    winner = next(c for c in candidates if c["seed"] == chosen)
    for key, name in (
        ("generator", "generator.pt"),
        ("discriminator", "discriminator.pt"),
        ("stats", "stats.jsonl"),
    ):
        assert out[name].read_bytes() == winner[key].read_bytes()
    # the CSV holds what the scores are for that generator (rounded to 4 places)
    scores = sample_side_scores(
        load_generator(winner["generator"]), oracle, load_split(root / "train.pt").images, factor_names=FACTORS, label_name="color", split_index=3, n_pairs=16,
        marginal_samples=32, seed=7,
    )  # fmt: skip
    assert best["marginal_gap_max"] == pytest.approx(scores["marginal_gap_max"], abs=1e-4)
    assert best["worst_margin"] == pytest.approx(worst_margin(scores, **TARGETS), abs=1e-4)

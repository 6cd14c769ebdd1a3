"""The sweeps' stages: training sets drawn from the pool at a given bias, and the sweep tables."""

import json

import pandas as pd
import pytest
import torch

from admixlib.data import build_dataset, load_split
from admixlib.runtime import save_atomic
from admixlib.stages.codes import load_codes
from admixlib.stages.sweeps import bias_subset_stage, sweep_table_stage


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    root = tmp_path_factory.mktemp("pool")
    split, csv = root / "pool.pt", root / "pool_factors.csv"
    build_dataset(
        "faces",
        outputs={"pool": (split, csv)},
        sizes={"n_train": 10, "n_val": 10, "n_test": 10, "n_pool": 400},
        bias=0.98,
        spurious_factor="lighting",
        seed=1,
        resolution=16,
    )
    images = load_split(split).images
    ws = torch.arange(400, dtype=torch.float32)[:, None, None].expand(400, 6, 4).clone()
    codes = root / "pool_codes.pt"
    save_atomic({"ws": ws, "recon": images.half(), "psnr": torch.full((400,), 30.0), "meta": {}}, codes)
    return split, codes


@pytest.mark.parametrize("bias", [0.6, 0.9, 0.99])
def test_bias_subset_draws_the_agreement_and_keeps_codes_aligned(pool, tmp_path, bias):
    split, codes = pool
    out_split, out_codes = tmp_path / "train.pt", tmp_path / "codes.pt"
    args = dict(pool_path=split, pool_codes_path=codes, n_train=100, seed=0, split_path=out_split)
    summary = bias_subset_stage(bias=bias, codes_path=out_codes, **args)
    train, train_codes = load_split(out_split), load_codes(out_codes)
    assert summary["n"] == len(train) == 100
    agree = (train.factors["smiling"] == train.factors["lighting"]).mean()
    assert agree == pytest.approx(round(100 * bias) / 100)
    assert train.labels.float().mean() == pytest.approx(0.5, abs=0.01)
    assert train.meta["bias"] == bias and train.meta["spurious_factor"] == "lighting"
    # each image keeps its own code: the fake codes hold the pool row
    rows = torch.tensor(train.meta["pool_rows"])
    assert torch.equal(train_codes.ws[:, 0, 0].long(), rows)
    assert torch.equal(train.images, load_split(split).images[rows])
    assert train_codes.residuals(train.images).abs().max() < 1e-2  # recon is the image (stored in half)
    again = tmp_path / "again.pt"
    bias_subset_stage(bias=bias, codes_path=tmp_path / "again_codes.pt", **{**args, "split_path": again})
    assert load_split(again).meta["pool_rows"] == train.meta["pool_rows"]


def write_eval(path, method, seed, clean, worst):
    metrics = {"clean_acc": clean, "worst_group_acc": worst, "consistency": 0.5}
    path.write_text(json.dumps({"method": method, "seed": seed, "metrics": metrics}))
    return path


def test_sweep_table_has_the_swept_column_and_a_figure(tmp_path):
    runs = {}
    for value, base in ((0.9, 0.9), (0.99, 0.6)):
        runs[value] = [
            write_eval(
                tmp_path / f"{value}_{m}_{s}.json", m, s, base + 0.05 * s + (m == "advmix") * 0.05, base
            )
            for m in ("nominal", "advmix")
            for s in (0, 1)
        ]
    csv, figure = tmp_path / "sweep.csv", tmp_path / "sweep.png"
    tidy = sweep_table_stage(
        dataset="faces", swept="bias", runs=runs, methods=["nominal", "advmix"], csv_path=csv,
        figure_path=figure, caption="faces bias sweep",
    )  # fmt: skip
    read = pd.read_csv(csv)
    assert set(read["bias"]) == {0.9, 0.99} and len(read) == len(tidy)
    row = read[(read.bias == 0.99) & (read.method == "advmix") & (read.metric == "clean_acc")].iloc[0]
    assert row["mean"] == pytest.approx(0.675) and row["n_seeds"] == 2
    assert row["ci95_low"] < row["mean"] < row["ci95_high"]
    assert {"consistency", "rel_error_reduction"} <= set(read.metric)
    assert figure.stat().st_size > 10_000

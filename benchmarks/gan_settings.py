"""Generator settings against the sample-side targets: label kept, nuisances moved, marginal gap.

    python benchmarks/gan_settings.py [--dataset faces] --set KEY=VALUE [--set KEY=VALUE ...]
                                      [--name gan_settings] [--threads 2] [--unbiased]

Trains the dataset's configured generator once per combination of the ``--set`` values (same
training images, oracle and seed as the default run's, read from its ``results/{dataset}``) and
scores whole-style mixing at the configured k on 256 generator-sample pairs with the default run's
oracle: label kept, the share of pairs each nuisance follows the donor and the marginal gap to the
training images (``admixlib.analysis.mixing_scores`` and ``marginal_gap``, as in
``generator.json``), and the palette head's blend (the mean share of a pixel outside its main
region; 0 = hard regions). ``KEY`` is any ``stylegan`` key, or ``seed`` (the GAN's seed); ``VALUE`` is
YAML. Repeat a key to sweep it; several keys give their product, e.g.
``--set palette_sharpness=0 --set palette_sharpness=1 --set lr_d=0.001``. No channel mask: choosing
one needs inverted training images for each generator. About 4 minutes per generator on 2 CPU
cores. Writes results/benchmarks/{name}_{dataset}.csv, and the training monitor of every generator
(the ``oracle_*`` columns of ``stats.jsonl``, every ``sample_every`` steps) to
{name}_{dataset}_monitor.csv.

``--unbiased`` trains every generator on an unbiased training split instead (``build_dataset`` with
``bias=None``: the same size, kind and seed, every factor independent); the marginal gap is then
measured against it.
"""

import argparse
import itertools
import tempfile
from pathlib import Path

import pandas as pd
import torch
import yaml

from admixlib.analysis import load_oracle, marginal_gap, mixing_scores, read_factors, sample_pairs
from admixlib.data import build_dataset, load_split
from admixlib.runtime import set_threads
from admixlib.stages.generator import train_stylegan_stage
from admixlib.stylegan import load_generator


def score(generator_path, oracle, train, *, split_index: int) -> dict:
    """Whole-style mixing scores at ``split_index`` on 256 sample pairs, and the marginal gap."""
    G = load_generator(generator_path)
    names, label = list(train.meta["factor_names"]), train.meta["label_name"]
    source, donor = sample_pairs(G, 256, seed=0)
    scores = mixing_scores(
        G,
        oracle,
        split_index=split_index,
        source_ws=source,
        donor_ws=donor,
        factor_names=names,
        label_name=label,
    )
    with torch.no_grad():
        samples = read_factors(oracle, G.synthesis(source).clamp(-1, 1))
    head = getattr(G.synthesis, "palette", None)
    return {
        "label_kept": scores["label_kept"],
        **scores["nuisance_moved"],
        "marginal_gap_max": marginal_gap(samples, read_factors(oracle, train.images), names),
        f"{label}_share_samples": float((samples[label] == 1).mean()),
        # mean share of a pixel outside its main palette region: 0 = hard regions
        "palette_blend": float(head.last_blend) if head is not None else float("nan"),
    }


def parse_settings(pairs: list[str], allowed: set[str]) -> list[dict]:
    """``["k=v1", "k=v2", "j=w"]`` -> ``[{k: v1, j: w}, {k: v2, j: w}]`` (values parsed as YAML)."""
    values: dict[str, list] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or key not in allowed:
            raise SystemExit(f"--set {pair!r}: expected KEY=VALUE with KEY one of {sorted(allowed)}")
        values.setdefault(key, []).append(yaml.safe_load(text))
    return [dict(zip(values, combo, strict=True)) for combo in itertools.product(*values.values())]


def _label(setting: dict) -> dict:
    """``setting`` with every non-scalar value (e.g. ``channels``) as its YAML flow text, for CSVs."""
    return {
        k: v if isinstance(v, int | float | str) else yaml.safe_dump(v, default_flow_style=True).strip()
        for k, v in setting.items()
    }


def unbiased_train_split(data_cfg: dict, folder: Path) -> Path:
    """Write an unbiased training split like the configured one (same kind, size, seed) under ``folder``;
    returns its ``.pt`` path."""
    pt = folder / "train.pt"
    build_dataset(
        data_cfg["kind"],
        outputs={"train": (pt, folder / "train_factors.csv")},
        sizes={key: data_cfg[key] for key in ("n_train", "n_val", "n_test")},
        bias=None,
        spurious_factor=None,
        seed=data_cfg["seed"],
        resolution=data_cfg["resolution"],
    )
    return pt


def train_and_score(
    train_path: Path, oracle_path: Path, block: dict, setting: dict, oracle, train
) -> tuple[dict, pd.DataFrame]:
    """Train one generator on ``train_path`` with ``setting`` over the configured ``stylegan`` block;
    score it. Returns (scores row, monitor rows)."""
    cfg = {**block["stylegan"], **{k: v for k, v in setting.items() if k != "seed"}}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        train_stylegan_stage(
            train_path=train_path, oracle_path=oracle_path,
            generator_path=out / "G.pt", discriminator_path=out / "D.pt", samples_path=out / "samples.png",
            stats_path=out / "stats.jsonl", cfg=cfg, split_index=block["mixing"]["split_index"],
            checkpoint_dir=out / "ckpt", checkpoint_every=500, device="cpu",
            seed=setting.get("seed", block["data"]["seed"]),
        )  # fmt: skip
        stats = pd.read_json(out / "stats.jsonl", lines=True).dropna(subset=["oracle_feature_distance"])
        monitor = stats.filter(regex="^(step|oracle_.*)$").assign(**_label(setting))
        scores = score(out / "G.pt", oracle, train, split_index=block["mixing"]["split_index"])
    return {**_label(setting), "steps": cfg["steps"], **scores}, monitor


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--results", default="results")
    parser.add_argument("--dataset", default="faces")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--name", default="gan_settings", help="file-name stem of the CSVs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--unbiased", action="store_true", help="train on an unbiased training split")
    args = parser.parse_args()
    set_threads(args.threads)
    block = yaml.safe_load(Path(args.config).read_text())["datasets"][args.dataset]
    settings = parse_settings(args.settings, {*block["stylegan"], "seed"}) or [{}]
    root = Path(args.results) / args.dataset
    oracle_path = root / "oracle" / "oracle.pt"
    rows, monitor = [], []
    with tempfile.TemporaryDirectory() as tmp:
        train_path = (
            unbiased_train_split(block["data"], Path(tmp)) if args.unbiased else root / "data" / "train.pt"
        )
        train, oracle = load_split(train_path), load_oracle(oracle_path)
        for setting in settings:
            row, trajectory = train_and_score(train_path, oracle_path, block, setting, oracle, train)
            rows.append({**row, "unbiased": args.unbiased})
            monitor.append(trajectory)
            print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.3f}"), flush=True)
    out = Path(args.results) / "benchmarks" / f"{args.name}_{args.dataset}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out, index=False, float_format="%.4g")
    pd.concat(monitor).to_csv(out.with_name(f"{out.stem}_monitor.csv"), index=False, float_format="%.4g")


if __name__ == "__main__":
    main()

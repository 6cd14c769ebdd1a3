"""The blend penalty's trade-off on generator samples: label kept against nuisances moved, per value.

    python benchmarks/blend_penalty.py [--dataset faces] [--values 0 0.5 1 4] [--steps N] [--threads 2]

For each ``stylegan.palette_sharpness`` value, trains the dataset's configured generator (same
steps, seed and training images as the default run's, read from its ``results/{dataset}``) and scores
whole-style mixing at the configured k on 256 generator-sample pairs with the default run's oracle:
label kept, the share of pairs each nuisance follows the donor, and the marginal gap to the training
images (``admixlib.analysis.mixing_scores`` and ``marginal_gap``, as in ``generator.json``). No
channel mask: choosing one needs inverted training images for each generator. About 4 minutes per
value on 2 CPU cores. --steps trains each generator for N steps instead of the configured number
(and adds ``_steps{N}`` to the file names). Writes results/benchmarks/blend_penalty_{dataset}.csv,
and the training monitor of every generator (``oracle_feature_distance`` and
``oracle_marginal_gap`` every ``sample_every`` steps) to blend_penalty_{dataset}_monitor.csv.
"""

import argparse
import tempfile
from pathlib import Path

import pandas as pd
import torch
import yaml

from admixlib.analysis import load_oracle, marginal_gap, mixing_scores, read_factors
from admixlib.data import load_split
from admixlib.runtime import set_threads
from admixlib.stages.analysis import _sample_pairs
from admixlib.stages.generator import train_stylegan_stage
from admixlib.stylegan import load_generator


def score(generator_path, oracle, train, *, split_index: int) -> dict:
    """Whole-style mixing scores at ``split_index`` on 256 sample pairs, and the marginal gap."""
    G = load_generator(generator_path)
    names, label = list(train.meta["factor_names"]), train.meta["label_name"]
    source, donor = _sample_pairs(G, 256, 0)
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
    return {
        "label_kept": scores["label_kept"],
        **scores["nuisance_moved"],
        "marginal_gap_max": marginal_gap(samples, read_factors(oracle, train.images), names),
        f"{label}_share_samples": float((samples[label] == 1).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--results", default="results")
    parser.add_argument("--dataset", default="faces")
    parser.add_argument("--values", type=float, nargs="+", default=[0.0, 0.5, 1.0, 4.0])
    parser.add_argument("--steps", type=int, default=None, help="GAN steps (default: the configured number)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    set_threads(args.threads)
    block = yaml.safe_load(Path(args.config).read_text())["datasets"][args.dataset]
    root = Path(args.results) / args.dataset
    train, oracle = load_split(root / "data" / "train.pt"), load_oracle(root / "oracle" / "oracle.pt")
    cfg = {**block["stylegan"], **({"steps": args.steps} if args.steps else {})}
    rows, monitor = [], []
    for value in args.values:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            train_stylegan_stage(
                train_path=root / "data" / "train.pt", oracle_path=root / "oracle" / "oracle.pt",
                generator_path=out / "G.pt", discriminator_path=out / "D.pt", samples_path=out / "samples.png",
                stats_path=out / "stats.jsonl", cfg={**cfg, "palette_sharpness": value},
                split_index=block["mixing"]["split_index"], checkpoint_dir=out / "ckpt", checkpoint_every=500,
                device="cpu", seed=block["data"]["seed"],
            )  # fmt: skip
            stats = pd.read_json(out / "stats.jsonl", lines=True)
            stats = stats.dropna(subset=["oracle_feature_distance"])
            monitor.append(
                stats[["step", "oracle_feature_distance", "oracle_marginal_gap"]].assign(
                    palette_sharpness=value
                )
            )
            rows.append(
                {
                    "palette_sharpness": value,
                    "steps": cfg["steps"],
                    **score(out / "G.pt", oracle, train, split_index=block["mixing"]["split_index"]),
                }
            )
        print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.3f}"), flush=True)
    suffix = f"_steps{args.steps}" if args.steps else ""
    out = Path(args.results) / "benchmarks" / f"blend_penalty_{args.dataset}{suffix}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out, index=False, float_format="%.4g")
    pd.concat(monitor).to_csv(out.with_name(f"{out.stem}_monitor.csv"), index=False, float_format="%.4g")


if __name__ == "__main__":
    main()

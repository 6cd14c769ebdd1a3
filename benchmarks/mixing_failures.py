"""Where whole-style mixing fails on generator samples: scores by how sure the oracle is.

    python benchmarks/mixing_failures.py [--dataset faces] [--pairs 2048] [--threads 2]

Draws ``--pairs`` (source, donor) sample pairs from the default run's generator
(``results/{dataset}/stylegan/generator.pt``), mixes styles k..L-1 (the configured k, no channel
mask) and reads every image with the default run's oracle, as ``generator.json`` does. Each factor's
pairs (source and donor readings differ) are binned by the oracle's top probability on the image
whose reading should survive: the source for the label (label kept), the donor for a nuisance
(nuisance moved). A low share only in the unsure bins means the misses are samples the oracle itself
cannot read, not styles that carry the wrong factor. Also gives the share of pairs whose mix reads
as the source's value, the donor's, or another (a third digit or colour), and splits the label's
pairs by each nuisance value of the donor. Writes results/benchmarks/mixing_failures_{dataset}.csv.
"""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from admixlib.analysis import load_oracle, sample_pairs
from admixlib.runtime import set_threads
from admixlib.stylegan import load_generator

BINS = (0.0, 0.6, 0.9, 0.99, 1.01)


def readings(G, oracle, ws: torch.Tensor, batch_size: int = 256) -> dict[str, np.ndarray]:
    """Oracle probabilities ``{factor: [N, K_f]}`` of ``ws [N, L, D]`` rendered with constant noise."""
    chunks = []
    with torch.inference_mode():
        for part in ws.split(batch_size):
            logits = oracle(G.synthesis(part, noise_mode="const").clamp(-1, 1))
            chunks.append({f: torch.softmax(v, dim=1).numpy() for f, v in logits.items()})
    return {f: np.concatenate([c[f] for c in chunks]) for f in chunks[0]}


def binned(hit: np.ndarray, pairs: np.ndarray, sureness: np.ndarray, **keys) -> list[dict]:
    """Share of ``hit`` over ``pairs`` in each bin of ``sureness`` (all [N]); one row per bin."""
    rows = []
    for low, high in zip(BINS[:-1], BINS[1:], strict=True):
        chosen = pairs & (sureness >= low) & (sureness < high)
        share = float(hit[chosen].mean()) if chosen.any() else float("nan")
        rows.append({**keys, "by": "oracle top probability", "group": f"[{low}, {min(high, 1.0)}]",
                     "n_pairs": int(chosen.sum()), "share": share})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--results", default="results")
    parser.add_argument("--dataset", default="faces")
    parser.add_argument("--pairs", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    set_threads(args.threads)
    block = yaml.safe_load(Path(args.config).read_text())["datasets"][args.dataset]
    k = int(block["mixing"]["split_index"])
    root = Path(args.results) / args.dataset
    G = load_generator(root / "stylegan" / "generator.pt").eval()
    oracle = load_oracle(root / "oracle" / "oracle.pt").eval()
    source, donor = sample_pairs(G, args.pairs, seed=0)
    mixed = source.clone()
    mixed[:, k:] = donor[:, k:]
    src, don, mix = (readings(G, oracle, ws) for ws in (source, donor, mixed))
    label, rows = oracle.factor_names[0], []
    for factor in oracle.factor_names:
        s, d, m = (r[factor].argmax(1) for r in (src, don, mix))
        is_label = factor == label
        hit, sure = (m == s, src[factor].max(1)) if is_label else (m == d, don[factor].max(1))
        keys = {
            "factor": factor,
            "measure": "label kept" if is_label else "moved",
            "all_pairs": hit[s != d].mean(),
        }
        rows += binned(hit, s != d, sure, **keys)
        for group, reads in (
            ("source's", m == s),
            ("donor's", m == d),
            ("another value", (m != s) & (m != d)),
        ):
            rows.append({**keys, "by": "mix reads", "group": group, "n_pairs": int((s != d).sum()),
                         "share": float(reads[s != d].mean())})  # fmt: skip
        if is_label:
            for nuisance in oracle.factor_names[1:]:
                value = don[nuisance].argmax(1)
                for v in np.unique(value):
                    chosen = (s != d) & (value == v)
                    rows.append({**keys, "by": f"donor {nuisance}", "group": str(v),
                                 "n_pairs": int(chosen.sum()), "share": float(hit[chosen].mean())})  # fmt: skip
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    out = Path(args.results) / "benchmarks" / f"mixing_failures_{args.dataset}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False, float_format="%.4f")


if __name__ == "__main__":
    main()

"""Do a generator's samples pick one of the data's looks, or a blend? Oracle certainty and bank gates.

    python benchmarks/bank_gates.py GENERATOR.pt [GENERATOR.pt ...] [--dataset faces] [--samples 2048]
        [--threads 2]

Every nuisance of the procedural data is one of two looks (a face lit from the left or from the
right), so the default run's oracle reads every training image with near-certainty. A generator
that draws a look as a continuum (a bank gate blending two colours, or a light direction linear in
the style) draws images in between (a face lit from neither side); the oracle must still pick one,
and where its boundary cuts that continuum decides the marginal gap. For the dataset's training images and for ``--samples`` samples of each
generator (drawn as ``generator.json``'s marginals are, seed 4) this writes, per factor, the share
of images the oracle reads with probability between 0.1 and 0.9 (``uncertain_{factor}``) and the
share it reads as the factor's second value (``share_{factor}``); and for a generator with a palette
bank, per region, the mean weight of the gate's main colour (``gate_max_region{k}``: 1 = one colour
picked, 1/B = an even blend). Written to ``results/benchmarks/bank_gates.csv``.
"""

import argparse
from pathlib import Path

import pandas as pd
import torch

from admixlib.analysis import load_oracle
from admixlib.analysis.fidelity import generator_samples
from admixlib.data import load_split
from admixlib.runtime import set_threads, torch_generator
from admixlib.stylegan import load_generator


def oracle_certainty(oracle, images: torch.Tensor) -> dict[str, float]:
    """Per factor: the share of ``images [N, 3, H, W]`` read uncertainly, and the share read as 1."""
    with torch.inference_mode():
        logits = oracle.eval()(images.float())
    row = {}
    for factor, z in logits.items():
        p = torch.softmax(z, dim=1)[:, 1]
        row[f"uncertain_{factor}"] = float(((p > 0.1) & (p < 0.9)).float().mean())
        row[f"share_{factor}"] = float((p > 0.5).float().mean())
    return row


def gate_weights(G, n: int) -> dict[str, float]:
    """Mean weight of each palette region's main bank colour over ``n`` sampled styles (empty without a bank)."""
    head = getattr(G.synthesis, "palette", None)
    if head is None or not head.bank_size:
        return {}
    with torch.no_grad():
        w = G.sample_ws(n, generator=torch_generator(4))[:, -1]
        gate = torch.softmax(head.bank_gate(w).view(n, head.palette_size, head.bank_size), dim=-1)
    return {f"gate_max_region{k}": float(v) for k, v in enumerate(gate.amax(dim=-1).mean(dim=0))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("generators", type=Path, nargs="+")
    parser.add_argument("--dataset", default="faces")
    parser.add_argument("--results", default="results")
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="results/benchmarks/bank_gates.csv")
    args = parser.parse_args()
    set_threads(args.threads)
    root = Path(args.results) / args.dataset
    oracle = load_oracle(root / "oracle" / "oracle.pt")
    train = load_split(root / "data" / "train.pt").images
    rows = [{"source": "training images", "n": len(train)} | oracle_certainty(oracle, train)]
    for path in args.generators:
        G = load_generator(path).eval()
        samples = generator_samples(G, args.samples, seed=4)
        rows.append(
            {"source": str(path), "n": args.samples}
            | oracle_certainty(oracle, samples)
            | gate_weights(G, args.samples)
        )
    table = pd.DataFrame(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False, float_format="%.4g")
    with pd.option_context("display.width", 200, "display.max_columns", None):
        print(table.assign(source=table["source"].str[-48:]).to_string(index=False))


if __name__ == "__main__":
    main()

"""A per-channel style mask: can mixing some channels of the last coarse style move lighting and keep the label?

    python benchmarks/channel_mask.py [--dataset faces] [--layer 4] [--n-pairs 512] [--threads 2]

At the default split k = 5 the faces' lighting follows the donor in only about 70% of training pairs,
and mixing style 4 as a whole moves it but changes the smile too (docs/disentanglement.md). This
script looks one level finer, at the modulation scales of the convolution that style ``--layer``
drives (StyleSpace's channels): ``G.synthesis(ws, channel_mix=ChannelMix(...))`` takes the masked
channels' scales from the donor's style; styles ``layer+1..L-1`` come from the donor as usual.

Pairs are (source, donor) inverted training images of the default run, with their inversion
residuals added (what AdvMix trains on). They are split in two halves:
1. on the first, :func:`admixlib.analysis.choose_channel_mask` (what rule channel_mask runs) mixes
   every channel alone, ranks the channels by the weakest nuisance's gain per label flip and adds
   them while the label is still kept in at least --min-label-kept of pairs;
2. on the second (held out), the chosen mask is scored, next to no mask (k = layer + 1; also
   without the inversion residual), style ``layer`` moved 25%, 50% and 75% of the way to the
   donor's, and the whole layer (k = layer). Generator-sample pairs are scored too.

Writes results/benchmarks/channel_mask_{dataset}.csv with columns measured_on, mixing, channels,
label_kept, then one column per nuisance factor (share of pairs that moved to the donor's reading),
and prints the chosen channels. The rows beside the mask's are what this script adds to the rule's
own ``channel_mask.json``: the other ways of moving style ``layer`` that do not separate the factors.
"""

import argparse
from pathlib import Path

import pandas as pd
import torch

from admixlib.analysis import choose_channel_mask, load_oracle, read_factors
from admixlib.data import load_split
from admixlib.perturb import mix_styles
from admixlib.runtime import set_threads, torch_generator
from admixlib.stages.codes import load_codes
from admixlib.stylegan import ChannelMix, load_generator

PARTIAL = (0.25, 0.5, 0.75)  # style ``layer`` moved only part of the way to the donor's


def score(G, oracle, pairs, *, layer, mask, names, label, layer_coeff=0.0, residual=True) -> dict:
    """Oracle readings of mixed pairs: ``label_kept`` and, per nuisance, the share moved to the donor's.

    Styles ``layer+1..L-1`` come from the donor; style ``layer`` moves ``layer_coeff`` of the way to
    the donor's (``mask="layer"`` sets it to 1), or, with a ``[C]`` tensor ``mask``, the masked
    channels of its modulation come from the donor's style (:class:`ChannelMix`).
    ``residual=False`` scores the mixed images without the inversion residuals.
    """
    source, donor, residual_s, residual_d = pairs
    read = lambda ws, res, mix=None: read_factors(  # noqa: E731
        oracle, (G.synthesis(ws, channel_mix=mix) + res).clamp(-1, 1)
    )
    coeffs = torch.ones(len(source), 1, G.num_ws - layer)
    coeffs[:, :, 0] = 1.0 if mask == "layer" else layer_coeff
    channel_mix = None if isinstance(mask, str) else ChannelMix(layer, mask, donor[:, layer])
    with torch.no_grad():
        src, don = read(source, residual_s), read(donor, residual_d)
        mixed_ws = mix_styles(source, donor[:, None], coeffs, layer)
        mixed = read(mixed_ws, residual_s if residual else 0.0, channel_mix)
    s, d, m = (t[label].to_numpy() for t in (src, don, mixed))
    out = {"label_kept": float((m == s)[s != d].mean())}
    for f in names:
        if f != label:
            differ = src[f].to_numpy() != don[f].to_numpy()
            out[f] = float((mixed[f].to_numpy() == don[f].to_numpy())[differ].mean())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="faces")
    parser.add_argument("--results", default="results")
    parser.add_argument("--layer", type=int, default=4)
    parser.add_argument("--n-pairs", type=int, default=512)
    parser.add_argument("--min-label-kept", type=float, default=0.97)
    parser.add_argument("--nuisance-target", type=float, default=0.9)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    set_threads(args.threads)
    root = Path(args.results) / args.dataset
    G = load_generator(root / "stylegan" / "generator.pt")
    oracle = load_oracle(root / "oracle" / "oracle.pt")
    train, codes = load_split(root / "data" / "train.pt"), load_codes(root / "codes" / "train.pt")
    names, label = list(train.meta["factor_names"]), train.meta["label_name"]
    residuals = codes.residuals(train.images)
    pick = torch.randperm(len(codes.ws), generator=torch_generator(1))[: 2 * args.n_pairs]
    src, don = pick[: args.n_pairs], pick[args.n_pairs :]
    half = args.n_pairs // 2

    def pairs(rows: slice):
        s, d = src[rows], don[rows]
        return codes.ws[s], codes.ws[d], residuals[s], residuals[d]

    kw = {"layer": args.layer, "names": names, "label": label}
    first = pairs(slice(0, half))
    mask, _ = choose_channel_mask(
        G, oracle, split_index=args.layer + 1, min_label_kept=args.min_label_kept,
        nuisance_target=args.nuisance_target, source_ws=first[0], donor_ws=first[1],
        source_residuals=first[2], factor_names=names, label_name=label,
    )  # fmt: skip
    with torch.no_grad():
        ws = G.sample_ws(2 * half, mixing_prob=0.0, generator=torch_generator(0)).cpu()
    zeros = torch.zeros(half, *train.images.shape[1:])
    evaluations = {
        "held-out training pairs": pairs(slice(half, args.n_pairs)),
        "generator samples": (ws[:half], ws[half:], zeros, zeros),
    }
    mixings = {
        f"k = {args.layer + 1}": {"mask": "none"},
        f"k = {args.layer + 1}, no residual": {"mask": "none", "residual": False},
        **{
            f"k = {args.layer + 1}, style {args.layer} x {a}": {"mask": "none", "layer_coeff": a}
            for a in PARTIAL
        },
        f"k = {args.layer}": {"mask": "layer"},
        "channel mask": {"mask": mask},
    }
    rows = [
        {"measured_on": on, "mixing": name, "channels": int(mask.sum()) if name == "channel mask" else None,
         **score(G, oracle, held, **setting, **kw)}
        for on, held in evaluations.items() for name, setting in mixings.items()
    ]  # fmt: skip
    table = pd.DataFrame(rows)
    out = Path(args.results) / "benchmarks" / f"channel_mask_{args.dataset}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False, float_format="%.4g")
    print(
        f"style {args.layer}: {int(mask.sum())} of {len(mask)} channels mixed: {mask.nonzero().flatten().tolist()}"
    )
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()

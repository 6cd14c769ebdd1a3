"""Which palette region paints what: do a generator's regions keep their roles from sample to sample?

    python benchmarks/palette_roles.py GENERATOR.pt [--dataset faces] [--samples 1024] [--threads 2]

For samples of a generator with a palette head (``torgb: palette``, e.g. one kept by
``benchmarks/gan_settings.py --keep``), finds the region that covers most of each image's face
centre (a 4x4-pixel patch between the eyes and the mouth at 16 px, scaled at other sizes) and reads
every sample with the default run's oracle. Prints, per oracle reading of each factor, the share of
samples whose face centre each region covers, and the region's mean palette colour (RGB in [0, 255]
of its flat term) there; and, over all samples, each region's mean colour with the 5th and 95th
percentiles of its luminance (mean of R, G, B), and Sarle's bimodality coefficient of its colour
along the colour's first principal component (``bimodality``: 1/3 for a normal spread, 5/9 for a
uniform one, more suggests two modes; the procedural data draw each colour factor from two jittered
prototypes). If light and dark faces are painted by different regions, the skin tone is set
by which region covers the face, a choice the earlier (coarse) styles make, and mixing the palette
style cannot move it. Writes ``results/benchmarks/palette_roles_{stem}.csv``.
"""

import argparse
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from admixlib.analysis import load_oracle, read_factors
from admixlib.analysis.fidelity import bimodality
from admixlib.runtime import set_threads, torch_generator
from admixlib.stylegan import load_generator


def face_regions(G, ws: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For W+ codes ``ws [N, L, D]``: images ``[N, 3, H, W]``, the region covering most of the face
    centre ``[N]`` and every region's flat palette colour ``[N, K, 3]`` in [0, 255]."""
    head, res = G.synthesis.palette, G.resolution
    with torch.no_grad():
        features, _ = G.synthesis.run_until(ws, G.num_ws - 1)
        cover = F.avg_pool2d(head.region_masks(features), head.supersample)  # [N, K, H, W]
        lo, hi = res * 6 // 16, res * 10 // 16
        region = cover[:, :, lo:hi, lo:hi].mean(dim=(2, 3)).argmax(dim=1)
        params = head.region_params(ws[:, -1])
        colour = (params[..., 0].clamp(-1, 1) + 1) * 127.5
        images = G.synthesis(ws).clamp(-1, 1)
    return images, region, colour


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("generator", type=Path)
    parser.add_argument("--dataset", default="faces")
    parser.add_argument("--results", default="results")
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    set_threads(args.threads)
    G = load_generator(args.generator).eval()
    if G.synthesis.torgb != "palette":
        raise SystemExit(
            f"{args.generator} has torgb {G.synthesis.torgb!r}; this looks at palette heads only"
        )
    oracle = load_oracle(Path(args.results) / args.dataset / "oracle" / "oracle.pt")
    with torch.no_grad():
        ws = G.sample_ws(args.samples, generator=torch_generator(0))
    images, region, colour = face_regions(G, ws)
    readings = read_factors(oracle, images)
    rows = []
    for factor in readings.columns:
        for value, group in readings.groupby(factor).groups.items():
            idx = torch.tensor(group.to_numpy())
            for k in range(G.synthesis.palette.palette_size):
                painted = idx[region[idx] == k]
                mean = colour[painted, k].mean(dim=0).round().tolist() if len(painted) else [float("nan")] * 3
                rows.append({
                    "factor": factor, "reading": int(value), "n": len(idx), "region": k,
                    "share_face_centre": len(painted) / len(idx), "colour_rgb": mean,
                })  # fmt: skip
    luminance = colour.mean(dim=2)  # [N, K]
    for k in range(G.synthesis.palette.palette_size):  # each region's colour over all samples
        low, high = torch.quantile(luminance[:, k], torch.tensor([0.05, 0.95])).tolist()
        rows.append({
            "factor": "all samples", "reading": -1, "n": len(ws), "region": k,
            "share_face_centre": float((region == k).float().mean()),
            "colour_rgb": colour[:, k].mean(dim=0).round().tolist(), "luminance_p05": low, "luminance_p95": high,
            "bimodality": bimodality(colour[:, k]),
        })  # fmt: skip
    table = pd.DataFrame(rows)
    out = Path(args.results) / "benchmarks" / f"palette_roles_{args.generator.stem}.csv"
    table.to_csv(out, index=False, float_format="%.4g")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))


if __name__ == "__main__":
    main()

"""What the palette head's matrix-product form saves: the configured head against the einsum form it replaced.

    python benchmarks/palette_head.py [--config config/config.yaml] [--dataset faces] [--batch 32]
        [--repeats 30] [--threads 1]

``PaletteHead.forward`` computes its image as ``sum_t grid_t * (params_t^T @ masks)``: a batched
product of the region parameters ``[N, 3T, K]`` with the masks ``[N, K, sH*sW]``. Before, it coloured
every region on the (supersampled) grid and then blended them, holding an ``[N, K, 3, sH, sW]``
tensor (two einsums). This script builds the dataset's configured head (untrained), checks that both
forms give the same image, and times forward plus backward of each (median of --repeats after 3
warm-ups). It writes results/benchmarks/palette_head.csv with columns form, milliseconds,
ratio_to_einsum, max_abs_diff. The forms differ in float summation order only, so a generator
trained with one draws the same images with the other to about 1e-7, but does not train bit for bit
the same.
"""

import argparse
import statistics
import time
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
import yaml

from admixlib.runtime import set_threads
from admixlib.stylegan.layers import PaletteHead


def einsum_image(head: PaletteHead, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The head's image ``[N, 3, H, W]`` from features ``x [N, C, H, W]`` and styles ``w [N, w_dim]``, by einsum."""
    masks = head.region_masks(x)  # [N, K, sH, sW]
    colour = torch.einsum("nkct,thw->nkchw", head.region_params(w), head.grid)
    img = torch.einsum("nkhw,nkchw->nchw", masks, colour)
    return F.avg_pool2d(img, head.supersample) if head.supersample > 1 else img


def median_ms(step, repeats: int) -> float:
    """Median wall time of ``step()`` in milliseconds, after 3 untimed calls."""
    for _ in range(3):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--dataset", default="faces")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="results/benchmarks/palette_head.csv")
    args = parser.parse_args()
    set_threads(args.threads)
    block = yaml.safe_load(Path(args.config).read_text())["datasets"][args.dataset]
    cfg, resolution = block["stylegan"], block["data"]["resolution"]
    torch.manual_seed(0)
    in_channels = cfg["channels"][str(resolution)]
    head = PaletteHead(
        in_channels, w_dim=cfg["w_dim"], palette_size=cfg["palette_size"], resolution=resolution,
        gain=cfg["palette_gain"], shading=cfg["palette_shading"], supersample=cfg["palette_supersample"],
        bank=cfg["palette_bank"],
    )  # fmt: skip
    x = torch.randn(args.batch, in_channels, resolution, resolution, requires_grad=True)
    w = torch.randn(args.batch, cfg["w_dim"], requires_grad=True)
    with torch.no_grad():
        diff = (head(x, w) - einsum_image(head, x, w)).abs().max().item()
    forms = {"einsum (before)": lambda a, b: einsum_image(head, a, b), "bmm (PaletteHead.forward)": head}
    rows = [
        {
            "form": form,
            "milliseconds": median_ms(lambda r=render: r(x, w).square().sum().backward(), args.repeats),
        }
        for form, render in forms.items()
    ]
    table = pd.DataFrame(rows)
    table["ratio_to_einsum"] = table["milliseconds"] / table["milliseconds"].iloc[0]
    table["max_abs_diff"] = diff
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False, float_format="%.4g")
    print(f"{args.dataset} palette head, batch {args.batch}, {args.threads} thread(s), forward + backward:")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()

"""What a matrix-product palette head would save: the configured head against the same image by bmm.

    python benchmarks/palette_head.py [--config config/config.yaml] [--dataset faces] [--batch 32]
        [--repeats 30] [--threads 1]

``PaletteHead.forward`` colours every region on the (supersampled) grid and then blends them, so it
holds an ``[N, K, 3, sH, sW]`` tensor. The same image is ``sum_t grid_t * (params_t^T @ masks)``: a
batched product of the region parameters ``[N, 3T, K]`` with the masks ``[N, K, sH*sW]``. This script
builds the dataset's configured head (untrained), checks that both give the same image, and times
forward plus backward of each (median of --repeats after 3 warm-ups). It writes
results/benchmarks/palette_head.csv with columns form, milliseconds, ratio_to_einsum, max_abs_diff.
Changing the head's arithmetic changes float summation order, so adopting it means training again.
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


def bmm_image(head: PaletteHead, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The head's image ``[N, 3, H, W]`` from features ``x [N, C, H, W]`` and styles ``w [N, w_dim]``, by bmm."""
    masks = head.region_masks(x)  # [N, K, sH, sW]
    n, k, h, wd = masks.shape
    params = head.region_params(w)  # [N, K, 3, T]
    mixed = torch.bmm(params.reshape(n, k, -1).transpose(1, 2), masks.reshape(n, k, h * wd))
    img = (mixed.view(n, 3, head.terms, h, wd) * head.grid).sum(dim=2)
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
        diff = (head(x, w) - bmm_image(head, x, w)).abs().max().item()
    forms = {"einsum (PaletteHead.forward)": head, "bmm": lambda a, b: bmm_image(head, a, b)}
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

"""Do generated faces keep the two colour modes of the data? Bimodality of face and background colour.

    python benchmarks/colour_modes.py GENERATOR.pt [GENERATOR.pt ...] [--samples 1024] [--threads 2]

The procedural faces draw skin tone and background hue each from two jittered prototypes, so the
mean colour of a face's centre (the 4x4-pixel patch between the eyes and the mouth at 16 px, as in
``palette_roles.py``) and of its top-left 2x2 corner (background) has two modes over the training
images. For the default run's training split and for ``--samples`` samples of each generator (e.g.
the ones ``gan_settings.py --keep`` kept, or ``results/faces/stylegan/generator.pt``) this writes
Sarle's bimodality coefficient of both colours (``admixlib.analysis.fidelity.bimodality``: 1/3 for a
normal spread, 5/9 for a uniform one, near 1 for two equal, well separated modes) to
``results/benchmarks/colour_modes.csv``. The oracle reads a colour factor by which side of a boundary
a colour falls; a generator that spreads the two modes into one broad one gets the marginals right
only where that boundary happens to cut its mode in half.
"""

import argparse
from pathlib import Path

import pandas as pd
import torch

from admixlib.analysis.fidelity import bimodality
from admixlib.data import load_split
from admixlib.runtime import set_threads, torch_generator
from admixlib.stylegan import load_generator


def patch_colours(images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mean RGB of the face centre and of the top-left corner of ``images [N, 3, H, W]``: ``[N, 3]`` each."""
    res = images.shape[-1]
    lo, hi = res * 6 // 16, res * 10 // 16
    corner = max(res // 8, 1)
    return {
        "face_centre": images[:, :, lo:hi, lo:hi].mean(dim=(2, 3)),
        "background_corner": images[:, :, :corner, :corner].mean(dim=(2, 3)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("generators", type=Path, nargs="+")
    parser.add_argument("--results", default="results")
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    set_threads(args.threads)
    sources = {"training images": load_split(Path(args.results) / "faces" / "data" / "train.pt").images}
    for path in args.generators:
        G = load_generator(path).eval()
        with torch.no_grad():
            sources[str(path)] = G.synthesis(G.sample_ws(args.samples, generator=torch_generator(0)))
    rows = []
    for name, images in sources.items():
        colours = patch_colours(images.clamp(-1, 1))
        rows.append(
            {"source": name, "n": len(images)}
            | {f"bimodality_{k}": bimodality(v) for k, v in colours.items()}
        )
    table = pd.DataFrame(rows)
    out = Path(args.results) / "benchmarks" / "colour_modes.csv"
    table.to_csv(out, index=False, float_format="%.4g")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()

"""Training step time per method, as ratios measured in one run (absolute times vary between machines).

    python benchmarks/advmix_step.py [--config config/config.yaml] [--dataset faces] [--steps 12] [--threads 1]

Builds the dataset's generator architecture (untrained: the cost is the same) and the configured
classifier, trains each method for a few steps on generated data and writes
results/benchmarks/advmix_step.csv with columns method, step_seconds, ratio_to_nominal, ratio_to_randmix
(the median per-step wall time after two warm-up steps).
"""

import argparse
import json
import tempfile
from pathlib import Path

import pandas as pd
import torch
import yaml

from admixlib.classify import ClassifierRecipe, train_classifier
from admixlib.configcheck import METHODS
from admixlib.data import make_faces
from admixlib.perturb.augment import from_uint8
from admixlib.runtime import RunFiles, configure_cpu
from admixlib.stages.classifier import build_pset
from admixlib.stylegan import ARCH_KEYS, Generator, save_generator

# (row name, method, config changes): what the linear surrogate saves, measured beside the default
VARIANTS = [
    ("advmix_fast (attack linear)", "advmix_fast", {"attack": "linear"}),
    ("advmix (5 steps)", "advmix", {"steps": 5}),
    ("advmix (5 steps, attack linear)", "advmix", {"steps": 5, "attack": "linear"}),
]


def step_seconds(stats_path: Path, warmup: int = 2) -> float:
    lines = [json.loads(line) for line in stats_path.read_text().splitlines()]
    return float(pd.Series([row["seconds"] for row in lines[warmup:]]).median())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--dataset", default="faces")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="results/benchmarks/advmix_step.csv")
    args = parser.parse_args()
    config = yaml.safe_load(Path(args.config).read_text())
    block, clf = config["datasets"][args.dataset], config["classifier"]
    configure_cpu(args.threads)
    resolution = block["data"]["resolution"]
    arch = {k: block["stylegan"][k] for k in ARCH_KEYS}  # the configured synthesis, palette head included
    arch["channels"] = {int(r): c for r, c in block["stylegan"]["channels"].items()}
    G = Generator(resolution=resolution, **arch).eval()
    images, factors = make_faces(n=512, bias=None, spurious_factor="skin_tone", seed=0, resolution=resolution)
    images = from_uint8(images)
    with torch.no_grad():
        codes = G.mapping(torch.randn(512, arch["z_dim"]))[:, None].repeat(1, G.num_ws, 1)
        residuals = images - G.synthesis(codes)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        save_generator(G, Path(tmp) / "G.pt")
        # resample_nuisance redraws the data (rule resample_train): not a perturbation of these images
        runs = [(m, m, {}) for m in METHODS if m != "resample_nuisance"] + VARIANTS
        for name, method, changes in runs:
            cfg = {**config["methods"][method], **changes}
            pset = build_pset(
                method,
                cfg,
                generator_path=Path(tmp) / "G.pt",
                donor_codes=codes,
                mixing=block["mixing"],
                device="cpu",
            )
            stats = Path(tmp) / f"{len(rows)}.jsonl"
            train_classifier(
                images=images, labels=torch.tensor(factors["smiling"].to_numpy()), codes=codes, residuals=residuals,
                num_classes=2, pset=pset, lam=cfg["lam"], steps=args.steps,
                recipe=ClassifierRecipe.from_config(clf),
                files=RunFiles(stats_path=stats, progress=False),
            )  # fmt: skip
            rows.append({"method": name, "step_seconds": step_seconds(stats)})
    table = pd.DataFrame(rows)
    seconds = table.set_index("method")["step_seconds"]
    table["ratio_to_nominal"] = table["step_seconds"] / seconds["nominal"]
    table["ratio_to_randmix"] = table["step_seconds"] / seconds["randmix"]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False, float_format="%.4g")
    print(f"{args.dataset}, batch {clf['batch_size']}, {args.threads} thread(s):")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


if __name__ == "__main__":
    main()

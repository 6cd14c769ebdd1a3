"""Compute of a paper-scale run, counted in FLOPs on the CPU (no GPU needed): an estimate of GPU-hours.

    python benchmarks/paper_scale_cost.py [--overlay config/celeba.yaml] [--dataset celeba] [--tflops 25]

Counts, with torch's FlopCounterMode, one training step of the overlay's GAN (R1 left out: one step in
``r1_every``), of its encoder and of the classifier of every method in ``run.methods`` (attacks
included), on untrained networks of the configured sizes (the cost is the same), and multiplies by the
configured steps (classifiers: times the seeds). Evaluation and inversion are left out. GPU-hours
assume ``--tflops`` TFLOP/s sustained: an assumption, not a measurement; ``make gpu-check`` times
real steps. Writes results/benchmarks/paper_scale_cost_<dataset>.csv.
"""

import argparse
import tempfile
from functools import partial
from pathlib import Path

import pandas as pd
import torch
import yaml
from snakemake.utils import update_config
from torch.utils.flop_counter import FlopCounterMode

from admixlib.classify import ClassifierRecipe, train_classifier
from admixlib.inversion import EncoderRecipe, train_encoder
from admixlib.runtime import RunFiles
from admixlib.stages.classifier import build_pset
from admixlib.stylegan import ARCH_KEYS, Discriminator, GanRecipe, Generator, save_generator, train_generator

ROOT = Path(__file__).resolve().parent.parent


def flops_of(run) -> int:
    """FLOPs of ``run()`` (forward and backward passes of every op torch counts)."""
    with FlopCounterMode(display=False) as counter:
        run()
    return counter.get_total_flops()


def per_step_flops(config: dict, dataset: str, tmp: Path) -> dict:
    """``{stage: FLOPs of one training step}`` for the GAN, the encoder and each configured method."""
    block, res = config["datasets"][dataset], config["datasets"][dataset]["data"]["resolution"]
    arch = {k: block["stylegan"][k] for k in ARCH_KEYS if k in block["stylegan"]}
    images = torch.rand(256, 3, res, res) * 2 - 1
    stats = dict(stats_path=tmp / "s.jsonl", progress=False)
    gan = GanRecipe.from_config({**block["stylegan"], "r1_gamma": 0.0})
    counts = {"gan": flops_of(lambda: train_generator(
        images, generator_kwargs={**arch, "resolution": res}, steps=1, recipe=gan, files=RunFiles(tmp / "g", **stats)
    ))}  # fmt: skip
    G = Generator(resolution=res, **arch).eval()
    D = Discriminator(resolution=res, channels=G.kwargs["channels"])
    encoder = EncoderRecipe.from_config(block["encoder"])
    counts["encoder"] = flops_of(lambda: train_encoder(
        G, steps=1, recipe=encoder, discriminator=D, real_images=images, files=RunFiles(tmp / "e", **stats)
    ))  # fmt: skip
    save_generator(G, tmp / "G.pt")
    with torch.no_grad():
        codes = G.mapping(torch.randn(len(images), G.z_dim))[:, None].repeat(1, G.num_ws, 1)
    labels = torch.randint(0, 2, (len(images),))
    for method in config["run"]["methods"]:
        cfg = {**config["methods"][method], **block.get("methods", {}).get(method, {})}
        pset = build_pset(
            method, cfg, generator_path=tmp / "G.pt", donor_codes=codes, mixing=block["mixing"], device="cpu"
        )
        counts[method] = flops_of(partial(
            train_classifier, images=images, labels=labels, codes=codes, residuals=torch.zeros_like(images),
            num_classes=2, pset=pset, lam=cfg["lam"], steps=1,
            recipe=ClassifierRecipe.from_config(config["classifier"]), files=RunFiles(tmp / method, **stats),
        ))  # fmt: skip
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--overlay", default="config/celeba.yaml")
    parser.add_argument("--dataset", default="celeba")
    parser.add_argument("--tflops", type=float, default=25.0, help="assumed sustained TFLOP/s of one GPU")
    args = parser.parse_args()
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    update_config(config, yaml.safe_load(Path(args.overlay).read_text()))
    block, seeds = config["datasets"][args.dataset], len(config["run"]["seeds"])
    with tempfile.TemporaryDirectory() as tmp:
        per_step = per_step_flops(config, args.dataset, Path(tmp))
    rows = []
    for stage, flops in per_step.items():
        if stage in ("gan", "encoder"):
            steps, runs = block["stylegan" if stage == "gan" else "encoder"]["steps"], 1
        else:
            steps = config["classifier"]["steps"] * config["methods"][stage].get("steps_factor", 1)
            runs = seeds
        total = flops * steps * runs
        rows.append(dict(stage=stage, tflop_per_step=flops / 1e12, steps=steps, runs=runs, pflop=total / 1e15,
                         gpu_hours_estimate=total / (args.tflops * 1e12) / 3600))  # fmt: skip
    table = pd.DataFrame(rows)
    table.loc[len(table)] = dict(
        stage="total", pflop=table.pflop.sum(), gpu_hours_estimate=table.gpu_hours_estimate.sum()
    )
    out = ROOT / "results" / "benchmarks" / f"paper_scale_cost_{args.dataset}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False, float_format="%.4g")
    print(f"{args.overlay}, at an assumed {args.tflops:g} TFLOP/s sustained:")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3g}"))


if __name__ == "__main__":
    main()

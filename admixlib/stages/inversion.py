"""Rules train_encoder, invert, gather_codes, inversion_report and invert_pool."""

import json
import logging
import time
from pathlib import Path

import torch

from admixlib.analysis import load_oracle, read_factors
from admixlib.data import load_split
from admixlib.inversion import (
    EncoderRecipe,
    invert_images,
    load_encoder,
    optimise_to_psnr,
    psnr,
    save_encoder,
    train_encoder,
)
from admixlib.runtime import RunFiles, fingerprint, load_checkpoint, resolve_device, save_atomic
from admixlib.stages.codes import load_codes
from admixlib.stages.jsonio import write_json
from admixlib.stylegan import load_discriminator, load_generator

log = logging.getLogger("admix.stages")
SPEEDUP_REPEATS = 3  # timings of each inversion path; the fastest counts


def train_encoder_stage(
    *,
    generator_path,
    discriminator_path,
    train_path,
    encoder_path,
    stats_path,
    cfg: dict,
    checkpoint_dir,
    checkpoint_every,
    device,
    seed,
):
    """Train the image -> W+ encoder on samples of the trained generator (the discriminator gives
    the feature loss its feature space) and, when ``cfg["real_weight"] > 0``, on the training images."""
    device = resolve_device(device)
    G = load_generator(generator_path, map_location=device)
    D = load_discriminator(discriminator_path, map_location=device)
    files = [generator_path, discriminator_path, train_path]
    real = load_split(train_path).images if cfg["real_weight"] > 0 else None
    run_dir = Path(checkpoint_dir) / fingerprint(config={**cfg, "seed": seed}, files=files)
    E = train_encoder(
        G,
        steps=cfg["steps"],
        recipe=EncoderRecipe.from_config(cfg),
        discriminator=D,
        real_images=real,
        device=device,
        seed=seed,
        files=RunFiles(run_dir, stats_path, checkpoint_every=checkpoint_every),
    )
    save_encoder(E, encoder_path)


def parse_scatteritem(item: str) -> tuple[int, int]:
    """``"2-of-4"`` -> ``(1, 4)``: the zero-based shard index and the number of shards."""
    index, _, total = item.partition("-of-")
    if not (index.isdigit() and total.isdigit() and 1 <= int(index) <= int(total)):
        raise ValueError(f"scatter item {item!r} is not of the form 'i-of-n'")
    return int(index) - 1, int(total)


def _invert_scored(G, E, images: torch.Tensor, *, cfg: dict, device) -> dict:
    """The configured inversion of ``images``: ``ws`` (CPU), ``recon`` (CPU, half) and per-image ``psnr``."""
    ws, recon = invert_images(
        G,
        E,
        images,
        refine_steps=cfg["refine_steps"],
        refine_lr=cfg["refine_lr"],
        beta1=cfg["refine_beta1"],
        batch_size=cfg["batch_size"],
        device=device,
    )
    recon = recon.cpu()
    return {"ws": ws.cpu(), "recon": recon.half(), "psnr": psnr(images, recon)}


def invert_split_stage(*, split_path, generator_path, encoder_path, codes_path, cfg: dict, device) -> None:
    """Invert every image of one split (rule invert_pool) and save its codes file (``ws``, ``recon``,
    ``psnr``, ``meta``) as ``gather_codes`` does for the main splits."""
    device = resolve_device(device)
    split = load_split(split_path)
    G = load_generator(generator_path, map_location=device)
    E = load_encoder(encoder_path, map_location=device)
    codes = _invert_scored(G, E, split.images, cfg=cfg, device=device)
    meta = {"split": split.meta["split"], "refine_steps": cfg["refine_steps"]}
    save_atomic({**codes, "meta": meta}, codes_path)
    log.info("inverted %d images of %s: PSNR %.2f dB", len(split), split_path, float(codes["psnr"].mean()))


def invert_shard(
    *, split_paths: dict, generator_path, encoder_path, shard_path, scatteritem: str, cfg: dict, device
):
    """Invert shard ``i`` of every split (images ``i, i+n, i+2n, ...``) and save codes and reconstructions."""
    device = resolve_device(device)
    shard, num_shards = parse_scatteritem(scatteritem)
    G = load_generator(generator_path, map_location=device)
    E = load_encoder(encoder_path, map_location=device)
    out = {"shard": shard, "num_shards": num_shards, "splits": {}}
    start = time.perf_counter()
    n_images = 0
    for split, path in split_paths.items():
        images = load_split(path).images
        index = torch.arange(shard, len(images), num_shards)
        out["splits"][split] = {"index": index, **_invert_scored(G, E, images[index], cfg=cfg, device=device)}
        n_images += len(index)
    out["seconds"] = time.perf_counter() - start
    out["n_images"] = n_images
    log.info("inverted %d images in %.1f s", n_images, out["seconds"])
    save_atomic(out, shard_path)


def gather_codes(*, shard_paths: list, code_paths: dict, summary_path, refine_steps: int) -> dict:
    """Join inversion shards into one file per split (``code_paths[split]``); write a JSON summary
    (``refine_steps, n_shards, psnr_<split>, images_per_second``) to ``summary_path``."""
    shards = [load_checkpoint(path, writer="invert") for path in shard_paths]
    metrics = {"refine_steps": refine_steps, "n_shards": len(shards)}
    for split, path in code_paths.items():
        parts = [shard["splits"][split] for shard in shards]
        index = torch.cat([p["index"] for p in parts])
        order = torch.argsort(index)
        if not torch.equal(index[order], torch.arange(len(index))):
            raise RuntimeError(
                f"inversion shards of split {split} do not cover it exactly once; re-run invert"
            )
        joined = {key: torch.cat([p[key] for p in parts])[order] for key in ("ws", "recon", "psnr")}
        save_atomic({**joined, "meta": {"split": split, "refine_steps": refine_steps}}, path)
        metrics[f"psnr_{split}"] = float(joined["psnr"].mean())
    seconds = sum(shard["seconds"] for shard in shards)
    metrics["images_per_second"] = sum(shard["n_images"] for shard in shards) / max(seconds, 1e-9)
    write_json(metrics, summary_path)
    log.info("inversion summary: %s", metrics)
    return metrics


def measure_speedup(G, E, images: torch.Tensor, *, cfg: dict, device) -> dict:
    """Time the configured inversion (encoder + ``refine_steps``) of ``images`` against
    optimisation-only inversion (``cfg["optimisation_*"]``) run until it reaches the same mean PSNR.

    After an untimed warm-up on 8 images, the two run ``SPEEDUP_REPEATS`` times, alternating, and each
    keeps its fastest time (a job beside this one slows a single timing by up to 2x). Returns
    ``speedup_vs_optimisation`` (optimisation / configured seconds; a lower bound when optimisation
    never reached the PSNR) and the measurements behind it.
    """
    images = images.to(device)
    optimiser = {"lr": cfg["optimisation_lr"], "beta1": cfg["optimisation_beta1"]}
    # untimed warm-up of both paths: the first pass of a process pays one-off set-up costs
    invert_images(G, E, images[:8], refine_steps=2, batch_size=8, device=device, progress=False)
    optimise_to_psnr(G, images[:8], target_psnr=float("inf"), max_steps=2, **optimiser)
    configured, optimised = [], []
    for _ in range(SPEEDUP_REPEATS):
        start = time.perf_counter()
        _, recon = invert_images(
            G, E, images, refine_steps=cfg["refine_steps"], refine_lr=cfg["refine_lr"], beta1=cfg["refine_beta1"],
            batch_size=len(images), device=device, progress=False,
        )  # fmt: skip
        configured.append(time.perf_counter() - start)
        target = float(psnr(images.cpu(), recon).mean())  # the same every repeat: inversion is deterministic
        opt = optimise_to_psnr(
            G, images, target_psnr=target, max_steps=cfg["optimisation_max_steps"], **optimiser
        )
        optimised.append(opt["seconds"])
    return {
        "speedup_vs_optimisation": min(optimised) / max(min(configured), 1e-9),
        "speedup_images": len(images),
        "speedup_target_psnr": target,
        "speedup_repeats": SPEEDUP_REPEATS,
        "configured_seconds": min(configured),
        "optimisation_seconds": min(optimised),
        "configured_seconds_each": configured,
        "optimisation_seconds_each": optimised,
        "optimisation_steps": opt["steps"],
        "optimisation_psnr": opt["psnr"],
        "optimisation_reached_psnr": opt["reached"],
    }


def inversion_report_stage(
    *, summary_path, test_codes_path, test_path, oracle_path, generator_path, encoder_path, metrics_path,
    cfg: dict, device,
) -> dict:  # fmt: skip
    """Write ``inversion.json``: the gather summary plus ``psnr_test``, ``label_agreement`` (share of
    test images whose reconstruction the oracle reads with the true label) and the speed-up over
    optimisation-only inversion at the same PSNR, measured on the first test images."""
    device = resolve_device(device)
    metrics = json.loads(Path(summary_path).read_text())
    test, codes = load_split(test_path), load_codes(test_codes_path)
    oracle = load_oracle(oracle_path, map_location=device)
    label = test.meta["label_name"]
    reading = read_factors(oracle, codes.recon.clamp(-1, 1), device=device)[label].to_numpy()
    metrics["psnr_test"] = float(codes.psnr.mean())
    metrics["label_agreement"] = float((reading == test.factors[label].to_numpy()).mean())
    G = load_generator(generator_path, map_location=device)
    E = load_encoder(encoder_path, map_location=device)
    images = test.images[: cfg["speed_images"]]
    metrics.update(measure_speedup(G, E, images, cfg=cfg, device=device))
    write_json(metrics, metrics_path)
    log.info("inversion metrics: %s", metrics)
    return metrics

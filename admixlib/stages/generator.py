"""Rules train_stylegan, train_encoder, invert and gather_codes."""

import json
import logging
import time
from pathlib import Path

import torch

from admixlib.data import load_split
from admixlib.inversion import invert_images, load_encoder, psnr, save_encoder, train_encoder
from admixlib.runtime import fingerprint, load_checkpoint, resolve_device, save_atomic
from admixlib.stylegan import load_generator, sample_grid, save_generator, train_generator

log = logging.getLogger("admix.stages")

ARCH_KEYS = ("z_dim", "w_dim", "mapping_layers", "channels", "torgb")


def train_stylegan_stage(
    *,
    train_path,
    generator_path,
    samples_path,
    stats_path,
    cfg: dict,
    checkpoint_dir,
    checkpoint_every,
    device,
    seed,
) -> None:
    """Train the generator on the training split; write its EMA weights, a sample grid and stats."""
    train = load_split(train_path)
    run_dir = Path(checkpoint_dir) / fingerprint(config={**cfg, "seed": seed}, files=[train_path])
    arch = {key: cfg[key] for key in ARCH_KEYS}
    arch["channels"] = {int(res): ch for res, ch in arch["channels"].items()}
    arch["resolution"] = train.images.shape[-1]
    G = train_generator(
        train.images,
        generator_kwargs=arch,
        steps=cfg["steps"],
        batch_size=cfg["batch_size"],
        lr_g=cfg["lr_g"],
        lr_d=cfg["lr_d"],
        r1_gamma=cfg["r1_gamma"],
        r1_every=cfg["r1_every"],
        mixing_prob=cfg["mixing_prob"],
        ema_half_life_images=cfg["ema_half_life_images"],
        device=resolve_device(device),
        seed=seed,
        checkpoint_dir=run_dir,
        checkpoint_every=checkpoint_every,
        stats_path=stats_path,
        # Progress grids sit beside the resumable checkpoint: they are not rule outputs.
        sample_every=cfg["sample_every"],
        samples_path=run_dir / "samples_{step}.png",
    )
    save_generator(G, generator_path)
    sample_grid(G, n=64, seed=seed, path=samples_path)


def train_encoder_stage(
    *, generator_path, encoder_path, stats_path, cfg: dict, checkpoint_dir, checkpoint_every, device, seed
):
    """Train the image -> W+ encoder on samples of the trained generator."""
    device = resolve_device(device)
    G = load_generator(generator_path, map_location=device)
    run_dir = Path(checkpoint_dir) / fingerprint(config={**cfg, "seed": seed}, files=[generator_path])
    E = train_encoder(
        G,
        steps=cfg["steps"],
        batch_size=cfg["batch_size"],
        lr=cfg["lr"],
        latent_weight=cfg["latent_weight"],
        pixel_weight=cfg["pixel_weight"],
        mixing_prob=cfg["mixing_prob"],
        device=device,
        seed=seed,
        checkpoint_dir=run_dir,
        checkpoint_every=checkpoint_every,
        stats_path=stats_path,
    )
    save_encoder(E, encoder_path)


def parse_scatteritem(item: str) -> tuple[int, int]:
    """``"2-of-4"`` -> ``(1, 4)``: the zero-based shard index and the number of shards."""
    index, _, total = item.partition("-of-")
    if not (index.isdigit() and total.isdigit() and 1 <= int(index) <= int(total)):
        raise ValueError(f"scatter item {item!r} is not of the form 'i-of-n'")
    return int(index) - 1, int(total)


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
        ws, recon = invert_images(
            G,
            E,
            images[index],
            refine_steps=cfg["refine_steps"],
            refine_lr=cfg["refine_lr"],
            batch_size=cfg["batch_size"],
            device=device,
        )
        recon = recon.cpu()
        quality = psnr(images[index], recon)
        out["splits"][split] = {"index": index, "ws": ws.cpu(), "recon": recon.half(), "psnr": quality}
        n_images += len(index)
    out["seconds"] = time.perf_counter() - start
    out["n_images"] = n_images
    log.info("inverted %d images in %.1f s", n_images, out["seconds"])
    save_atomic(out, shard_path)


def gather_codes(*, shard_paths: list, code_paths: dict, metrics_path, refine_steps: int) -> dict:
    """Join inversion shards into one file per split (``code_paths[split]``) and write PSNR metrics."""
    shards = [load_checkpoint(path) for path in shard_paths]
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
    Path(metrics_path).parent.mkdir(parents=True, exist_ok=True)
    Path(metrics_path).write_text(json.dumps(metrics, indent=2) + "\n")
    log.info("inversion metrics: %s", metrics)
    return metrics

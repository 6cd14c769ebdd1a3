"""Rule train_stylegan."""

from pathlib import Path

import torch

from admixlib.data import load_split
from admixlib.runtime import fingerprint, load_checkpoint, resolve_device
from admixlib.stylegan import (
    Discriminator,
    sample_grid,
    save_discriminator,
    save_generator,
    train_generator,
)

ARCH_KEYS = (
    "z_dim",
    "w_dim",
    "mapping_layers",
    "channels",
    "torgb",
    "palette_size",
    "palette_gain",
    "palette_shading",
    "palette_supersample",
    "palette_bank",
)


def train_stylegan_stage(
    *,
    train_path,
    generator_path,
    discriminator_path,
    samples_path,
    stats_path,
    cfg: dict,
    split_index: int,
    checkpoint_dir,
    checkpoint_every,
    device,
    seed,
) -> None:
    """Train the generator on the training split; write its EMA weights, the final discriminator
    (the encoder's feature space), a sample grid and stats."""
    train = load_split(train_path)
    device = resolve_device(device)
    run_dir = Path(checkpoint_dir) / fingerprint(config={**cfg, "seed": seed}, files=[train_path])
    arch = {key: cfg[key] for key in ARCH_KEYS}
    arch["channels"] = {int(res): ch for res, ch in arch["channels"].items()}
    arch["resolution"] = train.images.shape[-1]
    if cfg["conditional"]:  # classes drawn at the training split's rates
        counts = torch.bincount(train.labels, minlength=int(train.meta["num_classes"]))
        arch |= {"num_classes": len(counts), "class_probs": (counts / counts.sum()).tolist()}
    elif cfg["latent_modes"]:  # equally likely modes; the discriminator sees no label
        arch |= {"num_classes": cfg["latent_modes"], "class_probs": None}
    G = train_generator(
        train.images,
        labels=train.labels if cfg["conditional"] else None,
        generator_kwargs=arch,
        steps=cfg["steps"],
        batch_size=cfg["batch_size"],
        lr_g=cfg["lr_g"],
        lr_d=cfg["lr_d"],
        r1_gamma=cfg["r1_gamma"],
        r1_every=cfg["r1_every"],
        mbstd_group=cfg["mbstd_group"],
        mixing_prob=cfg["mixing_prob"],
        split_mixing_prob=cfg["split_mixing_prob"],
        palette_sharpness=cfg["palette_sharpness"],
        palette_role_weight=cfg["palette_role_weight"],
        lr_decay_start=cfg["lr_decay_start"],
        ema_half_life_images=cfg["ema_half_life_images"],
        ema_rampup=cfg["ema_rampup"],
        device=device,
        seed=seed,
        checkpoint_dir=run_dir,
        checkpoint_every=checkpoint_every,
        stats_path=stats_path,
        # Progress grids sit beside the resumable checkpoint: they are not rule outputs.
        sample_every=cfg["sample_every"],
        samples_path=run_dir / "samples_{step}.png",
        mixing_split_index=split_index,
    )
    save_generator(G, generator_path)
    final = load_checkpoint(run_dir / "latest.pt")
    D = Discriminator(**final["D_kwargs"])
    D.load_state_dict(final["D"])
    save_discriminator(D, discriminator_path)
    sample_grid(G, n=64, seed=seed, path=samples_path)

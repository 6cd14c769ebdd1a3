"""Rule train_stylegan."""

from pathlib import Path

import torch

from admixlib.data import load_split
from admixlib.runtime import (
    CHECKPOINT_NAME,
    RunFiles,
    fingerprint,
    load_checkpoint,
    resolve_device,
    training_module,
)
from admixlib.stylegan import (
    ARCH_KEYS,
    Discriminator,
    GanRecipe,
    sample_grid,
    save_discriminator,
    save_generator,
    train_generator,
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
    G = train_generator(
        train.images,
        labels=train.labels if cfg["conditional"] else None,
        generator_kwargs=arch,
        steps=cfg["steps"],
        recipe=GanRecipe.from_config(cfg),
        device=device,
        seed=seed,
        files=RunFiles(run_dir, stats_path, checkpoint_every=checkpoint_every),
        # Progress grids sit beside the resumable checkpoint: they are not rule outputs.
        sample_every=cfg["sample_every"],
        samples_path=run_dir / "samples_{step}.png",
        mixing_split_index=split_index,
    )
    save_generator(G, generator_path)
    final = training_module(load_checkpoint(run_dir / CHECKPOINT_NAME, writer="train_stylegan"), "D")
    D = Discriminator(**final["kwargs"])
    D.load_state_dict(final["state_dict"])
    save_discriminator(D, discriminator_path)
    sample_grid(G, n=64, seed=seed, path=samples_path)

"""Rules train_stylegan and select_stylegan."""

import logging
import shutil
from pathlib import Path

import pandas as pd
import torch
from tqdm import tqdm

from admixlib.analysis import load_oracle, marginal_gap, mixing_scores, read_factors, sample_pairs
from admixlib.analysis.fidelity import frechet_distance, generator_samples, oracle_features
from admixlib.analysis.selection import sample_side_scores, worst_margin
from admixlib.data import load_split
from admixlib.runtime import fingerprint, load_checkpoint, resolve_device, torch_generator
from admixlib.stylegan import (
    Discriminator,
    load_generator,
    sample_grid,
    save_discriminator,
    save_generator,
    train_generator,
)

log = logging.getLogger("admix.stages")

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


def _oracle_monitor(oracle_path, train, *, n_samples: int, split_index: int, seed: int, device):
    """A ``monitor`` for :func:`train_generator` on the training split ``train``. Of ``n_samples``
    samples (fixed latents): the oracle feature distance and the oracle's marginal gap (as in
    ``generator.json``; also per factor, ``oracle_gap_{factor}``) to ``n_samples`` real training
    images, and whole-style mixing at ``split_index`` on ``n_samples // 2`` fixed sample pairs:
    ``oracle_label_kept`` and ``oracle_moved_{factor}`` per nuisance (as ``label_kept`` and
    ``nuisance_moved`` there)."""
    oracle = load_oracle(oracle_path, map_location=device)
    names, label = list(train.meta["factor_names"]), train.meta["label_name"]
    real = train.images[torch.randperm(len(train.images), generator=torch_generator(seed))[:n_samples]]
    real_features = oracle_features(oracle, real, device=device)
    real_factors = read_factors(oracle, real, device=device)

    def monitor(G) -> dict:
        fake = generator_samples(G, n_samples, seed=seed + 1)
        fake_features = oracle_features(oracle, fake, device=device)
        fake_factors = read_factors(oracle, fake, device=device)
        source, donor = sample_pairs(G, n_samples // 2, seed=seed + 2)
        mixing = mixing_scores(
            G, oracle, split_index=split_index, source_ws=source, donor_ws=donor, factor_names=names,
            label_name=label, device=device,
        )  # fmt: skip
        return {
            "oracle_feature_distance": frechet_distance(real_features, fake_features),
            "oracle_marginal_gap": marginal_gap(fake_factors, real_factors, oracle.factor_names),
            **{f"oracle_gap_{f}": marginal_gap(fake_factors, real_factors, [f]) for f in oracle.factor_names},
            "oracle_label_kept": mixing["label_kept"],
            **{f"oracle_moved_{f}": share for f, share in mixing["nuisance_moved"].items()},
        }

    return monitor


def train_stylegan_stage(
    *,
    train_path,
    oracle_path,
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
        monitor=_oracle_monitor(
            oracle_path,
            train,
            n_samples=cfg["monitor_samples"],
            split_index=split_index,
            seed=seed,
            device=device,
        ),
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


def select_stylegan_stage(
    *,
    candidates: list[dict],
    oracle_path,
    train_path,
    generator_path,
    discriminator_path,
    samples_path,
    stats_path,
    selection_path,
    split_index: int,
    targets: dict,
    n_pairs: int,
    marginal_samples: int,
    device,
    seed: int,
) -> int:
    """Score every candidate GAN on fresh samples (:func:`~admixlib.analysis.selection.sample_side_scores`
    from ``seed``) and copy the one with the largest worst margin to the targets (``label_kept``,
    ``nuisance_moved``, ``marginal_gap``: :func:`~admixlib.analysis.selection.worst_margin`) to the
    generator, discriminator, samples and stats paths; ties go to the earlier candidate.

    ``candidates``: one dict per GAN with ``seed`` and its ``generator``, ``discriminator``,
    ``samples`` and ``stats`` paths. Writes one CSV row per candidate to ``selection_path``
    (``gan_seed``, the scores, ``worst_margin``, ``selected``); returns the chosen GAN's seed.
    """
    device = resolve_device(device)
    oracle = load_oracle(oracle_path, map_location=device)
    train = load_split(train_path)
    names, label = list(train.meta["factor_names"]), train.meta["label_name"]
    rows = []
    for candidate in tqdm(candidates, desc="GAN candidates"):
        G = load_generator(candidate["generator"], map_location=device)
        scores = sample_side_scores(
            G, oracle, train.images, factor_names=names, label_name=label, split_index=split_index,
            n_pairs=n_pairs, marginal_samples=marginal_samples, seed=seed, device=device,
        )  # fmt: skip
        rows.append(
            {"gan_seed": candidate["seed"], **scores, "worst_margin": worst_margin(scores, **targets)}
        )
        log.info("GAN seed %s: %s", candidate["seed"], rows[-1])
    table = pd.DataFrame(rows)
    best = int(table["worst_margin"].to_numpy().argmax())
    table["selected"] = table.index == best
    chosen = candidates[best]
    for key, path in (
        ("generator", generator_path),
        ("discriminator", discriminator_path),
        ("samples", samples_path),
        ("stats", stats_path),
    ):
        shutil.copyfile(chosen[key], path)
    table.to_csv(selection_path, index=False, float_format="%.4f")
    log.info("chose GAN seed %s (worst margin %.4f)", chosen["seed"], table["worst_margin"][best])
    return int(chosen["seed"])

"""The one classifier training loop: nominal, l_inf PGD, AutoAugment, RandMix and AdvMix differ only
in the perturbation set passed in."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from admixlib.classify.models import build_classifier
from admixlib.perturb import Batch, PerturbationSet, find_worst_case
from admixlib.runtime import (
    load_checkpoint,
    save_atomic,
    set_torch_rng_state,
    torch_generator,
    torch_rng_state,
    trim_stats,
)

log = logging.getLogger("admix.classify")

CHECKPOINT_NAME = "latest.pt"
ATTACK_SEED_OFFSET = 1_000_003


def _take(x: Tensor | None, idx: Tensor, device: torch.device) -> Tensor | None:
    return None if x is None else x[idx].to(device, non_blocking=True)


def _loss(forward, model: nn.Module, batch: Batch, *, pset, lam: float, attack_gen) -> tuple:
    """One step's training loss: nominal, or ``lam * CE(x) + (1 - lam) * CE(x_pert)`` on worst cases
    found in eval mode. ``forward`` is ``model`` or its compiled version. Returns ``(loss, clean_acc,
    pert_acc, attack_seconds)`` (accuracies on the batch, None where not computed)."""
    if pset is None:
        model.train()
        logits = forward(batch.images)
        return F.cross_entropy(logits, batch.labels), _accuracy(logits, batch.labels), None, 0.0
    model.eval()
    t0 = time.perf_counter()
    x_pert = find_worst_case(pset, forward, batch, generator=attack_gen)
    attack_seconds = time.perf_counter() - t0
    model.train()
    n, clean_acc = len(batch), None
    if lam > 0:
        logits = forward(torch.cat([batch.images, x_pert]))
        clean_logits, pert_logits = logits[:n], logits[n:]
        loss = lam * F.cross_entropy(clean_logits, batch.labels)
        loss = loss + (1.0 - lam) * F.cross_entropy(pert_logits, batch.labels)
        clean_acc = _accuracy(clean_logits, batch.labels)
    else:
        pert_logits = forward(x_pert)
        loss = F.cross_entropy(pert_logits, batch.labels)
    return loss, clean_acc, _accuracy(pert_logits, batch.labels), attack_seconds


def _accuracy(logits: Tensor, labels: Tensor) -> float:
    return float((logits.argmax(1) == labels).float().mean())


def train_classifier(
    *,
    images: Tensor,
    labels: Tensor,
    codes: Tensor | None = None,
    residuals: Tensor | None = None,
    num_classes: int,
    pset: PerturbationSet | None = None,
    lam: float = 0.5,
    steps: int,
    batch_size: int,
    lr: float = 1e-3,
    weight_decay: float = 5e-4,
    arch: str = "cnn",
    width: int = 32,
    device: str | torch.device = "cpu",
    seed: int = 0,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 100,
    stats_path: str | os.PathLike | None = None,
    progress: bool = True,
    bf16: bool = False,
    compile_model: bool = False,
) -> nn.Module:
    """Train a classifier, nominally (``pset=None``) or on worst cases from a perturbation set.

    Each step draws a batch (seeded epoch permutations, last partial batch dropped); with ``pset``
    the model is put in eval mode, :func:`~admixlib.perturb.find_worst_case` perturbs the batch
    (``pset.steps`` ascent steps, one restart), then in train mode the loss is
    ``lam * CE(x) + (1 - lam) * CE(x_pert)`` on one forward pass of the concatenated batch (with
    ``lam == 0`` only ``x_pert`` is forwarded). Optimiser: AdamW (``lr``, decoupled ``weight_decay``)
    with a cosine decay of the learning rate to 0 over ``steps`` (no warm-up).

    Every ``checkpoint_every`` steps (and at the end) ``checkpoint_dir/latest.pt`` is written
    atomically with model, optimiser, scheduler, step, the data-order and attack generators' states,
    the current permutation and the global torch RNG state; if it exists at start, training resumes
    from it (a finished checkpoint returns at once). Random streams: model init from ``seed`` (global
    RNG forked, not consumed), data order from ``torch_generator(seed)``, perturbations from
    ``torch_generator(seed + 1000003)`` (CPU generators, so runs match across devices up to kernels).

    Args:
        images: float ``[N, 3, H, W]`` in ``[-1, 1]`` (any device; batches are moved to ``device``).
        labels: int64 ``[N]``.
        codes: W+ codes ``[N, L, w_dim]`` (StyleMixSet needs them), or None.
        residuals: ``[N, 3, H, W]`` inversion residuals (StyleMixSet with ``add_residual``), or None.
        num_classes: number of classes.
        pset: perturbation set, or None for nominal training (``lam`` is then ignored).
        lam: weight of the clean loss in ``[0, 1]``.
        steps: optimiser steps in total (including steps done before a resume).
        batch_size: clean examples per step.
        lr, weight_decay: AdamW hyper-parameters.
        arch, width: passed to :func:`~admixlib.classify.models.build_classifier`.
        device: torch device for the model (the generator inside ``pset`` must be there too).
        seed: seed of all the random streams above.
        checkpoint_dir: where ``latest.pt`` lives; None disables checkpoints and resuming.
        checkpoint_every: steps between checkpoints.
        stats_path: JSONL file, one line per step: ``step, loss, clean_acc, pert_acc, lr, seconds,
            attack_seconds`` (accuracies on the training batch; None where not computed).
        progress: show a tqdm bar.
        bf16: run the attack's and the training step's forward passes under bfloat16 autocast.
        compile_model: run them through ``torch.compile(model)`` (parameters and checkpoints are
            the uncompiled model's).

    Returns:
        The trained model in eval mode on ``device``.
    """
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be in [0, 1], got {lam}")
    if checkpoint_every < 1 or steps < 0:
        raise ValueError(f"need checkpoint_every >= 1 and steps >= 0, got {checkpoint_every}, {steps}")
    if len(images) != len(labels):
        raise ValueError(f"images ({len(images)}) and labels ({len(labels)}) differ in length")
    device = torch.device(device)
    n = len(images)
    batch_size = min(int(batch_size), n)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_classifier(arch=arch, num_classes=num_classes, width=width, in_channels=images.shape[1])
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(int(steps), 1))
    data_gen = torch_generator(seed)
    attack_gen = torch_generator(seed + ATTACK_SEED_OFFSET)
    perm = torch.randperm(n, generator=data_gen)
    cursor = 0
    step = 0
    method = "nominal" if pset is None else repr(pset)
    config = dict(n=n, steps=int(steps), batch_size=batch_size, lr=lr, lam=lam, seed=seed, method=method)

    ckpt_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
    stats = Path(stats_path) if stats_path is not None else None
    if ckpt_path is not None and ckpt_path.is_file():
        ckpt = load_checkpoint(ckpt_path, map_location="cpu", weights_only=True)
        if ckpt["config"] != config:
            log.warning("checkpoint %s was written with %s; now %s", ckpt_path, ckpt["config"], config)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        data_gen.set_state(ckpt["rng"]["data"])
        attack_gen.set_state(ckpt["rng"]["attack"])
        set_torch_rng_state(ckpt["rng"]["torch"], device)
        perm, cursor, step = ckpt["perm"], int(ckpt["cursor"]), int(ckpt["step"])
        log.info("resumed from %s at step %d/%d", ckpt_path, step, steps)
        if stats is not None:
            trim_stats(stats, step)
    elif stats is not None:
        stats.parent.mkdir(parents=True, exist_ok=True)
        stats.write_text("")

    def save() -> None:
        if ckpt_path is None:
            return
        rng = {
            "data": data_gen.get_state(),
            "attack": attack_gen.get_state(),
            "torch": torch_rng_state(device),
        }
        save_atomic(
            {
                "step": step,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "rng": rng,
                "perm": perm,
                "cursor": cursor,
                "config": config,
            },
            ckpt_path,
        )

    log.info(
        "training %s classifier (%s) for %d steps, batch %d, on %s%s%s", arch, method, steps, batch_size,
        device, ", bf16 autocast" if bf16 else "", ", compiled" if compile_model else "",
    )  # fmt: skip
    forward = torch.compile(model) if compile_model else model
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16)
    log_every = max(1, int(steps) // 20)
    bar = tqdm(total=int(steps), initial=step, disable=not progress, desc=f"classifier {method[:40]}")
    stats_handle = stats.open("a") if stats is not None else None
    try:
        while step < steps:
            t0 = time.perf_counter()
            if cursor + batch_size > n:
                perm, cursor = torch.randperm(n, generator=data_gen), 0
            idx = perm[cursor : cursor + batch_size]
            cursor += batch_size
            batch = Batch(
                images=images[idx].to(device),
                labels=labels[idx].to(device),
                codes=_take(codes, idx, device),
                residuals=_take(residuals, idx, device),
                index=idx,
            )
            with autocast:
                loss, clean_acc, pert_acc, attack_seconds = _loss(
                    forward, model, batch, pset=pset, lam=lam, attack_gen=attack_gen
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            current_lr = optimizer.param_groups[0]["lr"]
            scheduler.step()
            step += 1
            record = dict(
                step=step,
                loss=float(loss.detach()),
                clean_acc=clean_acc,
                pert_acc=pert_acc,
                lr=current_lr,
                seconds=time.perf_counter() - t0,
                attack_seconds=attack_seconds,
            )
            if stats_handle is not None:
                stats_handle.write(json.dumps(record) + "\n")
                stats_handle.flush()
            if step % log_every == 0 or step == steps:
                log.info("step %d/%d %s", step, steps, {k: v for k, v in record.items() if k != "step"})
            bar.update(1)
            bar.set_postfix(loss=f"{record['loss']:.3f}")
            if step % checkpoint_every == 0 or step == steps:
                save()
    finally:
        bar.close()
        if stats_handle is not None:
            stats_handle.close()
    return model.eval()

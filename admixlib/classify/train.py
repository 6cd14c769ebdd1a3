"""The one classifier training loop: nominal, l_inf PGD, AutoAugment, RandMix and AdvMix differ only
in the perturbation set passed in."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from admixlib.classify.models import build_classifier
from admixlib.perturb import Batch, PerturbationSet, find_worst_case
from admixlib.runtime import ConfigRecipe, RunFiles, TrainingState, torch_generator

log = logging.getLogger("admix.classify")

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
    if x_pert.is_cuda:  # CUDA runs asynchronously: time the attack's kernels, not their launch
        torch.cuda.synchronize(x_pert.device)
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


@dataclass(frozen=True)
class ClassifierRecipe(ConfigRecipe):
    """The model and its optimisation (AdamW, cosine decay of the learning rate to 0): the
    ``classifier`` keys of the same names in config/schema.yaml."""

    arch: str = "cnn"
    width: int = 32
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 5e-4
    bf16: bool = False
    compile: bool = False


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
    recipe: ClassifierRecipe | None = None,
    device: str | torch.device = "cpu",
    seed: int = 0,
    files: RunFiles | None = None,
) -> nn.Module:
    """Train a classifier on ``images [N, 3, H, W]`` in ``[-1, 1]`` and ``labels`` int64 ``[N]``
    (any device), nominally (``pset=None``) or on worst cases from ``pset``; returns it in eval mode
    on ``device`` (where the generator inside ``pset`` must be too).

    Each step draws a batch (seeded epoch permutations, last partial batch dropped); with ``pset``
    :func:`~admixlib.perturb.find_worst_case` perturbs it in eval mode, then in train mode the loss
    is ``lam * CE(x) + (1 - lam) * CE(x_pert)`` on one forward pass of the concatenated batch (only
    ``x_pert`` when ``lam == 0``). ``codes [N, L, w_dim]`` and ``residuals [N, 3, H, W]`` feed the
    style-mixing sets. Random streams: model init from ``seed`` (global RNG forked, not consumed),
    data order from ``torch_generator(seed)``, perturbations from ``torch_generator(seed + 1000003)``.
    ``files``: the checkpoint (resumed from when present), the stats file (JSON lines ``step, loss,
    clean_acc, pert_acc, lr, seconds, attack_seconds``, accuracies on the batch or None) and the
    bar; None: nothing written.
    """
    files = files or RunFiles(progress=False)
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be in [0, 1], got {lam}")
    if steps < 0:
        raise ValueError(f"need steps >= 0, got {steps}")
    if len(images) != len(labels):
        raise ValueError(f"images ({len(images)}) and labels ({len(labels)}) differ in length")
    r, device, n = recipe or ClassifierRecipe(), torch.device(device), len(images)
    batch_size = min(int(r.batch_size), n)
    model, optimizer, scheduler = _model_and_optimiser(
        r, num_classes=num_classes, in_channels=images.shape[1], seed=seed, steps=int(steps), device=device
    )
    data_gen, attack_gen = torch_generator(seed), torch_generator(seed + ATTACK_SEED_OFFSET)
    method = "nominal" if pset is None else repr(pset)
    state = TrainingState(
        files, device=device,
        stateful=dict(model=model, optimizer=optimizer, scheduler=scheduler),
        generators=dict(data=data_gen, attack=attack_gen),
        values=dict(perm=torch.randperm(n, generator=data_gen), cursor=0),
        identity=dict(n=n, steps=int(steps), batch_size=batch_size, lr=r.lr, lam=lam, seed=seed, method=method),
        on_mismatch="restart",
    )  # fmt: skip
    if state.resume():
        log.info("resumed from %s at step %d/%d", state.path, state.step, steps)
    log.info("training %s classifier (%s) for %d steps, batch %d, on %s (%s)", r.arch, method, steps, batch_size,
             device, r)  # fmt: skip
    forward = torch.compile(model) if r.compile else model
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=r.bf16)
    log_every = max(1, int(steps) // 20)
    for step in state.steps(int(steps), desc=f"classifier {method[:40]}"):
        idx = _next_indices(state, batch_size=batch_size, generator=data_gen)
        batch = Batch(images=images[idx].to(device), labels=labels[idx].to(device), codes=_take(codes, idx, device),
                      residuals=_take(residuals, idx, device), index=idx)  # fmt: skip
        record = {"step": step} | _train_step(forward, model, batch, optimizer, scheduler, pset=pset, lam=lam,
                                              attack_gen=attack_gen, autocast=autocast)  # fmt: skip
        state.write_stats(record)
        if step % log_every == 0 or step == steps:
            log.info("step %d/%d %s", step, steps, {k: v for k, v in record.items() if k != "step"})
        state.bar.set_postfix(loss=f"{record['loss']:.3f}")
    return model.eval()


def _train_step(
    forward, model, batch: Batch, optimizer, scheduler, *, pset, lam, attack_gen, autocast
) -> dict:
    """One optimiser step on ``batch`` (forward passes under ``autocast``); returns its stats line
    (without the step number)."""
    t0 = time.perf_counter()
    with autocast:
        loss, clean_acc, pert_acc, attack_seconds = _loss(
            forward, model, batch, pset=pset, lam=lam, attack_gen=attack_gen
        )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    current_lr = optimizer.param_groups[0]["lr"]
    scheduler.step()
    return dict(
        loss=float(loss.detach()), clean_acc=clean_acc, pert_acc=pert_acc, lr=current_lr,
        seconds=time.perf_counter() - t0, attack_seconds=attack_seconds,
    )  # fmt: skip


def _model_and_optimiser(recipe: ClassifierRecipe, *, num_classes, in_channels, seed, steps, device) -> tuple:
    """The model initialised from ``seed`` (the global RNG forked, not consumed), AdamW and its
    cosine decay to 0 over ``steps``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_classifier(
            arch=recipe.arch, num_classes=num_classes, width=recipe.width, in_channels=in_channels
        )
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(steps, 1))
    return model, optimizer, scheduler


def _next_indices(state: TrainingState, *, batch_size: int, generator: torch.Generator) -> Tensor:
    """The next ``batch_size`` indices of the epoch permutation in ``state.values`` (a new
    permutation, drawn with ``generator``, when the current one has too few left)."""
    perm, cursor = state.values["perm"], state.values["cursor"]
    if cursor + batch_size > len(perm):
        perm, cursor = torch.randperm(len(perm), generator=generator), 0
    state.values.update(perm=perm, cursor=cursor + batch_size)
    return perm[cursor : cursor + batch_size]

"""GAN training (non-saturating loss, lazy R1 and path-length penalty, style mixing, EMA) with atomic
checkpoints and resume."""

import copy
import logging
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from admixlib.runtime import ConfigRecipe, RunFiles, TrainingState, torch_generator
from admixlib.stylegan.discriminator import Discriminator
from admixlib.stylegan.grids import mixing_grid, sample_grid
from admixlib.stylegan.loss import (
    GanLoss,
    PathLengthMean,
    discriminator_loss,
    generator_loss,
    path_length_penalty,
)
from admixlib.stylegan.networks import Generator

log = logging.getLogger("admix.stylegan")


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, beta: float) -> None:
    """``ema = beta * ema + (1 - beta) * model`` for parameters; buffers are copied."""
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p, 1.0 - beta)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)


def lr_scale(step: int, *, steps: int, decay_start: float) -> float:
    """Learning-rate factor at ``step``: 1 until ``decay_start * steps``, then linear to 0 at ``steps``.

    ``decay_start`` in ``(0, 1]``; 1 keeps the learning rates constant.
    """
    if not 0.0 < decay_start <= 1.0:
        raise ValueError(f"lr_decay_start must be in (0, 1], got {decay_start}")
    start = decay_start * steps
    if step < start or start >= steps:
        return 1.0
    return max(0.0, (steps - step) / (steps - start))


def ema_beta(step: int, *, batch_size: int, half_life_images: float, rampup: float | None) -> float:
    """EMA decay after ``step`` steps: a half-life of ``half_life_images`` images, capped at
    ``rampup * images_seen`` early on (no cap when ``rampup`` is None)."""
    half_life = half_life_images
    if rampup is not None:
        half_life = min(half_life, step * batch_size * rampup)
    return 0.5 ** (batch_size / max(half_life, 1e-8))


def build_gan(images, labels, *, generator_kwargs, mbstd_group, seed, device):
    """``(G, D, num_classes)`` for ``images [N, 3, H, W]``, initialised from ``seed``, D with G's
    channels; ``num_classes`` is G's classes when ``labels [N]`` are given (a class-conditional D), else 0."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be [N, 3, H, W], got {tuple(images.shape)}")
    torch.manual_seed(seed)
    G = Generator(**generator_kwargs).to(device)
    if images.shape[-1] != G.resolution:
        raise ValueError(f"images are {images.shape[-1]}px but the generator makes {G.resolution}px")
    # labelled: a class-conditional GAN; a generator with classes but no labels has latent modes
    num_classes = G.kwargs["num_classes"] if labels is not None else 0
    if labels is not None and (not num_classes or labels.shape != images.shape[:1]):
        raise ValueError(
            f"labels need a generator with classes (num_classes > 0) and one label per image, got {labels!r:.60}"
        )
    D = Discriminator(
        resolution=G.resolution,
        channels=G.kwargs["channels"],
        mbstd_group=mbstd_group,
        num_classes=num_classes,
    )
    return G, D.to(device), num_classes


@dataclass(frozen=True)
class GanRecipe(ConfigRecipe):
    """How a GAN is trained (everything but the architecture, the run's files and its seed): the
    ``stylegan`` keys of the same names in config/schema.yaml, Adam's ``betas`` (rescaled for the
    lazy penalties) and the ``loss`` settings."""

    batch_size: int = 32
    lr_g: float = 2e-3
    lr_d: float = 5e-4
    betas: tuple[float, float] = (0.0, 0.99)
    mbstd_group: int = 4
    mixing_prob: float = 0.9
    lr_decay_start: float = 1.0
    ema_half_life_images: float = 10_000
    ema_rampup: float | None = 0.05
    flip: bool = False
    bf16: bool = False
    loss: GanLoss = field(default_factory=GanLoss)

    @classmethod
    def from_config(cls, cfg: dict) -> "GanRecipe":
        """The recipe of a config block (the ``stylegan`` section): its keys named like fields,
        the loss's among them."""
        return replace(super().from_config(cfg), loss=GanLoss.from_config(cfg))


def train_generator(
    images: torch.Tensor,
    *,
    labels: torch.Tensor | None = None,
    generator_kwargs: dict,
    steps: int,
    recipe: GanRecipe | None = None,
    device: str | torch.device = "cpu",
    seed: int = 0,
    files: RunFiles,
    sample_every: int | None = None,
    samples_path: str | os.PathLike | None = None,
    mixing_split_index: int | None = None,
) -> Generator:
    """Train a StyleGAN2-style generator on ``images`` ``float32 [N, 3, H, W]`` in ``[-1, 1]``;
    returns the EMA generator (eval, no grad).

    ``labels`` (``int64 [N]``) make a class-conditional GAN (the generator needs classes); without
    them a generator's classes are latent modes. ``generator_kwargs``: :class:`Generator`'s arguments
    (its ``resolution`` must equal H); ``recipe``: optimiser and loss settings (None: the defaults);
    ``device``: where training runs. ``steps`` counts all steps (a resumed run continues
    up to it); ``seed`` drives every draw. ``files``: the checkpoint (resumed from when present; its
    ``D`` is the final discriminator), the stats file (JSON lines ``step, loss_g, loss_d, r1, d_real,
    d_fake, seconds, images_seen``) and the progress bar. Every ``sample_every`` steps a sample grid
    of the EMA generator goes to ``samples_path`` (``{step}`` formatted), with a mixing grid at
    ``mixing_split_index`` when that is set.
    """
    device, r = torch.device(device), recipe or GanRecipe()
    G, D, num_classes = build_gan(
        images, labels, generator_kwargs=generator_kwargs, mbstd_group=r.mbstd_group, seed=seed, device=device
    )
    G_ema, (opt_g, opt_d) = copy.deepcopy(G).eval().requires_grad_(False), _optimizers(G, D, r)
    data_gen, latent_gen = torch_generator(seed, "cpu"), torch_generator(seed + 1, device)
    # the checkpoint holds the path-length mean when that penalty is on
    pl_mean = PathLengthMean().to(device) if r.loss.pl_weight > 0 else None
    stateful = dict(G=G, D=D, G_ema=G_ema, opt_g=opt_g, opt_d=opt_d)
    if pl_mean is not None:
        stateful["pl_mean"] = pl_mean
    state = TrainingState(
        files, device=device, stateful=stateful,
        generators=dict(data=data_gen, latent=latent_gen), identity=dict(G_kwargs=G.kwargs, D_kwargs=D.kwargs),
    )  # fmt: skip
    if state.resume():
        log.info("resumed GAN training from %s at step %d", state.path, state.step)
    else:
        n_g, n_d = (sum(p.numel() for p in m.parameters()) for m in (G, D))
        log.info("GAN training from scratch: G %d params, D %d params, %d images", n_g, n_d, len(images))
    images, labels = images.to(device), (labels.to(device) if num_classes else None)
    G.train()
    D.train()
    r1_value = float("nan")
    for step in state.steps(steps, desc="GAN"):
        scale = lr_scale(step - 1, steps=steps, decay_start=r.lr_decay_start)
        for group in (*opt_g.param_groups, *opt_d.param_groups):
            group["lr"] = group["initial_lr"] * scale
        real, real_labels = _real_batch(
            images, labels, batch_size=r.batch_size, flip=r.flip, generator=data_gen
        )
        out = _gan_step(
            G, D, G_ema, opt_g, opt_d, real, real_labels, recipe=r, step=step - 1,
            conditional=bool(num_classes), generator=latent_gen, pl_mean=pl_mean,
        )  # fmt: skip
        r1_value = out["r1"] if out["r1"] is not None else r1_value
        if files.stats_due(step, steps):
            row = _stats_row(step, out, r1=r1_value, seconds=state.elapsed(), batch_size=r.batch_size)
            state.write_stats(row)
            state.bar.set_postfix(loss_g=f"{row['loss_g']:.3f}", loss_d=f"{row['loss_d']:.3f}")
        if sample_every and samples_path and (step % sample_every == 0 or step == steps):
            _write_grids(
                G_ema, step=step, seed=seed, samples_path=samples_path, split_index=mixing_split_index
            )
    log.info(
        "GAN training done: %d steps in %.1f s (%.3f s/step)", state.step, state.seconds,
        state.seconds / max(state.step, 1),
    )  # fmt: skip
    return G_ema.eval().requires_grad_(False)


def _optimizers(G: Generator, D: Discriminator, recipe: GanRecipe) -> tuple:
    """Adam for G and D, each with its settings rescaled for its lazy penalty (StyleGAN2: R1 for D,
    path length for G); each group keeps its base learning rate in ``initial_lr`` for the decay."""
    loss, betas = recipe.loss, recipe.betas
    c = loss.r1_every / (loss.r1_every + 1) if loss.r1_every > 0 else 1.0
    c_g = loss.pl_every / (loss.pl_every + 1) if loss.pl_weight > 0 else 1.0
    opt_g = torch.optim.Adam(G.parameters(), lr=recipe.lr_g * c_g, betas=(betas[0] ** c_g, betas[1] ** c_g))
    opt_d = torch.optim.Adam(D.parameters(), lr=recipe.lr_d * c, betas=(betas[0] ** c, betas[1] ** c))
    for opt in (opt_g, opt_d):
        for group in opt.param_groups:
            group["initial_lr"] = group["lr"]
    return opt_g, opt_d


def _stats_row(step: int, out: dict, *, r1, seconds: float, batch_size: int) -> dict:
    """The stats line of ``step`` from :func:`_gan_step`'s numbers; raises when a loss is not finite."""
    row = dict(step=step, loss_g=float(out["loss_g"]), loss_d=float(out["loss_d"]), r1=float(r1))
    row |= dict(d_real=float(out["d_real"]), d_fake=float(out["d_fake"]), seconds=round(seconds, 3))
    row["images_seen"] = step * batch_size
    if not math.isfinite(row["loss_g"]) or not math.isfinite(row["loss_d"]):
        raise FloatingPointError(f"GAN losses became non-finite at step {step}: {row}")
    return row


def _write_grids(G_ema: Generator, *, step: int, seed: int, samples_path, split_index: int | None) -> None:
    path = Path(str(samples_path).replace("{step}", f"{step:06d}"))
    sample_grid(G_ema, n=64, seed=seed, path=path)
    if split_index is not None:
        mixing_grid(G_ema, split_index=split_index, seed=seed, path=path.with_name(f"mixing_{step:06d}.png"))


def _real_batch(images, labels, *, batch_size: int, flip: bool, generator: torch.Generator):
    """A batch of ``images [N, 3, H, W]`` (with ``labels`` or None) drawn with replacement with the
    CPU ``generator``, each flipped horizontally with probability 1/2 when ``flip``."""
    idx = torch.randint(len(images), (batch_size,), generator=generator).to(images.device)
    real = images[idx]
    real_labels = labels[idx] if labels is not None else None
    if flip:
        flip_mask = torch.rand(batch_size, generator=generator).to(images.device) < 0.5
        real = torch.where(flip_mask[:, None, None, None], real.flip(3), real)
    return real, real_labels


def _gan_step(
    G, D, G_ema, opt_g, opt_d, real, real_labels, *, recipe, step, conditional, generator, pl_mean=None
) -> dict:
    """One D update, one G update on the same fakes (and a path-length update when due), then the
    EMA's; returns the step's numbers for the stats (scalar tensors ``loss_g, loss_d, d_real, d_fake``
    and ``r1``, None when R1 was not due). ``step`` counts the steps done before this one."""
    autocast = torch.autocast(device_type=real.device.type, dtype=torch.bfloat16, enabled=recipe.bf16)
    # one generator forward per step: its detached output trains D, then D's update trains G
    z = torch.randn(len(real), G.z_dim, device=real.device, generator=generator)
    fake_labels = G.mapping.labels_of(z) if conditional else None  # what the D judges them as
    with autocast:
        fake = G.synthesis(
            G.mix_ws(z, mixing_prob=recipe.mixing_prob, generator=generator), noise_mode="random"
        )
    loss = recipe.loss

    D.requires_grad_(True)
    with autocast:
        total_d, loss_d, r1, d_real, d_fake = discriminator_loss(
            D, real, real_labels, fake, fake_labels, loss=loss, step=step
        )
    opt_d.zero_grad(set_to_none=True)
    total_d.backward()
    opt_d.step()

    D.requires_grad_(False)
    with autocast:
        loss_g = generator_loss(G, D, fake, fake_labels, loss=loss)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    if loss.pl_weight > 0 and step % loss.pl_every == 0:
        penalty = path_length_penalty(
            G, n=max(1, len(real) // 2), mixing_prob=recipe.mixing_prob, mean=pl_mean, generator=generator
        )
        opt_g.zero_grad(set_to_none=True)
        (penalty * loss.pl_weight * loss.pl_every).backward()
        opt_g.step()
    ema_update(G_ema, G, ema_beta(step + 1, batch_size=len(real), half_life_images=recipe.ema_half_life_images,
                                  rampup=recipe.ema_rampup))  # fmt: skip
    # detached tensors: read (a device sync) only on the steps that write stats
    return dict(
        loss_g=loss_g.detach(), loss_d=loss_d.detach(), r1=r1.detach() if r1 is not None else None,
        d_real=d_real.detach().mean(), d_fake=d_fake.detach().mean(),
    )  # fmt: skip

"""GAN training (non-saturating loss, lazy R1, style mixing, EMA) with atomic checkpoints and resume."""

import copy
import json
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from admixlib.runtime import (
    load_checkpoint,
    save_atomic,
    set_torch_rng_state,
    torch_generator,
    torch_rng_state,
    trim_stats,
)
from admixlib.stylegan.discriminator import Discriminator
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


def split_mix(G: Generator, ws: torch.Tensor, split_index: int, *, prob: float, generator) -> torch.Tensor:
    """``ws [N, L, D]`` where each row, with probability ``prob``, takes styles ``split_index..L-1``
    from a freshly drawn latent (drawn with ``generator``, without updating ``w_avg``)."""
    if not 1 <= split_index < ws.shape[1]:
        raise ValueError(f"split_index must be in 1..{ws.shape[1] - 1}, got {split_index}")
    n, device = ws.shape[0], ws.device
    z = torch.randn(n, G.z_dim, device=device, generator=generator)
    donor = G.mix_ws(z, update_w_avg=False)
    chosen = torch.rand(n, device=device, generator=generator) < prob
    mixed = ws.clone()
    mixed[chosen, split_index:] = donor[chosen, split_index:]
    return mixed


def train_generator(
    images: torch.Tensor,
    *,
    labels: torch.Tensor | None = None,
    generator_kwargs: dict,
    discriminator_kwargs: dict | None = None,
    steps: int,
    batch_size: int = 32,
    lr_g: float = 2e-3,
    lr_d: float = 5e-4,
    betas: tuple[float, float] = (0.0, 0.99),
    r1_gamma: float = 1.0,
    r1_every: int = 16,
    mbstd_group: int = 4,
    mixing_prob: float = 0.9,
    split_mixing_prob: float = 0.0,
    palette_sharpness: float = 0.0,
    palette_role_weight: float = 0.0,
    lr_decay_start: float = 1.0,
    ema_half_life_images: float = 10_000,
    ema_rampup: float | None = 0.05,
    flip: bool = False,
    device: str | torch.device = "cpu",
    seed: int = 0,
    checkpoint_dir: str | os.PathLike,
    checkpoint_every: int = 500,
    stats_path: str | os.PathLike,
    stats_every: int = 10,
    sample_every: int | None = None,
    samples_path: str | os.PathLike | None = None,
    mixing_split_index: int | None = None,
    monitor: Callable[[Generator], dict] | None = None,
    progress: bool = True,
) -> Generator:
    """Train a StyleGAN2-style generator on ``images``; returns the EMA generator (eval, no grad).

    Args:
        images: ``float32 [N, 3, H, W]`` in ``[-1, 1]``, ``H == generator_kwargs["resolution"]``.
        labels: ``int64 [N]`` class of each image, for a class-conditional GAN: the generator needs
            ``generator_kwargs["num_classes"] > 0``, and the discriminator then judges each image
            with its class (fakes with the class their latent drew). Without labels, a generator
            with classes treats them as latent modes and the discriminator is unconditional.
        generator_kwargs: :class:`Generator` keyword arguments.
        discriminator_kwargs: :class:`Discriminator` kwargs; default: same resolution and channels.
        steps: total optimisation steps (a resumed run continues up to this number).
        batch_size, lr_g, lr_d, betas: Adam settings (the D's are rescaled for lazy R1).
        r1_gamma, r1_every: R1 penalty weight on real images and its lazy interval.
        mbstd_group: images per minibatch-stddev group of the default discriminator.
        mixing_prob: style-mixing regularisation probability.
        split_mixing_prob: share of generated images whose styles ``mixing_split_index..L-1`` then
            come from a second latent, so the discriminator also judges the mixes AdvMix makes;
            0 turns it off (and draws nothing extra).
        palette_sharpness: weight of the palette head's blend penalty (the mean share of each pixel
            outside its main region) in the generator loss; 0 turns it off.
        palette_role_weight: weight of the palette head's role penalty in the generator loss: the
            batch variance of the share of the image each region covers, summed over regions. A
            region that paints the face in some images and not in others pays it; 0 turns it off.
        lr_decay_start: share of ``steps`` after which both learning rates decay linearly to 0 at
            ``steps`` (:func:`lr_scale`: a function of the step and ``steps``, so a resumed run
            needs no extra state, but resuming with a larger ``steps`` moves the decay); 1 keeps
            them constant.
        ema_half_life_images: half-life of the generator EMA, in images; with ``ema_rampup`` the
            half-life is capped at ``ema_rampup * images_seen`` early on.
        flip: random horizontal flips of the real images (off by default).
        device, seed: where to train and the seed of every draw (data order, latents, noise).
        checkpoint_dir: ``latest.pt`` there is written every ``checkpoint_every`` steps and at the
            end, and resumed from when present.
        stats_path: JSON lines (``step, loss_g, loss_d, r1, d_real, d_fake, seconds, images_seen``)
            every ``stats_every`` steps.
        sample_every, samples_path: write a sample grid of the EMA generator every ``sample_every``
            steps (``{step}`` in the path is formatted, otherwise it is overwritten).
        mixing_split_index: when set, a style-mixing grid at this split index is written beside
            each sample grid (``mixing_{step}.png`` in the same folder); required by
            ``split_mixing_prob``.
        monitor: called with the EMA generator every ``sample_every`` steps and at the end; the
            numbers it returns (e.g. a feature distance) join that step's stats row.
        progress: show a tqdm bar.
    """
    device = torch.device(device)
    checkpoint_path = Path(checkpoint_dir) / "latest.pt"
    stats_path = Path(stats_path)
    stats_path.parent.mkdir(parents=True, exist_ok=True)
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be [N, 3, H, W], got {tuple(images.shape)}")
    if split_mixing_prob > 0 and mixing_split_index is None:
        raise ValueError("split_mixing_prob > 0 needs mixing_split_index (the styles to mix)")

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
    if discriminator_kwargs is None:
        discriminator_kwargs = {"resolution": G.resolution, "channels": G.kwargs["channels"]}
        discriminator_kwargs |= {"mbstd_group": mbstd_group}
        discriminator_kwargs |= {"num_classes": num_classes} if num_classes else {}
    D = Discriminator(**discriminator_kwargs).to(device)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    c = r1_every / (r1_every + 1) if r1_every > 0 else 1.0
    opt_g = torch.optim.Adam(G.parameters(), lr=lr_g, betas=tuple(betas))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr_d * c, betas=(betas[0] ** c, betas[1] ** c))
    data_gen = torch_generator(seed, "cpu")
    latent_gen = torch_generator(seed + 1, device)
    step, elapsed = 0, 0.0

    if checkpoint_path.is_file():
        ckpt = load_checkpoint(checkpoint_path, map_location=device)
        if ckpt["G_kwargs"] != G.kwargs or ckpt["D_kwargs"] != D.kwargs:
            raise RuntimeError(
                f"{checkpoint_path} was written for another architecture ({ckpt['G_kwargs']}); "
                "delete it to train from scratch"
            )
        G.load_state_dict(ckpt["G"])
        D.load_state_dict(ckpt["D"])
        G_ema.load_state_dict(ckpt["G_ema"])
        opt_g.load_state_dict(ckpt["opt_g"])
        opt_d.load_state_dict(ckpt["opt_d"])
        data_gen.set_state(ckpt["rng"]["data"].cpu())
        latent_gen.set_state(ckpt["rng"]["latent"].cpu())
        set_torch_rng_state(ckpt["rng"]["torch"], device)
        step, elapsed = int(ckpt["step"]), float(ckpt["seconds"])
        trim_stats(stats_path, step)
        log.info("resumed GAN training from %s at step %d", checkpoint_path, step)
    else:
        stats_path.write_text("")
        n_g = sum(p.numel() for p in G.parameters())
        n_d = sum(p.numel() for p in D.parameters())
        log.info("GAN training from scratch: G %d params, D %d params, %d images", n_g, n_d, len(images))

    def save_checkpoint():
        save_atomic(
            {
                "G": G.state_dict(),
                "D": D.state_dict(),
                "G_ema": G_ema.state_dict(),
                "G_kwargs": G.kwargs,
                "D_kwargs": D.kwargs,
                "opt_g": opt_g.state_dict(),
                "opt_d": opt_d.state_dict(),
                "step": step,
                "seconds": elapsed,
                "rng": {
                    "data": data_gen.get_state(),
                    "latent": latent_gen.get_state(),
                    "torch": torch_rng_state(device),
                },
            },
            checkpoint_path,
        )

    images = images.to(device)
    labels = labels.to(device) if num_classes else None
    G.train()
    D.train()
    r1_value = float("nan")
    t0 = time.perf_counter() - elapsed
    bar = tqdm(total=steps, initial=step, disable=not progress, desc="GAN", dynamic_ncols=True)
    with stats_path.open("a") as stats_file:
        while step < steps:
            scale = lr_scale(step, steps=steps, decay_start=lr_decay_start)
            for opt, base in ((opt_g, lr_g), (opt_d, lr_d * c)):
                for group in opt.param_groups:
                    group["lr"] = base * scale
            idx = torch.randint(len(images), (batch_size,), generator=data_gen).to(device)
            real = images[idx]
            real_labels = labels[idx] if num_classes else None
            if flip:
                flip_mask = torch.rand(batch_size, generator=data_gen).to(device) < 0.5
                real = torch.where(flip_mask[:, None, None, None], real.flip(3), real)

            # one generator forward per step: its detached output trains D, then D's update trains G
            z = torch.randn(batch_size, G.z_dim, device=device, generator=latent_gen)
            fake_labels = G.mapping.labels_of(z) if num_classes else None  # what the D judges them as
            ws = G.mix_ws(z, mixing_prob=mixing_prob, generator=latent_gen)
            if split_mixing_prob > 0:
                ws = split_mix(G, ws, mixing_split_index, prob=split_mixing_prob, generator=latent_gen)
            fake = G.synthesis(ws, noise_mode="random")

            # discriminator step (with the lazy R1 penalty on reals every r1_every steps)
            D.requires_grad_(True)
            do_r1 = r1_every > 0 and r1_gamma > 0 and step % r1_every == 0
            real = real.detach().requires_grad_(do_r1)
            d_real, d_fake = D(real, real_labels), D(fake.detach(), fake_labels)
            loss_d = F.softplus(d_fake).mean() + F.softplus(-d_real).mean()
            total_d = loss_d
            if do_r1:
                (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
                r1 = grad.square().sum(dim=(1, 2, 3)).mean()
                total_d = total_d + r1 * (r1_gamma / 2 * r1_every)
                r1_value = r1.item()
            opt_d.zero_grad(set_to_none=True)
            total_d.backward()
            opt_d.step()

            # generator step
            D.requires_grad_(False)
            loss_g = F.softplus(-D(fake, fake_labels)).mean()
            if palette_sharpness > 0:
                loss_g = loss_g + palette_sharpness * G.synthesis.palette.last_blend
            if palette_role_weight > 0:  # each region covers about as much of every image
                loss_g = loss_g + palette_role_weight * G.synthesis.palette.last_area.var(dim=0).sum()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()

            step += 1
            images_seen = step * batch_size
            half_life = ema_half_life_images
            if ema_rampup is not None:
                half_life = min(half_life, images_seen * ema_rampup)
            ema_update(G_ema, G, 0.5 ** (batch_size / max(half_life, 1e-8)))
            elapsed = time.perf_counter() - t0
            bar.update(1)

            sample_step = bool(sample_every) and (step % sample_every == 0 or step == steps)
            extra = monitor(G_ema) if monitor is not None and sample_step else {}
            if step % stats_every == 0 or step == steps or extra:
                row = {
                    "step": step,
                    "loss_g": loss_g.item(),
                    "loss_d": loss_d.item(),
                    "r1": r1_value,
                    "d_real": d_real.mean().item(),
                    "d_fake": d_fake.mean().item(),
                    "seconds": round(elapsed, 3),
                    "images_seen": images_seen,
                    **extra,
                }
                stats_file.write(json.dumps(row) + "\n")
                stats_file.flush()
                bar.set_postfix(loss_g=f"{row['loss_g']:.3f}", loss_d=f"{row['loss_d']:.3f}")
                if extra:
                    log.info("step %d: %s", step, extra)
                if not math.isfinite(row["loss_g"]) or not math.isfinite(row["loss_d"]):
                    raise FloatingPointError(f"GAN losses became non-finite at step {step}: {row}")
            if sample_step and samples_path:
                path = Path(str(samples_path).replace("{step}", f"{step:06d}"))
                sample_grid(G_ema, n=64, seed=seed, path=path)
                if mixing_split_index is not None:
                    mix_path = path.with_name(f"mixing_{step:06d}.png")
                    mixing_grid(G_ema, split_index=mixing_split_index, seed=seed, path=mix_path)
            if step % checkpoint_every == 0 or step == steps:
                save_checkpoint()
                log.info("step %d: checkpoint written, %.1f s so far", step, elapsed)
    bar.close()
    log.info("GAN training done: %d steps in %.1f s (%.3f s/step)", step, elapsed, elapsed / max(step, 1))
    return G_ema.eval().requires_grad_(False)


def _to_unit(img: torch.Tensor) -> torch.Tensor:
    return ((img + 1) / 2).clamp(0, 1).cpu()


@torch.no_grad()
def sample_grid(G: Generator, *, n: int = 64, seed: int = 0, path, noise_mode: str = "const") -> torch.Tensor:
    """Save ``n`` samples of ``G`` (latents from ``seed``) as a PNG grid at ``path``.

    Returns the images ``[n, 3, H, W]`` in ``[-1, 1]`` on the CPU.
    """
    device = G.w_avg.device
    z = torch.randn(n, G.z_dim, device=device, generator=torch_generator(seed, device))
    ws = G.mapping(z).unsqueeze(1).repeat(1, G.num_ws, 1)
    img = G.synthesis(ws, noise_mode=noise_mode)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    from torchvision.utils import save_image  # on first use (admixlib.report.plotting says why)

    save_image(_to_unit(img), path, nrow=math.ceil(math.sqrt(n)), padding=1)
    return img.cpu()


@torch.no_grad()
def mixing_grid(G: Generator, *, split_index: int, n: int = 6, seed: int = 0, path) -> torch.Tensor:
    """Save a style-mixing grid: cell ``(i, j)`` takes styles ``< split_index`` from row source ``i``
    and styles ``>= split_index`` from column source ``j``; the first row and column show the sources.

    Returns the grid images ``[(n + 1) ** 2, 3, H, W]`` in ``[-1, 1]`` on the CPU (top-left blank).
    """
    device = G.w_avg.device
    gen = torch_generator(seed, device)
    z = torch.randn(2 * n, G.z_dim, device=device, generator=gen)
    ws = G.mapping(z).unsqueeze(1).repeat(1, G.num_ws, 1)
    rows, cols = ws[:n], ws[n:]
    row_img, col_img = G.synthesis(rows), G.synthesis(cols)
    state = G.synthesis.run_until(rows, split_index)
    cells = [torch.full_like(row_img[:1], 1.0), col_img]
    for i in range(n):
        row_state = tuple(s[i : i + 1].expand(n, *s.shape[1:]) for s in state)
        cells += [row_img[i : i + 1], G.synthesis.run_from(row_state, cols, split_index)]
    grid = torch.cat(cells)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    from torchvision.utils import save_image  # on first use (admixlib.report.plotting says why)

    save_image(_to_unit(grid), path, nrow=n + 1, padding=1)
    return grid.cpu()

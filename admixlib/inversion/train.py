"""Encoder training on generator samples (latent, pixel, feature and mixing-consistency losses) with
atomic checkpoints and resume."""

import copy
import json
import logging
import math
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from admixlib.inversion.encoder import Encoder
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

log = logging.getLogger("admix.inversion")


def train_encoder(
    G: Generator,
    *,
    steps: int,
    batch_size: int = 32,
    lr: float = 1e-3,
    latent_weight: float = 1.0,
    pixel_weight: float = 1.0,
    feature_weight: float = 0.0,
    mixing_weight: float = 0.0,
    discriminator: Discriminator | None = None,
    real_images: torch.Tensor | None = None,
    real_weight: float = 0.0,
    mixing_prob: float = 0.9,
    encoder_kwargs: dict | None = None,
    device: str | torch.device = "cpu",
    seed: int = 0,
    checkpoint_dir: str | os.PathLike,
    checkpoint_every: int = 500,
    stats_path: str | os.PathLike,
    stats_every: int = 10,
    progress: bool = True,
) -> Encoder:
    """Train an :class:`Encoder` to invert ``G`` on its own samples; returns it (eval, no grad).

    Each step draws style-mixed codes ``ws = G.sample_ws(batch_size, mixing_prob)``, renders
    ``x = G.synthesis(ws, noise_mode="const")`` and minimises with Adam
    ``latent_weight * MSE(E(x), ws) + pixel_weight * MSE(G(E(x)), x)
    + feature_weight * sum_l MSE(D_l(G(E(x))), D_l(x)) + mixing_weight * MSE(E(G(m)), m)``,
    where ``D_l`` are the discriminator's intermediate activations and ``m`` mixes each predicted
    code with another image's predicted code from a random layer on (the mixing-consistency loss:
    the encoder of a style-mixed image should give back the mixed codes; ``m`` is a fixed target).
    With ``real_weight > 0`` each step adds ``real_weight * (pixel + feature_weight * feature)``
    losses on a batch of ``real_images`` (training images, which have no code to regress), so the
    encoder also learns the real images' domain.

    Args:
        G: a trained generator (not modified; a frozen copy is used on ``device``).
        discriminator: the GAN's discriminator (frozen copy used), needed when ``feature_weight > 0``.
        real_images: ``[N, 3, H, W]`` in ``[-1, 1]`` (CPU), needed when ``real_weight > 0``.
        steps: total steps (a resumed run continues up to this number).
        encoder_kwargs: extra :class:`Encoder` kwargs (``channels``, ``hidden``).
        device, seed: where to train and the seed of the latent draws and initialisation.
        checkpoint_dir: ``latest.pt`` written every ``checkpoint_every`` steps and at the end, and
            resumed from when present (ignored if it was trained against a different ``G``).
        stats_path: JSON lines (``step, loss, latent_mse, pixel_mse, feature_mse, mixing_mse,
            real_loss, psnr, seconds``) every
            ``stats_every`` steps.
        progress: tqdm bar.
    """
    device = torch.device(device)
    checkpoint_path = Path(checkpoint_dir) / "latest.pt"
    stats_path = Path(stats_path)
    stats_path.parent.mkdir(parents=True, exist_ok=True)
    G = copy.deepcopy(G).to(device).eval().requires_grad_(False)
    if feature_weight > 0 and discriminator is None:
        raise ValueError("feature_weight > 0 needs the GAN's discriminator")
    if real_weight > 0 and (real_images is None or len(real_images) == 0):
        raise ValueError("real_weight > 0 needs real_images")
    D = copy.deepcopy(discriminator).to(device).eval().requires_grad_(False) if discriminator else None
    torch.manual_seed(seed)
    E = Encoder(
        resolution=G.resolution, num_ws=G.num_ws, w_dim=G.w_dim, w_avg=G.w_avg, **(encoder_kwargs or {})
    ).to(device)
    opt = torch.optim.Adam(E.parameters(), lr=lr)
    latent_gen = torch_generator(seed, device)
    real_gen = torch_generator(seed + 1)
    step, elapsed = 0, 0.0
    ckpt = load_checkpoint(checkpoint_path, map_location=device) if checkpoint_path.is_file() else None
    if ckpt is not None and not torch.equal(ckpt["G_w_avg"], G.w_avg):
        log.warning("%s was trained against another generator; training from scratch", checkpoint_path)
        ckpt = None
    if ckpt is not None:
        if ckpt["E_kwargs"] != E.kwargs:
            raise RuntimeError(
                f"{checkpoint_path} was written for another encoder ({ckpt['E_kwargs']}); "
                "delete it to train from scratch"
            )
        E.load_state_dict(ckpt["E"])
        opt.load_state_dict(ckpt["opt"])
        latent_gen.set_state(ckpt["rng"]["latent"].cpu())
        real_gen.set_state(ckpt["rng"]["real"].cpu())
        set_torch_rng_state(ckpt["rng"]["torch"], device)
        step, elapsed = int(ckpt["step"]), float(ckpt["seconds"])
        trim_stats(stats_path, step)
        log.info("resumed encoder training from %s at step %d", checkpoint_path, step)
    else:
        stats_path.write_text("")
        log.info("encoder training from scratch: %d params", sum(p.numel() for p in E.parameters()))

    def save_checkpoint():
        rng = {
            "latent": latent_gen.get_state(),
            "real": real_gen.get_state(),
            "torch": torch_rng_state(device),
        }
        state = {"E": E.state_dict(), "E_kwargs": E.kwargs, "opt": opt.state_dict(), "G_w_avg": G.w_avg}
        save_atomic({**state, "step": step, "seconds": elapsed, "rng": rng}, checkpoint_path)

    E.train()
    t0 = time.perf_counter() - elapsed
    bar = tqdm(total=steps, initial=step, disable=not progress, desc="encoder", dynamic_ncols=True)
    with stats_path.open("a") as stats_file:
        while step < steps:
            with torch.no_grad():
                ws = G.sample_ws(
                    batch_size, mixing_prob=mixing_prob, generator=latent_gen, update_w_avg=False
                )
                x = G.synthesis(ws, noise_mode="const")
            pred = E(x)
            recon = G.synthesis(pred, noise_mode="const")
            latent_mse = F.mse_loss(pred, ws)
            pixel_mse = F.mse_loss(recon, x)
            loss = latent_weight * latent_mse + pixel_weight * pixel_mse
            feature_mse = feature_loss(D, recon, x) if feature_weight > 0 else torch.zeros(())
            loss = loss + feature_weight * feature_mse
            mixing_mse = torch.zeros(())
            if mixing_weight > 0:
                mixed = mix_at_random_layers(pred.detach(), generator=latent_gen)
                with torch.no_grad():
                    x_mixed = G.synthesis(mixed, noise_mode="const")
                mixing_mse = F.mse_loss(E(x_mixed), mixed)
                loss = loss + mixing_weight * mixing_mse
            real_mse = torch.zeros(())
            if real_weight > 0:
                pick = torch.randint(len(real_images), (batch_size,), generator=real_gen)
                real = real_images[pick].to(device)
                real_recon = G.synthesis(E(real), noise_mode="const")
                real_mse = F.mse_loss(real_recon, real)
                if feature_weight > 0:
                    real_mse = real_mse + feature_weight * feature_loss(D, real_recon, real)
                loss = loss + real_weight * real_mse
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            elapsed = time.perf_counter() - t0
            bar.update(1)
            if step % stats_every == 0 or step == steps:
                row = {
                    "step": step,
                    "loss": loss.item(),
                    "latent_mse": latent_mse.item(),
                    "pixel_mse": pixel_mse.item(),
                    "feature_mse": feature_mse.item(),
                    "mixing_mse": mixing_mse.item(),
                    "real_loss": real_mse.item(),
                    "psnr": 10 * math.log10(4.0 / max(pixel_mse.item(), 1e-12)),
                    "seconds": round(elapsed, 3),
                }
                stats_file.write(json.dumps(row) + "\n")
                stats_file.flush()
                bar.set_postfix(loss=f"{row['loss']:.4f}", psnr=f"{row['psnr']:.1f}")
                if not math.isfinite(row["loss"]):
                    raise FloatingPointError(f"encoder loss became non-finite at step {step}")
            if step % checkpoint_every == 0 or step == steps:
                save_checkpoint()
    bar.close()
    log.info("encoder training done: %d steps in %.1f s", step, elapsed)
    return E.eval().requires_grad_(False)


def feature_loss(D: Discriminator, recon: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean over ``D``'s intermediate activations of the MSE between those of ``recon`` and ``x``
    (both ``[N, 3, H, W]``); gradients flow into ``recon`` only. Returns a scalar."""
    with torch.no_grad():
        target = D.features(x)
    losses = [F.mse_loss(a, b) for a, b in zip(D.features(recon), target, strict=True)]
    return torch.stack(losses).mean()


def mix_at_random_layers(ws: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """Style-mix each code of ``ws [N, L, D]`` with the next one in the batch (``ws.roll(1, 0)``)
    from a cut drawn uniformly in ``1..L-1``: rows keep their styles before the cut and take the
    donor's from it on. Returns ``[N, L, D]``."""
    n, num_ws = ws.shape[:2]
    cut = torch.randint(1, num_ws, (n,), device=ws.device, generator=generator)
    take_donor = torch.arange(num_ws, device=ws.device)[None, :] >= cut[:, None]  # [N, L]
    return torch.where(take_donor[:, :, None], ws.roll(1, dims=0), ws)

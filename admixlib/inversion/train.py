"""Encoder training on generator samples (latent, pixel, feature and mixing-consistency losses) with
atomic checkpoints and resume."""

import copy
import logging
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from admixlib.inversion.encoder import Encoder
from admixlib.runtime import ConfigRecipe, RunFiles, TrainingState, torch_generator
from admixlib.stylegan.discriminator import Discriminator
from admixlib.stylegan.networks import Generator

log = logging.getLogger("admix.inversion")


@dataclass(frozen=True)
class EncoderRecipe(ConfigRecipe):
    """How the encoder is trained: the ``encoder`` keys of the same names in config/schema.yaml."""

    batch_size: int = 32
    lr: float = 1e-3
    latent_weight: float = 1.0
    pixel_weight: float = 1.0
    feature_weight: float = 0.0
    mixing_weight: float = 0.0
    real_weight: float = 0.0
    mixing_prob: float = 0.9
    bf16: bool = False


def train_encoder(
    G: Generator,
    *,
    steps: int,
    recipe: EncoderRecipe | None = None,
    discriminator: Discriminator | None = None,
    real_images: torch.Tensor | None = None,
    encoder_kwargs: dict | None = None,
    device: str | torch.device = "cpu",
    seed: int = 0,
    files: RunFiles,
) -> Encoder:
    """Train an :class:`Encoder` to invert ``G`` on its own samples; returns it (eval, no grad).

    Each step draws style-mixed codes ``ws = G.sample_ws(batch_size, mixing_prob)``, renders
    ``x = G.synthesis(ws, noise_mode="const")`` and minimises with Adam
    ``latent_weight * MSE(E(x), ws) + pixel_weight * MSE(G(E(x)), x)
    + feature_weight * sum_l MSE(D_l(G(E(x))), D_l(x)) + mixing_weight * MSE(E(G(m)), m)``,
    where ``D_l`` are the ``discriminator``'s intermediate activations and ``m`` mixes each predicted
    code with another's from a random layer on (a fixed target). With ``real_weight > 0`` each step
    adds ``real_weight * (pixel + feature_weight * feature)`` losses on a batch of ``real_images``
    ``[N, 3, H, W]`` (CPU). ``G`` and ``discriminator`` are not modified (frozen copies are used);
    ``encoder_kwargs`` are extra :class:`Encoder` kwargs. ``files``: the checkpoint (resumed from
    unless it was trained against another ``G`` or encoder), the stats file (JSON lines ``step,
    loss, latent_mse, pixel_mse, feature_mse, mixing_mse, real_loss, psnr, seconds``) and the bar.
    """
    r, device = recipe or EncoderRecipe(), torch.device(device)
    if r.feature_weight > 0 and discriminator is None:
        raise ValueError("feature_weight > 0 needs the GAN's discriminator")
    if r.real_weight > 0 and (real_images is None or len(real_images) == 0):
        raise ValueError("real_weight > 0 needs real_images")
    G = copy.deepcopy(G).to(device).eval().requires_grad_(False)
    D = copy.deepcopy(discriminator).to(device).eval().requires_grad_(False) if discriminator else None
    torch.manual_seed(seed)
    E = Encoder(
        resolution=G.resolution, num_ws=G.num_ws, w_dim=G.w_dim, w_avg=G.w_avg, **(encoder_kwargs or {})
    ).to(device)
    opt = torch.optim.Adam(E.parameters(), lr=r.lr)
    latent_gen, real_gen = torch_generator(seed, device), torch_generator(seed + 1)
    state = TrainingState(
        files, device=device, stateful=dict(E=E, opt=opt),
        generators=dict(latent=latent_gen, real=real_gen),
        identity=dict(E_kwargs=E.kwargs, G_w_avg=G.w_avg.cpu().tolist()), on_mismatch="restart",
    )  # fmt: skip
    if state.resume():
        log.info("resumed encoder training from %s at step %d", state.path, state.step)
    else:
        log.info("encoder training from scratch: %d params", sum(p.numel() for p in E.parameters()))
    E.train()
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=r.bf16)
    for step in state.steps(steps, desc="encoder"):
        with autocast:
            losses = _encoder_losses(
                E, G, D, r, latent_gen=latent_gen, real_images=real_images, real_gen=real_gen
            )
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        opt.step()
        if files.stats_due(step, steps):
            row = _stats_row(step, losses, seconds=state.elapsed())
            state.write_stats(row)
            state.bar.set_postfix(loss=f"{row['loss']:.4f}", psnr=f"{row['psnr']:.1f}")
    log.info("encoder training done: %d steps in %.1f s", state.step, state.seconds)
    return E.eval().requires_grad_(False)


def _encoder_losses(E, G, D, r: EncoderRecipe, *, latent_gen, real_images, real_gen) -> dict:
    """One step's losses (scalar tensors): ``loss`` to minimise and its parts."""
    device = G.w_avg.device
    with torch.no_grad():
        ws = G.sample_ws(r.batch_size, mixing_prob=r.mixing_prob, generator=latent_gen, update_w_avg=False)
        x = G.synthesis(ws, noise_mode="const")
    pred = E(x)
    recon = G.synthesis(pred, noise_mode="const")
    out = dict(latent_mse=F.mse_loss(pred, ws), pixel_mse=F.mse_loss(recon, x))
    loss = r.latent_weight * out["latent_mse"] + r.pixel_weight * out["pixel_mse"]
    out["feature_mse"] = feature_loss(D, recon, x) if r.feature_weight > 0 else torch.zeros(())
    loss = loss + r.feature_weight * out["feature_mse"]
    out["mixing_mse"] = torch.zeros(())
    if r.mixing_weight > 0:
        mixed = mix_at_random_layers(pred.detach(), generator=latent_gen)
        with torch.no_grad():
            x_mixed = G.synthesis(mixed, noise_mode="const")
        out["mixing_mse"] = F.mse_loss(E(x_mixed), mixed)
        loss = loss + r.mixing_weight * out["mixing_mse"]
    out["real_loss"] = torch.zeros(())
    if r.real_weight > 0:
        pick = torch.randint(len(real_images), (r.batch_size,), generator=real_gen)
        real = real_images[pick].to(device)
        real_recon = G.synthesis(E(real), noise_mode="const")
        out["real_loss"] = F.mse_loss(real_recon, real)
        if r.feature_weight > 0:
            out["real_loss"] = out["real_loss"] + r.feature_weight * feature_loss(D, real_recon, real)
        loss = loss + r.real_weight * out["real_loss"]
    return {"loss": loss, **out}


def _stats_row(step: int, losses: dict, *, seconds: float) -> dict:
    """The stats line of ``step``; raises when the loss is not finite."""
    row = {"step": step, **{key: value.item() for key, value in losses.items()}}
    row["psnr"] = 10 * math.log10(4.0 / max(row["pixel_mse"], 1e-12))
    row["seconds"] = round(seconds, 3)
    if not math.isfinite(row["loss"]):
        raise FloatingPointError(f"encoder loss became non-finite at step {step}")
    return row


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

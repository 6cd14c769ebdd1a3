"""GAN losses: the non-saturating logistic loss, lazy R1 on real images, StyleGAN2's lazy path-length
penalty, and the palette head's penalties."""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from admixlib.runtime import ConfigRecipe
from admixlib.stylegan.discriminator import Discriminator
from admixlib.stylegan.networks import Generator


@dataclass(frozen=True)
class GanLoss(ConfigRecipe):
    """Loss settings: the ``stylegan`` keys of the same names in config/schema.yaml."""

    r1_gamma: float = 1.0
    r1_every: int = 16
    palette_sharpness: float = 0.0
    palette_role_weight: float = 0.0
    pl_weight: float = 0.0
    pl_every: int = 4


def discriminator_loss(D: Discriminator, real, real_labels, fake, fake_labels, *, loss: GanLoss, step: int):
    """D's loss on reals ``[N, 3, H, W]`` and (detached) fakes, with R1 on reals when due.

    Returns ``(total, logistic, r1, d_real, d_fake)``: the loss to minimise, its logistic part, the
    R1 value (None when not due) and D's logits ``[N, 1]`` on reals and fakes.
    """
    do_r1 = loss.r1_every > 0 and loss.r1_gamma > 0 and step % loss.r1_every == 0
    real = real.detach().requires_grad_(do_r1)
    d_real, d_fake = D(real, real_labels), D(fake.detach(), fake_labels)
    logistic = F.softplus(d_fake).mean() + F.softplus(-d_real).mean()
    total, r1 = logistic, None
    if do_r1:
        (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
        r1 = grad.square().sum(dim=(1, 2, 3)).mean()
        total = total + r1 * (loss.r1_gamma / 2 * loss.r1_every)
    return total, logistic, r1, d_real, d_fake


def generator_loss(G: Generator, D: Discriminator, fake, fake_labels, *, loss: GanLoss) -> torch.Tensor:
    """G's non-saturating loss on ``fake`` plus the palette head's penalties of that forward pass."""
    total = F.softplus(-D(fake, fake_labels)).mean()
    if loss.palette_sharpness > 0:
        total = total + loss.palette_sharpness * G.synthesis.palette.last_blend
    if loss.palette_role_weight > 0:  # each region covers about as much of every image
        total = total + loss.palette_role_weight * G.synthesis.palette.last_area.var(dim=0).sum()
    return total


class PathLengthMean(torch.nn.Module):
    """The running mean path length the penalty pulls towards; a buffer, so checkpoints keep it."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("value", torch.zeros(()))


def path_length_penalty(
    G: Generator, *, n: int, mixing_prob: float, mean: PathLengthMean, decay: float = 0.01, generator
) -> torch.Tensor:
    """StyleGAN2's path-length penalty on ``n`` fresh samples: ``(|J_w^T y| - a)^2`` with ``y`` image
    noise scaled by ``1 / sqrt(H W)``, ``J_w`` the Jacobian of the image in the W+ codes (squared
    norms averaged over styles), and ``a`` the running mean ``mean`` (updated with ``decay``)."""
    z = torch.randn(n, G.z_dim, device=mean.value.device, generator=generator)
    ws = G.mix_ws(z, mixing_prob=mixing_prob, generator=generator, update_w_avg=False)
    images = G.synthesis(ws, noise_mode="random")
    noise = torch.randn(images.shape, device=images.device, generator=generator)
    noise = noise / math.sqrt(images.shape[2] * images.shape[3])
    (grad,) = torch.autograd.grad((images * noise).sum(), ws, create_graph=True)
    lengths = grad.square().sum(dim=2).mean(dim=1).sqrt()
    with torch.no_grad():
        mean.value.lerp_(lengths.mean(), decay)
    return (lengths - mean.value).square().mean()

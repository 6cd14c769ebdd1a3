"""GAN losses: the non-saturating logistic loss, lazy R1 on real images, and the palette head's penalties."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from admixlib.stylegan.discriminator import Discriminator
from admixlib.stylegan.networks import Generator


@dataclass(frozen=True)
class GanLoss:
    """Loss settings.

    Attributes:
        r1_gamma, r1_every: R1 penalty weight on real images and its lazy interval (0 turns it off).
        palette_sharpness: weight of the palette head's blend penalty (the mean share of each pixel
            outside its main region) in the generator loss; 0 turns it off.
        palette_role_weight: weight of the palette head's role penalty: the batch variance of the
            share of the image each region covers, summed over regions; 0 turns it off.
    """

    r1_gamma: float = 1.0
    r1_every: int = 16
    palette_sharpness: float = 0.0
    palette_role_weight: float = 0.0

    @property
    def lazy_ratio(self) -> float:
        """``r1_every / (r1_every + 1)``: the factor of D's Adam settings under lazy R1 (1 without)."""
        return self.r1_every / (self.r1_every + 1) if self.r1_every > 0 else 1.0

    def r1_due(self, step: int) -> bool:
        """Whether ``step`` adds the R1 penalty."""
        return self.r1_every > 0 and self.r1_gamma > 0 and step % self.r1_every == 0


def discriminator_loss(D: Discriminator, real, real_labels, fake, fake_labels, *, loss: GanLoss, step: int):
    """D's loss on reals ``[N, 3, H, W]`` and (detached) fakes, with R1 on reals when due.

    Returns ``(total, logistic, r1, d_real, d_fake)``: the loss to minimise, its logistic part, the
    R1 value (None when not due) and D's logits ``[N, 1]`` on reals and fakes.
    """
    do_r1 = loss.r1_due(step)
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

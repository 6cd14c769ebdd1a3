"""Small StyleGAN2 building blocks: equalised learning rate, modulated convolution, noise, to-RGB.

All layers keep their weights at unit scale and multiply by the He constant at run time (equalised
learning rate), so Adam sees every parameter on the same scale.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

NOISE_MODES = ("const", "random", "none")
LRELU_GAIN = math.sqrt(2.0)


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU (slope 0.2) scaled by sqrt(2) to keep the activation variance."""
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


def upsample_bilinear(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Bilinear upsampling by an integer ``factor`` (``align_corners=False``):
    ``[N, C, H, W] -> [N, C, factor H, factor W]``.

    torch's bilinear kernel has no deterministic backward on CUDA, so there, with deterministic
    algorithms on, :func:`bilinear_by_shifts` applies the same weights; elsewhere torch's kernel runs
    (CPU results stay bit for bit what they were)."""
    if x.is_cuda and torch.are_deterministic_algorithms_enabled():
        return bilinear_by_shifts(x, factor)
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


def bilinear_by_shifts(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Bilinear upsampling (``align_corners=False``, edges clamped) from shifted copies, products and
    sums, whose backward needs no atomic adds: ``[N, C, H, W] -> [N, C, factor H, factor W]``."""
    for dim in (2, 3):
        n = x.shape[dim]
        before = torch.cat([x.narrow(dim, 0, 1), x.narrow(dim, 0, n - 1)], dim)
        after = torch.cat([x.narrow(dim, 1, n - 1), x.narrow(dim, n - 1, 1)], dim)
        phases = []
        for phase in range(factor):
            offset = (phase + 0.5) / factor - 0.5  # where the output sample sits between inputs
            neighbour = before if offset < 0 else after
            phases.append((1 - abs(offset)) * x + abs(offset) * neighbour)
        x = torch.stack(phases, dim + 1).flatten(dim, dim + 1)
    return x


class EqualLinear(nn.Module):
    """Fully connected layer with equalised learning rate, learning-rate multiplier ``lr_mul`` and
    optional lrelu (``activation="lrelu"``): ``[N, in_features] -> [N, out_features]``."""

    def __init__(self, in_features, out_features, *, bias_init=0.0, lr_mul=1.0, activation=None):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_mul))
        self.scale = lr_mul / math.sqrt(in_features)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)
        return lrelu(out) if self.activation == "lrelu" else out


class EqualConv2d(nn.Module):
    """2-D convolution with equalised learning rate, 'same' padding and optional lrelu.

    Input ``[N, in_channels, H, W]``, output ``[N, out_channels, H // stride, W // stride]``.
    """

    def __init__(self, in_channels, out_channels, kernel_size, *, stride=1, bias=True, activation=None):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.stride = stride
        self.padding = kernel_size // 2
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)
        return lrelu(out) if self.activation == "lrelu" else out


class ModulatedConv2d(nn.Module):
    """StyleGAN2 modulated convolution written as "scale inputs, shared conv, demodulate outputs":
    equal to convolving with per-sample weights ``W * s`` (``s`` an affine function of ``w``),
    normalised per output channel when ``demodulate``, but one ordinary convolution (much faster on
    CPU than a grouped conv). ``up`` upsamples the input 2x first.
    ``forward(x [N, in, H, W], w [N, w_dim]) -> [N, out, H', W']`` (no bias, no activation).
    """

    def __init__(self, in_channels, out_channels, kernel_size, *, w_dim, demodulate=True, up=False):
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.scale = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.padding = kernel_size // 2
        self.demodulate = demodulate
        self.up = up

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)  # [N, in]
        weight = self.weight * self.scale
        if self.up:
            x = upsample_bilinear(x, 2)
        out = F.conv2d(x * styles[:, :, None, None], weight, padding=self.padding)
        if self.demodulate:
            # d[n, o] = 1 / sqrt(sum_{i,k} (W[o, i, k] * s[n, i])^2)
            wsq = weight.square().sum(dim=(2, 3))  # [out, in]
            demod = torch.rsqrt(styles.square() @ wsq.t() + 1e-8)  # [N, out]
            out = out * demod[:, :, None, None]
        return out


class NoiseInjection(nn.Module):
    """Adds per-pixel noise scaled by a learned per-layer strength (starts at 0).

    ``noise_mode``: ``"const"`` adds a fixed noise map stored as a buffer (deterministic synthesis),
    ``"random"`` draws fresh noise, ``"none"`` adds nothing.
    ``forward(x [N, C, H, W], noise_mode) -> [N, C, H, W]``.
    """

    def __init__(self, resolution: int):
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(()))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))

    def forward(self, x: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        if noise_mode == "none":
            return x
        if noise_mode == "const":
            return x + self.strength * self.noise_const
        if noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
            return x + self.strength * noise
        raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")


class StyledConv(nn.Module):
    """Modulated 3x3 conv (optionally upsampling) + noise + bias + lrelu.

    ``forward(x [N, in, H, W], w [N, w_dim], noise_mode) -> [N, out, H', W']``.
    """

    def __init__(self, in_channels, out_channels, *, w_dim, resolution, up=False):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim=w_dim, up=up)
        self.noise = NoiseInjection(resolution)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        out = self.noise(self.conv(x, w), noise_mode)
        return lrelu(out + self.bias[None, :, None, None])


class ToRGB(nn.Module):
    """Modulated 1x1 conv without demodulation to 3 channels, plus bias.

    ``forward(x [N, C, H, W], w [N, w_dim]) -> [N, 3, H, W]``.
    """

    def __init__(self, in_channels, *, w_dim):
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, 3, 1, w_dim=w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(3))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.conv(x, w) + self.bias[None, :, None, None]


class PaletteHead(nn.Module):
    """Output head that renders features as soft regions coloured by the style.

    An unmodulated 1x1 conv turns the features into ``palette_size`` region logits (times ``gain``,
    softmax over regions): the features (earlier styles) decide where the regions are, and only this
    head's style decides each region's colour and, with ``shading``, its linear gradients along x and
    y (docs/design-decisions.md says why). With ``supersample`` s > 1 the regions are drawn at s times
    the resolution and the image average-pooled back (anti-aliased boundaries). With ``bank`` B > 0
    each region adds a style-gated softmax mixture of B learned colours (and shadings) to its linear
    function of the style, so one style mode can pick between distinct colours.
    ``forward(x [N, C, H, W], w [N, w_dim]) -> [N, 3, H, W]``.
    """

    def __init__(
        self,
        in_channels,
        *,
        w_dim,
        palette_size,
        resolution,
        gain: float = 1.0,
        shading: bool = True,
        supersample: int = 1,
        bank: int = 0,
    ):
        super().__init__()
        if supersample < 1 or bank < 0:
            raise ValueError(f"supersample must be >= 1 and bank >= 0, got {supersample} and {bank}")
        self.palette_size = palette_size
        self.supersample = supersample
        self.bank_size = bank
        # with equalised learning rate the 1x1 conv's logits grow slowly; a gain lets one region win
        # a pixel outright without large weights (whether a GAN then draws harder regions is
        # measured in docs/design-decisions.md: on faces it did not)
        self.gain = gain
        self.segment = EqualConv2d(in_channels, palette_size, 1)
        self.terms = 3 if shading else 1  # (colour, dx, dy) or the colour alone
        self.palette = EqualLinear(w_dim, palette_size * 3 * self.terms)
        with torch.no_grad():  # gradients start flat: regions begin as plain colours
            # (with a bank, from the bank alone: the linear colour term starts at 0 and adds jitter)
            self.palette.weight.view(palette_size, 3, self.terms, w_dim)[:, :, 0 if bank else 1 :] = 0.0
        if bank:
            self.bank_gate = EqualLinear(w_dim, palette_size * bank)
            bank_init = torch.zeros(palette_size, bank, 3, self.terms)
            bank_init[..., 0] = torch.rand(palette_size, bank, 3) * 2.0 - 1.0
            self.bank = nn.Parameter(bank_init)
        # pixel centres run from -1 to 1; a sub-pixel's coordinate is where it sits between them, so
        # averaging the sub-pixels of a linear gradient gives back the pixel's own value
        # (linspace itself without sub-pixels, so older generators load and draw the same images)
        coords = torch.linspace(-1.0, 1.0, resolution)
        if supersample > 1:
            pos = (torch.arange(resolution * supersample) + 0.5) / supersample - 0.5
            coords = pos * 2.0 / max(resolution - 1, 1) - 1.0
        yy, xx = torch.meshgrid(coords, coords, indexing="ij")
        grid = torch.stack([torch.ones_like(xx), xx, yy])[: self.terms]
        self.register_buffer("grid", grid, persistent=False)

    def region_masks(self, x: torch.Tensor) -> torch.Tensor:
        """Soft regions of features ``x [N, C, H, W]``: ``[N, K, sH, sW]``, summing to 1 over K."""
        logits = self.segment(x)
        if self.supersample > 1:  # a pixel blends regions only where a boundary crosses it
            logits = upsample_bilinear(logits, self.supersample)
        masks = torch.softmax(self.gain * logits, dim=1)
        # share of each pixel not in its main region, kept for the training loss that penalises
        # blends (a blend of palette colours would let the features paint colours themselves)
        self.last_blend = 1.0 - masks.amax(dim=1).mean()
        # share of each image each region covers [N, K], for the training loss that keeps the
        # regions' roles fixed (a region painting light faces only would let the features set skin)
        self.last_area = masks.mean(dim=(2, 3))
        return masks

    def region_params(self, w: torch.Tensor) -> torch.Tensor:
        """Each region's colour (and shading gradients) for styles ``w [N, w_dim]``: ``[N, K, 3, terms]``."""
        n, k = len(w), self.palette_size
        params = self.palette(w).view(n, k, 3, self.terms)
        if not self.bank_size:
            return params
        gate = torch.softmax(self.bank_gate(w).view(n, k, self.bank_size), dim=-1)
        return params + torch.einsum("nkb,kbct->nkct", gate, self.bank)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # banks saved before they held shading gradients are [K, B, 3]: their gradients were flat
        bank = state_dict.get(prefix + "bank")
        if bank is not None and bank.dim() == 3:
            state_dict[prefix + "bank"] = F.pad(bank.unsqueeze(-1), (0, self.terms - 1))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def colour_basis(self, masks: torch.Tensor) -> torch.Tensor:
        """What the image is linear in: each region's mask ``[N, K, sH, sW]`` times each shading
        term, pooled to the output size: ``[N, K * terms, H, W]``. With it the same regions are
        re-coloured by one small matmul (:meth:`colour_from_basis`), not at every sub-pixel."""
        n, k, h, wd = masks.shape
        basis = (masks[:, :, None] * self.grid).reshape(n, k * self.terms, h, wd)
        return F.avg_pool2d(basis, self.supersample) if self.supersample > 1 else basis

    def colour_from_basis(self, basis: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """The image ``[N, 3, H, W]`` of :meth:`colour_basis`'s ``basis`` coloured by styles ``w [N,
        w_dim]``: the same image as :meth:`colour` (up to float rounding)."""
        n, _, h, wd = basis.shape
        params = self.region_params(w).transpose(1, 2).reshape(n, 3, -1)  # [N, 3, K * terms]
        return torch.bmm(params, basis.reshape(n, -1, h * wd)).view(n, 3, h, wd)

    def colour(self, masks: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """The image ``[N, 3, H, W]`` of regions ``masks [N, K, sH, sW]`` (:meth:`region_masks`)
        coloured by styles ``w [N, w_dim]``."""
        n, k, h, wd = masks.shape
        params = self.region_params(w).reshape(n, k, 3 * self.terms)  # [N, K, rgb * terms]
        # blend the regions' parameters per pixel, then apply the grid once: not colouring every
        # region at every sub-pixel takes about 0.55x the time (measured when it replaced the einsum form)
        blended = torch.bmm(params.transpose(1, 2), masks.reshape(n, k, h * wd))
        img = (blended.view(n, 3, self.terms, h, wd) * self.grid).sum(dim=2)
        return F.avg_pool2d(img, self.supersample) if self.supersample > 1 else img

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return self.colour(self.region_masks(x), w)

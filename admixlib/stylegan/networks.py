"""StyleGAN2-style generator (mapping + synthesis with a split point) and a residual discriminator."""

import math
import os

import torch
from torch import nn

from admixlib.runtime import load_checkpoint, save_atomic
from admixlib.stylegan.layers import EqualConv2d, EqualLinear, PaletteHead, StyledConv, ToRGB, upsample2x

TORGB_CHOICES = ("skip", "final", "palette")


def normalise_channels(channels, resolution: int) -> dict[int, int]:
    """Turn ``channels`` (dict ``{res: ch}``, possibly with string keys, or a list for 4, 8, ...) into
    a ``{int resolution: int channels}`` dict covering 4..``resolution``."""
    if resolution < 4 or resolution & (resolution - 1):
        raise ValueError(f"resolution must be a power of two >= 4, got {resolution}")
    resolutions = [2**i for i in range(2, int(math.log2(resolution)) + 1)]
    if isinstance(channels, dict):
        out = {int(k): int(v) for k, v in channels.items()}
    else:
        out = {res: int(c) for res, c in zip(resolutions, channels, strict=False)}
    missing = [r for r in resolutions if r not in out]
    if missing:
        raise ValueError(f"channels has no entry for resolutions {missing} (got {out})")
    return {r: out[r] for r in resolutions}


class MappingNetwork(nn.Module):
    """z -> w: normalise z to unit second moment, then ``num_layers`` FC layers with lrelu (lr x0.01).

    ``forward(z [N, z_dim]) -> w [N, w_dim]``.
    """

    def __init__(self, *, z_dim: int, w_dim: int, num_layers: int, lr_mul: float = 0.01):
        super().__init__()
        dims = [z_dim] + [w_dim] * num_layers
        self.layers = nn.Sequential(
            *[EqualLinear(dims[i], dims[i + 1], lr_mul=lr_mul, activation="lrelu") for i in range(num_layers)]
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)
        return self.layers(z)


class SynthesisNetwork(nn.Module):
    """W+ -> image. Learned constant 4x4, one modulated conv at 4, then [up+conv, conv] per resolution.

    The network is a program of operations, each reading one style index; the indices never decrease
    along the program, so ``run_until(ws, k)`` runs the ops reading styles ``< k`` and
    ``run_from(state, ws, k)`` the rest. Style ``i`` drives conv ``i``; with ``torgb="skip"`` the
    to-RGB at a non-final resolution reads the style of the next conv (as in StyleGAN2) and the final
    to-RGB reads the last style; with ``torgb="final"`` only the final to-RGB exists; with
    ``torgb="palette"`` a :class:`PaletteHead` reading the last style replaces it.
    ``num_ws = number of convs + 1`` (8 at 32x32).
    """

    def __init__(self, *, w_dim: int, resolution: int, channels, torgb: str = "skip", palette_size: int = 8):
        super().__init__()
        if torgb not in TORGB_CHOICES:
            raise ValueError(f"torgb must be one of {TORGB_CHOICES}, got {torgb!r}")
        self.channels = normalise_channels(channels, resolution)
        self.resolution = resolution
        self.torgb = torgb
        self.w_dim = w_dim
        self.const = nn.Parameter(torch.randn(self.channels[4], 4, 4))
        self.convs = nn.ModuleList()
        self.torgbs = nn.ModuleDict()
        program = []  # (kind, key, style index)
        prev = self.channels[4]
        for res, ch in self.channels.items():
            if res == 4:
                program.append(("conv", len(self.convs), len(self.convs)))
                self.convs.append(StyledConv(prev, ch, w_dim=w_dim, resolution=4))
            else:
                for up in (True, False):
                    program.append(("conv", len(self.convs), len(self.convs)))
                    self.convs.append(StyledConv(prev, ch, w_dim=w_dim, resolution=res, up=up))
                    prev = ch
            prev = ch
            if torgb == "palette" and res == resolution:
                program.append(("palette", "head", len(self.convs)))
                self.palette = PaletteHead(ch, w_dim=w_dim, palette_size=palette_size, resolution=res)
            elif torgb == "skip" or res == resolution:
                # the style of the next conv (or the extra last style at the final resolution)
                program.append(("rgb", str(res), len(self.convs)))
                self.torgbs[str(res)] = ToRGB(ch, w_dim=w_dim)
        self.program = program
        self.num_ws = len(self.convs) + 1

    def _initial_state(self, ws: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.const.unsqueeze(0).repeat(ws.shape[0], 1, 1, 1)
        img = torch.zeros(ws.shape[0], 3, 4, 4, device=ws.device, dtype=ws.dtype)
        return x, img

    def _run(self, state, ws, lo, hi, noise_mode):
        x, img = state
        for kind, key, idx in self.program:
            if not lo <= idx < hi:
                continue
            w = ws[:, idx]
            if kind == "conv":
                x = self.convs[key](x, w, noise_mode)
            elif kind == "palette":
                img = self.palette(x, w)
            else:
                rgb = self.torgbs[key](x, w)
                if self.torgb == "final":
                    img = rgb
                else:
                    img = rgb + (upsample2x(img) if img.shape[-1] != rgb.shape[-1] else img)
        return x, img

    def _check(self, ws: torch.Tensor, k: int | None = None) -> None:
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ValueError(f"ws must be [N, {self.num_ws}, {self.w_dim}], got {tuple(ws.shape)}")
        if k is not None and not 0 <= k <= self.num_ws:
            raise ValueError(f"split index k must be in 0..{self.num_ws}, got {k}")

    def run_until(self, ws: torch.Tensor, k: int, *, noise_mode: str = "const"):
        """Run the coarse part (styles ``0..k-1``).

        Args:
            ws: ``[N, num_ws, w_dim]``; only ``ws[:, :k]`` is read.
            k: split index in ``0..num_ws``.
        Returns:
            state ``(features [N, C, r, r], skip_image [N, 3, r', r'])``, batch first; the skip image
            is zeros until a to-RGB has run (adding it is exact).
        """
        self._check(ws, k)
        return self._run(self._initial_state(ws), ws, 0, k, noise_mode)

    def run_from(self, state, ws: torch.Tensor, k: int, *, noise_mode: str = "const") -> torch.Tensor:
        """Finish synthesis from ``run_until``'s state using only ``ws[:, k:]``.

        Returns ``img [N, 3, resolution, resolution]``, identical to ``self(ws)``.
        """
        self._check(ws, k)
        _, img = self._run(tuple(state), ws, k, self.num_ws, noise_mode)
        return img

    def forward(self, ws: torch.Tensor, *, noise_mode: str = "const") -> torch.Tensor:
        """``ws [N, num_ws, w_dim] -> img [N, 3, resolution, resolution]`` (roughly in [-1, 1])."""
        self._check(ws)
        _, img = self._run(self._initial_state(ws), ws, 0, self.num_ws, noise_mode)
        return img


class Generator(nn.Module):
    """Mapping + synthesis; tracks ``w_avg`` (mean w) while training.

    Args (keyword-only): ``z_dim``, ``w_dim``, ``mapping_layers``, ``resolution``, ``channels``
    (``{res: ch}`` or list for 4, 8, ...), ``torgb`` (one of TORGB_CHOICES), ``palette_size``
    (regions of the palette head), ``w_avg_beta``.
    Attributes: ``num_ws``, ``w_dim``, ``z_dim``, ``resolution``, ``kwargs`` (for checkpoints).
    """

    def __init__(
        self,
        *,
        z_dim: int = 64,
        w_dim: int = 64,
        mapping_layers: int = 4,
        resolution: int = 32,
        channels=None,
        torgb: str = "skip",
        palette_size: int = 8,
        w_avg_beta: float = 0.995,
    ):
        super().__init__()
        if channels is None:
            channels = {4: 96, 8: 96, 16: 64, 32: 32}
        channels = normalise_channels(channels, resolution)
        self.kwargs = dict(
            z_dim=z_dim,
            w_dim=w_dim,
            mapping_layers=mapping_layers,
            resolution=resolution,
            channels=channels,
            torgb=torgb,
            palette_size=palette_size,
            w_avg_beta=w_avg_beta,
        )
        self.z_dim, self.w_dim, self.resolution = z_dim, w_dim, resolution
        self.w_avg_beta = w_avg_beta
        self.mapping = MappingNetwork(z_dim=z_dim, w_dim=w_dim, num_layers=mapping_layers)
        self.synthesis = SynthesisNetwork(
            w_dim=w_dim, resolution=resolution, channels=channels, torgb=torgb, palette_size=palette_size
        )
        self.num_ws = self.synthesis.num_ws
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def sample_ws(
        self,
        n: int,
        *,
        mixing_prob: float = 0.0,
        generator: torch.Generator | None = None,
        update_w_avg: bool | None = None,
    ) -> torch.Tensor:
        """Draw ``z ~ N(0, I)`` (``[n, z_dim]``) and return :meth:`mix_ws` of it, ``[n, num_ws, w_dim]``."""
        z = torch.randn(n, self.z_dim, device=self.w_avg.device, generator=generator)
        return self.mix_ws(z, mixing_prob=mixing_prob, generator=generator, update_w_avg=update_w_avg)

    def mix_ws(
        self,
        z: torch.Tensor,
        *,
        mixing_prob: float = 0.0,
        generator: torch.Generator | None = None,
        update_w_avg: bool | None = None,
    ) -> torch.Tensor:
        """Map ``z [n, z_dim]`` to W+ codes ``[n, num_ws, w_dim]`` with style mixing.

        With probability ``mixing_prob`` a sample takes styles ``c..L-1`` from a second, freshly drawn
        z, with the cut ``c`` uniform in ``1..L-1``. ``generator`` (on the model's device) drives the
        draws. ``w_avg`` is updated from the first z's w when ``update_w_avg`` (default:
        ``self.training``).
        """
        n, device = z.shape[0], z.device
        w = self.mapping(z)
        if update_w_avg if update_w_avg is not None else self.training:
            with torch.no_grad():
                self.w_avg.lerp_(w.detach().mean(dim=0), 1.0 - self.w_avg_beta)
        ws = w.unsqueeze(1).repeat(1, self.num_ws, 1)
        if mixing_prob > 0:
            z2 = torch.randn(n, self.z_dim, device=device, generator=generator)
            w2 = self.mapping(z2)
            cut = torch.randint(1, self.num_ws, (n,), device=device, generator=generator)
            mix = torch.rand(n, device=device, generator=generator) < mixing_prob
            cut = torch.where(mix, cut, torch.full_like(cut, self.num_ws))
            use2 = torch.arange(self.num_ws, device=device)[None, :] >= cut[:, None]  # [n, L]
            ws = torch.where(use2[:, :, None], w2[:, None, :], ws)
        return ws

    def forward(
        self,
        z,
        *,
        mixing_prob: float = 0.0,
        generator: torch.Generator | None = None,
        noise_mode: str = "random",
        return_ws: bool = False,
    ):
        """Sample images for training (updates ``w_avg`` in training mode).

        Args:
            z: latents ``[N, z_dim]``, or an int ``N`` to draw them with ``generator``.
            mixing_prob: style-mixing probability (second latents drawn with ``generator``).
            generator: torch.Generator on the model's device for the latent draws.
            noise_mode: ``"random"`` (training default), ``"const"`` or ``"none"``.
            return_ws: also return the ws used.
        Returns:
            ``img [N, 3, res, res]`` (and ``ws [N, num_ws, w_dim]`` if ``return_ws``).
        """
        if isinstance(z, int):
            ws = self.sample_ws(z, mixing_prob=mixing_prob, generator=generator)
        else:
            ws = self.mix_ws(z, mixing_prob=mixing_prob, generator=generator)
        img = self.synthesis(ws, noise_mode=noise_mode)
        return (img, ws) if return_ws else img


class DiscriminatorBlock(nn.Module):
    """Residual block: 3x3 conv, strided 3x3 conv (halves the size), plus a pooled 1x1 skip; / sqrt(2).

    ``forward(x [N, in, H, W]) -> [N, out, H / 2, W / 2]``.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = EqualConv2d(in_channels, in_channels, 3, activation="lrelu")
        self.conv2 = EqualConv2d(in_channels, out_channels, 3, stride=2, activation="lrelu")
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False)
        self.pool = nn.AvgPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        return (out + self.skip(self.pool(x))) / math.sqrt(2.0)


class Discriminator(nn.Module):
    """Residual discriminator with minibatch standard deviation and equalised learning rate.

    ``Discriminator(*, resolution, channels, mbstd_group=4)``;
    ``forward(img [N, 3, res, res]) -> logits [N]``.
    """

    def __init__(self, *, resolution: int = 32, channels=None, mbstd_group: int = 4):
        super().__init__()
        if channels is None:
            channels = {4: 96, 8: 96, 16: 64, 32: 32}
        channels = normalise_channels(channels, resolution)
        self.kwargs = dict(resolution=resolution, channels=channels, mbstd_group=mbstd_group)
        self.mbstd_group = mbstd_group
        self.from_rgb = EqualConv2d(3, channels[resolution], 1, activation="lrelu")
        res_list = sorted(channels, reverse=True)
        self.blocks = nn.Sequential(
            *[DiscriminatorBlock(channels[r], channels[r // 2]) for r in res_list if r > 4]
        )
        c4 = channels[4]
        self.conv = EqualConv2d(c4 + 1, c4, 3, activation="lrelu")
        self.fc = EqualLinear(c4 * 16, c4, activation="lrelu")
        self.out = EqualLinear(c4, 1)

    def minibatch_stddev(self, x: torch.Tensor) -> torch.Tensor:
        """Append the across-group standard deviation as one feature map: ``[N, C, H, W] -> [N, C+1, H, W]``."""
        n, c, h, w = x.shape
        g = min(self.mbstd_group, n)
        while n % g:
            g -= 1
        y = x.reshape(g, n // g, c, h, w)
        y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # [n // g]
        y = y.reshape(1, n // g, 1, 1, 1).expand(g, -1, 1, h, w).reshape(n, 1, h, w)
        return torch.cat([x, y], dim=1)

    def features(self, img: torch.Tensor) -> list[torch.Tensor]:
        """Intermediate activations ``[from_rgb output, block 1 output, ...]`` of ``img [N, 3, res, res]``
        (a learned perceptual feature space, used by the encoder's feature loss)."""
        feats = [self.from_rgb(img)]
        for block in self.blocks:
            feats.append(block(feats[-1]))
        return feats

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.from_rgb(img))
        x = self.conv(self.minibatch_stddev(x))
        return self.out(self.fc(x.flatten(1))).squeeze(1)


def save_generator(G: Generator, path: str | os.PathLike) -> None:
    """Write ``{"kwargs": G.kwargs, "state_dict": ...}`` atomically to ``path`` (tensors on CPU)."""
    state = {k: v.detach().cpu() for k, v in G.state_dict().items()}
    save_atomic({"kwargs": dict(G.kwargs), "state_dict": state}, path)


def save_discriminator(D: Discriminator, path: str | os.PathLike) -> None:
    """Write ``{"kwargs": D.kwargs, "state_dict": ...}`` atomically to ``path`` (tensors on CPU)."""
    state = {k: v.detach().cpu() for k, v in D.state_dict().items()}
    save_atomic({"kwargs": dict(D.kwargs), "state_dict": state}, path)


def load_discriminator(path: str | os.PathLike, map_location="cpu") -> Discriminator:
    """Load a discriminator written by :func:`save_discriminator`; eval mode, ``requires_grad=False``."""
    ckpt = load_checkpoint(path, map_location=map_location)
    if not isinstance(ckpt, dict) or "kwargs" not in ckpt or "state_dict" not in ckpt:
        raise RuntimeError(f"{path} is not a discriminator file (expected keys 'kwargs', 'state_dict')")
    D = Discriminator(**ckpt["kwargs"])
    D.load_state_dict(ckpt["state_dict"])
    D.to(map_location if not isinstance(map_location, dict) else "cpu")
    return D.eval().requires_grad_(False)


def load_generator(path: str | os.PathLike, map_location="cpu") -> Generator:
    """Load a generator written by :func:`save_generator` (or a training checkpoint holding
    ``"G_ema"``), with ``weights_only=True``; returns it in eval mode with ``requires_grad=False``.

    Raises FileNotFoundError / RuntimeError naming the path when it is missing or corrupt.
    """
    ckpt = load_checkpoint(path, map_location=map_location)
    if "G_ema" in ckpt and "state_dict" not in ckpt:
        ckpt = ckpt["G_ema"]
    if not isinstance(ckpt, dict) or "kwargs" not in ckpt or "state_dict" not in ckpt:
        raise RuntimeError(f"{path} is not a generator checkpoint (expected keys 'kwargs', 'state_dict')")
    G = Generator(**ckpt["kwargs"])
    G.load_state_dict(ckpt["state_dict"])
    G.to(map_location if not isinstance(map_location, dict) else "cpu")
    G.eval().requires_grad_(False)
    return G

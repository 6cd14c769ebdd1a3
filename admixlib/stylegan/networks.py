"""StyleGAN2-style generator: mapping + synthesis with a split point (the discriminator is in ``discriminator``)."""

import inspect
import math
import os

import torch
from torch import nn

from admixlib.runtime import channels_last, load_module, save_module
from admixlib.stylegan.layers import PaletteHead, StyledConv, ToRGB, upsample_bilinear
from admixlib.stylegan.mapping import MappingNetwork

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


class SynthesisNetwork(nn.Module):
    """W+ -> image. Learned constant 4x4, one modulated conv at 4, then [up+conv, conv] per resolution.

    The network is a program of operations, each reading one style index; the indices never decrease
    along the program, so ``run_until(ws, k)`` runs the ops reading styles ``< k`` and
    ``run_from(state, ws, k)`` the rest. Style ``i`` drives conv ``i``; with ``torgb="skip"`` the
    to-RGB at a non-final resolution reads the style of the next conv (as in StyleGAN2) and the final
    to-RGB reads the last style; with ``torgb="final"`` only the final to-RGB exists; with
    ``torgb="palette"`` a :class:`PaletteHead` reading the last style replaces it, built with the
    keyword arguments in ``palette`` (``palette_size``, ``gain``, ``shading``, ``supersample``, ``bank``).
    ``num_ws = number of convs + 1`` (8 at 32x32).
    """

    def __init__(
        self,
        *,
        w_dim: int,
        resolution: int,
        channels,
        torgb: str = "skip",
        palette: dict | None = None,
    ):
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
                # the regions depend on the features alone: drawn with the last conv, so a split
                # before the last style (fine-style mixing, its attacks) draws them once
                program.append(("regions", "head", len(self.convs) - 1))
                program.append(("palette", "head", len(self.convs)))
                self.palette = PaletteHead(ch, w_dim=w_dim, resolution=res, **(palette or {}))
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
            elif kind == "regions":
                x = self.palette.region_masks(x)
            elif kind == "palette":
                img = self.palette.colour(x, w)
            else:
                rgb = self.torgbs[key](x, w)
                if self.torgb == "final":
                    img = rgb
                else:
                    img = rgb + (upsample_bilinear(img, 2) if img.shape[-1] != rgb.shape[-1] else img)
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
            is zeros until a to-RGB has run (adding it is exact). With the palette head and
            ``k = num_ws - 1`` the features are its regions' colour basis ``[N, K * terms, R, R]``
            (:meth:`PaletteHead.colour_basis`).
        """
        self._check(ws, k)
        x, img = self._run(self._initial_state(ws), ws, 0, k, noise_mode)
        if self._palette_split(k):  # the attacks on the last style re-colour these regions at every step
            x = self.palette.colour_basis(x)
        return x, img

    def _palette_split(self, k: int) -> bool:
        return self.torgb == "palette" and k == self.num_ws - 1

    def run_from(self, state, ws: torch.Tensor, k: int, *, noise_mode: str = "const") -> torch.Tensor:
        """Finish synthesis from ``run_until``'s state using only ``ws[:, k:]``: ``img [N, 3,
        resolution, resolution]``, equal to ``self(ws)`` up to float rounding."""
        self._check(ws, k)
        if self._palette_split(k):
            return self.palette.colour_from_basis(state[0], ws[:, k])
        _, img = self._run(tuple(state), ws, k, self.num_ws, noise_mode)
        return img

    def forward(self, ws: torch.Tensor, *, noise_mode: str = "const") -> torch.Tensor:
        """``ws [N, num_ws, w_dim] -> img [N, 3, resolution, resolution]`` (roughly in [-1, 1])."""
        self._check(ws)
        _, img = self._run(self._initial_state(ws), ws, 0, self.num_ws, noise_mode)
        return img


class Generator(nn.Module):
    """Mapping + synthesis; tracks ``w_avg`` (mean w) while training.

    Most arguments are the ``stylegan`` keys of config/schema.yaml (``channels``: a dict from
    resolution to width, or a list for 4, 8, ...). ``resolution``: the image side; ``w_avg_beta``: the
    decay of ``w_avg``; ``num_classes > 0`` makes the mapping class-conditional, its labels drawn at
    ``class_probs`` (uniform when None) when sampling.
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
        palette_gain: float = 1.0,
        palette_shading: bool = True,
        palette_supersample: int = 1,
        palette_bank: int = 0,
        w_avg_beta: float = 0.995,
        num_classes: int = 0,
        class_probs: list[float] | None = None,
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
            palette_gain=palette_gain,
            palette_shading=palette_shading,
            palette_supersample=palette_supersample,
            w_avg_beta=w_avg_beta,
            num_classes=num_classes,
            class_probs=None if class_probs is None else [float(p) for p in class_probs],
        )
        if palette_bank:  # absent when off, so older files and checkpoints keep matching kwargs
            self.kwargs["palette_bank"] = palette_bank
        self.z_dim, self.w_dim, self.resolution = z_dim, w_dim, resolution
        self.w_avg_beta = w_avg_beta
        self.mapping = MappingNetwork(
            z_dim=z_dim,
            w_dim=w_dim,
            num_layers=mapping_layers,
            num_classes=num_classes,
            class_probs=self.kwargs["class_probs"],
        )
        palette = dict(
            palette_size=palette_size, gain=palette_gain, shading=palette_shading,
            supersample=palette_supersample, bank=palette_bank,
        )  # fmt: skip
        self.synthesis = SynthesisNetwork(
            w_dim=w_dim, resolution=resolution, channels=channels, torgb=torgb, palette=palette
        )
        self.num_ws = self.synthesis.num_ws
        self.register_buffer("w_avg", torch.zeros(w_dim))
        channels_last(self)

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
        ``self.training``). A class-conditional mapping gives the second z the first one's class, so
        every style of a sample agrees on its class.
        """
        n, device = z.shape[0], z.device
        labels = self.mapping.labels_of(z)
        w = self.mapping(z, labels)
        if update_w_avg if update_w_avg is not None else self.training:
            with torch.no_grad():
                self.w_avg.lerp_(w.detach().mean(dim=0).to(self.w_avg.dtype), 1.0 - self.w_avg_beta)
        ws = w.unsqueeze(1).repeat(1, self.num_ws, 1)
        if mixing_prob > 0:
            z2 = torch.randn(n, self.z_dim, device=device, generator=generator)
            w2 = self.mapping(z2, labels)
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


def save_generator(G: Generator, path: str | os.PathLike) -> None:
    """Write ``{"kwargs": G.kwargs, "state_dict": ...}`` atomically to ``path`` (tensors on CPU)."""
    save_module(G, G.kwargs, path)


def load_generator(path: str | os.PathLike, map_location="cpu") -> Generator:
    """Load a generator written by :func:`save_generator`, with ``weights_only=True``; returns it in
    eval mode with ``requires_grad=False``.

    Raises FileNotFoundError / RuntimeError naming the path when it is missing or corrupt.
    """
    return load_module(
        path, Generator, what="a generator", writer="train_stylegan", map_location=map_location
    ).requires_grad_(False)


# The architecture keys a config's ``stylegan`` block sets: the generator's arguments, less those the
# data decide (resolution, classes) and the EMA rate of ``w_avg``.
ARCH_KEYS = tuple(
    key
    for key in inspect.signature(Generator).parameters
    if key not in ("resolution", "w_avg_beta", "num_classes", "class_probs")
)

"""Style mixing in W+: RandMix (random coefficients) and AdvMix (adversarial coefficients).

For fine styles ``k..L-1`` and donors ``j = 1..M`` (other training images):
``w~_f = w_f(x) + sum_j a_j * (w_f(x'_j) - w_f(x))`` with ``a [N, M, L-k]``, ``a >= 0`` and
``sum_j a_j <= 1`` per (image, layer). The image is ``G(w_c(x), w~_f)``, plus the inversion residual
``x - G(w(x))`` if configured, clamped to ``[-1, 1]``. The coarse styles ``0..k-1`` (the label) are kept.

With a channel mask ``[C]`` (0/1 over the modulation channels of style ``k-1``, StyleSpace's channels) the
mixing starts one style earlier: style ``k-1`` gets a coefficient too, but only its masked channels
move, ``s = s(w_{k-1}) + mask * (s(w~_{k-1}) - s(w_{k-1}))``. The scales ``s`` are affine in ``w``, so
the image is still the generator applied to an affine function of ``a``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from admixlib.perturb.base import Batch, Perturbation
from admixlib.stylegan.networks import ChannelMix

ATTACK_MODES = ("exact", "linear")


def mix_styles(codes: Tensor, donor_codes: Tensor, coeffs: Tensor, k: int) -> Tensor:
    """The mixing formula: move the fine styles of ``codes`` towards donors' fine styles.

    Args:
        codes: source W+ codes ``[N, L, D]``.
        donor_codes: donors' codes, full ``[N, M, L, D]`` or fine part only ``[N, M, L-k, D]``.
        coeffs: ``a`` ``[N, M, L-k]``.
        k: split index; styles ``0..k-1`` are coarse and returned unchanged.

    Returns:
        Mixed codes ``[N, L, D]``: coarse styles of ``codes``, fine styles
        ``w_f + sum_j a_j (w_f(donor_j) - w_f)``.
    """
    n, num_ws, _ = codes.shape
    if not 0 <= k < num_ws:
        raise ValueError(f"split index k must be in [0, {num_ws - 1}], got {k}")
    donor_fine = donor_codes[:, :, k:] if donor_codes.shape[2] == num_ws else donor_codes
    if donor_fine.shape[2] != num_ws - k or coeffs.shape != donor_fine.shape[:3]:
        raise ValueError(
            f"shape mismatch: codes {tuple(codes.shape)}, donors {tuple(donor_codes.shape)}, "
            f"coeffs {tuple(coeffs.shape)} (expected [N, M, L-k] = [{n}, M, {num_ws - k}])"
        )
    fine = codes[:, k:]
    mixed = fine + torch.einsum("nml,nmld->nld", coeffs, donor_fine - fine[:, None])
    return torch.cat([codes[:, :k], mixed], dim=1)


def mixing_start(split_index: int, channel_mask: Tensor | None) -> int:
    """The first style that gets a coefficient: ``k``, or ``k - 1`` with a channel mask (style ``k-1``'s
    masked channels are mixed). ``channel_mask`` must already be normalised (:func:`normalise_mask`)."""
    if channel_mask is None:
        return int(split_index)
    if split_index < 1:
        raise ValueError("a channel mask mixes channels of style k-1, so it needs split index k >= 1")
    return int(split_index) - 1


def normalise_mask(channel_mask: Tensor | None) -> Tensor | None:
    """A float 0/1 mask ``[C]``, or None for no mask (also for an all-zero mask: nothing to mix)."""
    if channel_mask is None:
        return None
    mask = torch.as_tensor(channel_mask, dtype=torch.float32)
    if mask.ndim != 1 or not bool(((mask == 0) | (mask == 1)).all()):
        raise ValueError(f"channel_mask must be a 0/1 vector [C], got shape {tuple(mask.shape)}")
    return mask if bool(mask.any()) else None


def render_mixed(
    G: nn.Module,
    mixed_ws: Tensor,
    *,
    source_ws: Tensor,
    start: int,
    channel_mask: Tensor | None = None,
    state=None,
    noise_mode: str = "const",
) -> Tensor:
    """Render mixed codes; with ``channel_mask``, style ``start`` is the source's except its masked
    channels, which are modulated by ``mixed_ws[:, start]`` (:class:`~admixlib.stylegan.ChannelMix`).

    Args:
        G: generator with ``synthesis`` (``forward`` and ``run_from``).
        mixed_ws: mixed codes ``[N, L, D]`` (e.g. :func:`mix_styles` at ``start``).
        source_ws: the sources' codes ``[N, L, D]`` (only style ``start`` is read, with a mask).
        start: the first mixed style (:func:`mixing_start`).
        channel_mask: normalised mask ``[C]`` of style ``start``'s conv, or None.
        state: ``G.synthesis.run_until(source_ws, start)`` to render from, or None (full synthesis).
        noise_mode: passed to the generator.

    Returns:
        Unclamped images ``[N, 3, H, W]``.
    """
    mix = None
    if channel_mask is not None:
        mix = ChannelMix(start, channel_mask, mixed_ws[:, start])
        mixed_ws = torch.cat(
            [mixed_ws[:, :start], source_ws[:, start : start + 1], mixed_ws[:, start + 1 :]], 1
        )
    if state is None:
        return G.synthesis(mixed_ws, noise_mode=noise_mode, channel_mix=mix)
    return G.synthesis.run_from(state, mixed_ws, start, noise_mode=noise_mode, channel_mix=mix)


def project_capped_simplex(a: Tensor, dim: int = 1) -> Tensor:
    """Exact Euclidean projection onto ``{a >= 0, sum a <= 1}`` along ``dim``, for every other index.

    If clamping at 0 already gives a sum ``<= 1`` that is the projection; otherwise the projection
    lies on the probability simplex and is computed by the sort-based algorithm
    (``x = max(v - theta, 0)`` with the threshold ``theta`` from the sorted cumulative sums).
    """
    v = a.movedim(dim, -1)
    clamped = v.clamp_min(0.0)
    u, _ = torch.sort(v, dim=-1, descending=True)
    css = u.cumsum(-1) - 1.0
    ind = torch.arange(1, v.shape[-1] + 1, device=v.device, dtype=v.dtype)
    support = (u - css / ind) > 0
    rho = support.to(torch.int64).cumsum(-1).argmax(-1, keepdim=True)  # last index where support holds
    theta = css.gather(-1, rho) / (rho + 1).to(v.dtype)
    on_simplex = (v - theta).clamp_min(0.0)
    out = torch.where(clamped.sum(-1, keepdim=True) <= 1.0, clamped, on_simplex)
    return out.movedim(-1, dim)


def random_coefficients(n: int, donors: int, layers: int, *, generator: torch.Generator) -> Tensor:
    """A uniformly random feasible ``a`` ``[n, donors, layers]``: Dirichlet(1) over ``donors + 1``
    components with the last dropped (so ``a >= 0``, ``sum_j a_j <= 1``; for one donor ``a ~ U[0, 1]``).
    Drawn on ``generator``'s device."""
    u = torch.rand((n, layers, donors + 1), generator=generator, device=generator.device)
    e = -torch.log(u.clamp_min(torch.finfo(u.dtype).tiny))
    a = e / e.sum(-1, keepdim=True)
    return a[..., :donors].transpose(1, 2).contiguous()


class StyleMixSet:
    """Style-mixing perturbation set over the fine styles of a frozen StyleGAN generator.

    ``delta`` is ``a`` ``[N, M, L-s]`` with ``s`` = :func:`mixing_start` (``k``, or ``k - 1`` with a
    channel mask). ``steps == 0`` is RandMix (one random ``a`` per image and
    donor draw); ``steps > 0`` is AdvMix (sign-gradient ascent on ``a`` with exact projection).

    ``attack="linear"`` runs the ascent on a first-order surrogate instead of the generator: mixing is
    linear in ``a`` in style space, so ``random_init`` renders, once per batch, the image at ``a = 0``
    and one difference image per (donor, fine layer), ``G(a = e_jl) - G(a = 0)``; the attack's images
    are then ``clamp(base + sum_jl a_jl * diff_jl)`` and cost no generator pass, and only the chosen
    ``a`` is rendered exactly (:func:`~admixlib.perturb.find_worst_case` uses ``attack_image``). The
    surrogate is exact when the fine layers act linearly on the image (the palette head alone, k = L-1).

    Args:
        G: generator with ``num_ws``, ``synthesis.run_until`` and ``synthesis.run_from``; its
            parameters are set to ``requires_grad=False`` (its train/eval mode is not changed).
        split_index: ``k``; styles ``0..k-1`` are kept, ``k..L-1`` are mixed.
        donor_codes: the donor bank ``[D, L, w_dim]`` (e.g. the training codes), on any device.
        donors: ``M`` donors per image.
        steps: ascent steps (0: RandMix).
        step_size: ascent step on ``a`` (coefficient units).
        add_residual: add ``batch.residuals`` to every perturbed image.
        random_start: random feasible start (True) or ``a = 0`` (False: the unperturbed image).
        noise_mode: passed to the generator ("const" for deterministic rendering).
        attack: ``"exact"`` (every ascent step renders through the generator) or ``"linear"``.
        channel_mask: 0/1 ``[C]`` over the modulation channels of style ``k-1``: those channels are
            mixed too (an all-zero mask or None: style ``k-1`` is kept whole).
    """

    def __init__(
        self,
        G: nn.Module,
        *,
        split_index: int,
        donor_codes: Tensor,
        donors: int = 1,
        steps: int = 0,
        step_size: float = 0.3,
        add_residual: bool = True,
        random_start: bool = True,
        noise_mode: str = "const",
        attack: str = "exact",
        channel_mask: Tensor | None = None,
    ) -> None:
        num_ws = int(G.num_ws)
        if attack not in ATTACK_MODES:
            raise ValueError(f"attack must be one of {ATTACK_MODES}, got {attack!r}")
        if not 0 <= split_index < num_ws:
            raise ValueError(f"split_index must be in [0, {num_ws - 1}], got {split_index}")
        if donor_codes.ndim != 3 or donor_codes.shape[1] != num_ws:
            raise ValueError(f"donor_codes must be [D, {num_ws}, w_dim], got {tuple(donor_codes.shape)}")
        if donors < 1 or steps < 0 or step_size < 0:
            raise ValueError(
                f"need donors >= 1, steps >= 0, step_size >= 0; got {donors}, {steps}, {step_size}"
            )
        G.requires_grad_(False)
        self.G = G
        self.k = int(split_index)
        self.channel_mask = normalise_mask(channel_mask)
        self.start = mixing_start(self.k, self.channel_mask)
        self.num_ws = num_ws
        self.donor_fine = donor_codes[:, self.start :].detach()
        self.donors = int(donors)
        self.steps = int(steps)
        self.step_size = float(step_size)
        self.add_residual = bool(add_residual)
        self.random_start = bool(random_start)
        self.noise_mode = noise_mode
        self.attack = attack
        # find_worst_case ascends on attack_image when it is not None
        self.attack_image = self._linear_image if attack == "linear" else None

    def __repr__(self) -> str:
        return (
            f"StyleMixSet(k={self.k}, L={self.num_ws}, donors={self.donors}, steps={self.steps}, "
            f"step_size={self.step_size}, add_residual={self.add_residual}, attack={self.attack}, "
            f"masked_channels={0 if self.channel_mask is None else int(self.channel_mask.sum())}, "
            f"bank={len(self.donor_fine)})"
        )

    def random_init(self, batch: Batch, *, generator: torch.Generator) -> Perturbation:
        """Draw ``M`` donors per image from the bank, cache the coarse state, draw a random ``a``.

        ``context`` gets ``donor_fine`` ``[N, M, L-s, w_dim]``, ``donor_index`` ``[N, M]`` (bank rows)
        and ``state`` (``G.synthesis.run_until(codes, s)``, computed without gradient); with
        ``attack="linear"`` also ``base`` ``[N, 3, H, W]`` and ``diffs`` ``[N, M, L-s, 3, H, W]``.
        """
        if batch.codes is None:
            raise ValueError("StyleMixSet needs batch.codes (the W+ codes of the images)")
        codes = batch.codes
        n = codes.shape[0]
        idx = torch.randint(
            len(self.donor_fine), (n, self.donors), generator=generator, device=generator.device
        )
        donor_fine = self.donor_fine[idx.to(self.donor_fine.device)].to(codes.device, codes.dtype)
        with torch.no_grad():
            state = self.G.synthesis.run_until(codes, self.start, noise_mode=self.noise_mode)
        if self.random_start:
            a = random_coefficients(n, self.donors, self.num_ws - self.start, generator=generator)
        else:
            a = torch.zeros(n, self.donors, self.num_ws - self.start)
        context = {"donor_fine": donor_fine, "donor_index": idx, "state": state}
        p = Perturbation(delta=a.to(codes.device, codes.dtype), context=context)
        if self.attack == "linear":
            context.update(self._linear_basis(p, batch))
        return p

    @torch.no_grad()
    def _linear_basis(self, p: Perturbation, batch: Batch) -> dict:
        """The unclamped render at ``a = 0`` and its change per unit of each (donor, layer) coefficient."""
        n, m, layers = p.delta.shape
        one_hot = torch.eye(m * layers, device=p.delta.device, dtype=p.delta.dtype).view(
            m * layers, m, layers
        )
        coeffs = torch.cat([torch.zeros_like(one_hot[:1]), one_hot])  # [1 + M(L-s), M, L-s]
        renders = torch.stack([self._render(p.with_delta(c.expand(n, m, layers)), batch) for c in coeffs], 1)
        base = renders[:, 0]
        return {"base": base, "diffs": (renders[:, 1:] - base[:, None]).view(n, m, layers, *base.shape[1:])}

    def _linear_image(self, p: Perturbation, batch: Batch) -> Tensor:
        """The surrogate ``clamp(base + sum_jl a_jl * diff_jl)`` ``[N, 3, H, W]``, differentiable in ``a``."""
        moved = torch.einsum("nml,nmlchw->nchw", p.delta, p.context["diffs"])
        return (p.context["base"] + moved).clamp(-1.0, 1.0)

    def step(self, p: Perturbation, grad: Tensor) -> Perturbation:
        """``a + step_size * sign(grad)`` (ascent)."""
        return p.with_delta(p.delta + self.step_size * torch.sign(grad))

    def project(self, p: Perturbation) -> Perturbation:
        """Exact projection of ``a`` onto ``{a >= 0, sum_j a_j <= 1}`` per (image, layer)."""
        return p.with_delta(project_capped_simplex(p.delta, dim=1))

    def mixed_codes(self, p: Perturbation, batch: Batch) -> Tensor:
        """The mixed W+ codes ``[N, L, w_dim]`` for ``p`` (with a channel mask, style ``k-1`` of the
        result is the code its masked channels are modulated by; the others keep the source's)."""
        return mix_styles(batch.codes, p.context["donor_fine"], p.delta, self.start)

    def to_image(self, p: Perturbation, batch: Batch) -> Tensor:
        """Render ``G(w_c, w~_f)`` from the cached coarse state (+ residual), clamped to ``[-1, 1]``."""
        return self._render(p, batch).clamp(-1.0, 1.0)

    def _render(self, p: Perturbation, batch: Batch) -> Tensor:
        img = render_mixed(
            self.G, self.mixed_codes(p, batch), source_ws=batch.codes, start=self.start,
            channel_mask=self.channel_mask, state=p.context["state"], noise_mode=self.noise_mode,
        )  # fmt: skip
        if self.add_residual:
            if batch.residuals is None:
                raise ValueError("StyleMixSet(add_residual=True) needs batch.residuals")
            img = img + batch.residuals
        return img


@torch.no_grad()
def fine_style_variations(
    G: nn.Module,
    codes: Tensor,
    donor_bank: Tensor,
    *,
    variations: int,
    split_index: int,
    residuals: Tensor | None = None,
    channel_mask: Tensor | None = None,
    generator: torch.Generator,
) -> Tensor:
    """Each image with its fine styles (and ``channel_mask``'s channels of style ``k-1``) replaced by
    those of ``variations`` random donors.

    Args:
        G: generator with ``synthesis`` and ``num_ws``.
        codes: W+ codes ``[N, L, D]`` of the images (on G's device).
        donor_bank: W+ codes ``[B, L, D]`` donors are drawn from (any device).
        variations: donors per image.
        split_index: styles ``split_index..L-1`` are taken from the donor.
        residuals: ``[N, 3, H, W]`` inversion residuals added to every variation, or None.
        channel_mask: 0/1 ``[C]`` over style ``split_index - 1``'s channels, or None (see :class:`StyleMixSet`).
        generator: CPU generator drawing the donors (``[N, variations]`` indices).

    Returns:
        ``[N, variations, 3, H, W]`` images in ``[-1, 1]``.
    """
    n = codes.shape[0]
    idx = torch.randint(len(donor_bank), (n, variations), generator=generator)
    donors = donor_bank[idx.reshape(-1)].to(codes.device, codes.dtype)
    source = codes.repeat_interleave(variations, dim=0)
    mask = normalise_mask(channel_mask)
    start = mixing_start(split_index, mask)
    ones = torch.ones(n * variations, 1, G.num_ws - start, device=codes.device, dtype=codes.dtype)
    mixed = mix_styles(source, donors[:, None], ones, start)
    images = render_mixed(G, mixed, source_ws=source, start=start, channel_mask=mask)
    images = images.reshape(n, variations, *images.shape[1:])
    if residuals is not None:
        images = images + residuals[:, None].to(images.device)
    return images.clamp(-1.0, 1.0)

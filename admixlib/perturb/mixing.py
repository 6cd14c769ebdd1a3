"""Style mixing in W+: RandMix (random coefficients) and AdvMix (adversarial coefficients).

For fine styles ``k..L-1`` and donors ``j = 1..M``: ``w~_f = w_f(x) + sum_j a_j * (w_f(x'_j) - w_f(x))``
with ``a [N, M, L-k] >= 0`` and ``sum_j a_j <= 1`` per (image, layer). The image is ``G(w_c(x), w~_f)``
(plus the inversion residual ``x - G(w(x))`` if configured), clamped to ``[-1, 1]``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from admixlib.perturb.base import Batch, Perturbation

ATTACK_MODES = ("exact", "linear")


def mix_styles(codes: Tensor, donor_codes: Tensor, coeffs: Tensor, k: int) -> Tensor:
    """The mixing formula on ``codes [N, L, D]`` with donors ``[N, M, L, D]`` (or their fine part
    ``[N, M, L-k, D]``) and ``coeffs`` ``a [N, M, L-k]``: returns ``[N, L, D]`` with the coarse
    styles ``0..k-1`` unchanged and fine styles ``w_f + sum_j a_j (w_f(donor_j) - w_f)``."""
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


def render_mixed(G: nn.Module, mixed_ws: Tensor, *, start: int, state=None) -> Tensor:
    """Unclamped images ``[N, 3, H, W]`` of mixed codes ``mixed_ws [N, L, D]`` (noise "const"): from
    ``state = G.synthesis.run_until(source codes, start)`` when given, else a full synthesis."""
    if state is None:
        return G.synthesis(mixed_ws, noise_mode="const")
    return G.synthesis.run_from(state, mixed_ws, start, noise_mode="const")


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
    """Style-mixing perturbation set over the fine styles ``k..L-1`` of a frozen StyleGAN generator.

    ``split_index`` is ``k``: styles ``0..k-1`` are kept, ``k..L-1`` mixed. ``delta`` is
    ``a [N, M, L-k]``. ``steps == 0`` is RandMix (one random ``a`` per image and donor draw);
    ``steps > 0`` is AdvMix (sign-gradient ascent on ``a``, ``step_size`` in coefficient units, with
    exact projection). ``attack="exact"`` renders every ascent step through the generator.

    ``attack="linear"`` ascends on a first-order surrogate instead of the generator: mixing is linear
    in ``a`` in style space, so ``random_init`` renders, once per batch, the image at ``a = 0`` and one
    difference image per (donor, fine layer), ``G(a = e_jl) - G(a = 0)``; the attack's images are
    ``clamp(base + sum_jl a_jl * diff_jl)`` and only the chosen ``a`` is rendered exactly
    (:func:`~admixlib.perturb.find_worst_case` uses ``attack_image``). The surrogate is exact when
    the fine layers act linearly on the image (the palette head alone, k = L-1, without a colour bank,
    whose style gate is a softmax).

    ``G`` needs ``num_ws`` and ``synthesis.run_until``/``run_from``; its parameters are frozen (its
    train/eval mode is kept). ``donor_codes [D, L, w_dim]`` is the donor bank (any device),
    ``donors`` is ``M``, and ``add_residual`` adds ``batch.residuals`` to every perturbed image.
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
        attack: str = "exact",
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
        self.num_ws = num_ws
        self.donor_fine = donor_codes[:, self.k :].detach()
        self.donors = int(donors)
        self.steps = int(steps)
        self.step_size = float(step_size)
        self.add_residual = bool(add_residual)
        self.attack = attack
        # find_worst_case ascends on attack_image when it is not None
        self.attack_image = self._linear_image if attack == "linear" else None

    def __repr__(self) -> str:
        # checkpoint identities store this string: keep its fields (masked_channels included) as they are
        return (
            f"StyleMixSet(k={self.k}, L={self.num_ws}, donors={self.donors}, steps={self.steps}, "
            f"step_size={self.step_size}, add_residual={self.add_residual}, attack={self.attack}, "
            f"masked_channels=0, bank={len(self.donor_fine)})"
        )

    def random_init(self, batch: Batch, *, generator: torch.Generator) -> Perturbation:
        """Draw ``M`` donors per image from the bank, cache the coarse state, draw a random ``a``.

        ``context`` gets ``donor_fine`` ``[N, M, L-k, w_dim]``, ``donor_index`` ``[N, M]`` (bank rows)
        and ``state`` (``G.synthesis.run_until(codes, k)``, computed without gradient); with
        ``attack="linear"`` also ``base`` ``[N, 3, H, W]`` and ``diffs`` ``[N, M, L-k, 3, H, W]``.
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
            state = self.G.synthesis.run_until(codes, self.k)
        a = random_coefficients(n, self.donors, self.num_ws - self.k, generator=generator)
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
        coeffs = torch.cat([torch.zeros_like(one_hot[:1]), one_hot])  # [1 + M(L-k), M, L-k]
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

    def to_image(self, p: Perturbation, batch: Batch) -> Tensor:
        """Render ``G(w_c, w~_f)`` from the cached coarse state (+ residual), clamped to ``[-1, 1]``."""
        return self._render(p, batch).clamp(-1.0, 1.0)

    def _render(self, p: Perturbation, batch: Batch) -> Tensor:
        mixed = mix_styles(batch.codes, p.context["donor_fine"], p.delta, self.k)
        img = render_mixed(self.G, mixed, start=self.k, state=p.context["state"])
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
    generator: torch.Generator,
) -> Tensor:
    """Each image of ``codes [N, L, D]`` (on G's device) with its styles ``split_index..L-1``
    replaced by those of ``variations`` donors drawn from ``donor_bank [B, L, D]`` with the CPU
    ``generator``, plus ``residuals [N, 3, H, W]`` if given: ``[N, variations, 3, H, W]`` in ``[-1, 1]``."""
    n = codes.shape[0]
    idx = torch.randint(len(donor_bank), (n, variations), generator=generator)
    donors = donor_bank[idx.reshape(-1)].to(codes.device, codes.dtype)
    source = codes.repeat_interleave(variations, dim=0)
    ones = torch.ones(n * variations, 1, G.num_ws - split_index, device=codes.device, dtype=codes.dtype)
    mixed = mix_styles(source, donors[:, None], ones, split_index)
    images = render_mixed(G, mixed, start=split_index)
    images = images.reshape(n, variations, *images.shape[1:])
    if residuals is not None:
        images = images + residuals[:, None].to(images.device)
    return images.clamp(-1.0, 1.0)

"""Image -> W+ inversion: encoder, optional per-image refinement (hybrid), or optimisation only."""

import time
from collections.abc import Callable

import torch
from tqdm import tqdm

from admixlib.inversion.encoder import Encoder
from admixlib.stylegan.networks import Generator

INIT_CHOICES = ("encoder", "mean")
# 0.99, not Adam's 0.999: the tuning grid (benchmarks/tuning/inversion.py) uses it throughout (docs/inversion.md)
ADAM_BETA2 = 0.99


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB for images in ``[-1, 1]`` (peak-to-peak 2): ``[N, ...] x2 -> [N]``.

    ``10 * log10(4 / MSE)``; identical images give ``inf``.
    """
    mse = (x.float() - y.float()).square().flatten(1).mean(dim=1)
    return 10 * torch.log10(4.0 / mse)


def invert_images(
    G: Generator,
    E: Encoder | None,
    images: torch.Tensor,
    *,
    refine_steps: int = 0,
    refine_lr: float = 0.05,
    beta1: float = 0.9,
    init: str = "encoder",
    batch_size: int = 256,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Invert ``images`` ``float32 [N, 3, H, W]`` in ``[-1, 1]`` into ``G``'s W+ space: returns
    ``(ws float32 [N, num_ws, w_dim], recon float32 [N, 3, H, W])``, both on the CPU.

    ``init="encoder"``: ``ws = E(x)``, then ``refine_steps`` steps of :func:`refine` (hybrid
    inversion). ``init="mean"``: :func:`refine` only, from ``G.w_avg`` (``E`` may be None; needs
    ``refine_steps > 0``). ``G`` and ``E`` are moved to ``device`` and never updated.
    """
    if init not in INIT_CHOICES:
        raise ValueError(f"init must be one of {INIT_CHOICES}, got {init!r}")
    if init == "encoder" and E is None:
        raise ValueError("init='encoder' needs an encoder")
    if init == "mean" and refine_steps <= 0:
        raise ValueError("init='mean' (optimisation only) needs refine_steps > 0")
    device = torch.device(device)
    G = G.to(device)
    if E is not None:
        E = E.to(device)
    all_ws, all_recon = [], []
    batches = range(0, len(images), batch_size)
    for start in tqdm(batches, disable=not progress, desc="invert", dynamic_ncols=True):
        x = images[start : start + batch_size].to(device, torch.float32)
        with torch.no_grad():
            ws = E(x) if init == "encoder" else G.w_avg.expand(len(x), G.num_ws, G.w_dim).clone()
        if refine_steps > 0:
            ws = refine(G, ws, x, steps=refine_steps, lr=refine_lr, beta1=beta1)
        with torch.no_grad():
            recon = G.synthesis(ws, noise_mode="const")
        all_ws.append(ws.detach().float().cpu())
        all_recon.append(recon.float().cpu())
    return torch.cat(all_ws), torch.cat(all_recon)


def refine(
    G: Generator,
    ws: torch.Tensor,
    x: torch.Tensor,
    *,
    steps: int,
    lr: float,
    beta1: float = 0.9,
    callback: Callable[[int, torch.Tensor], None] | None = None,
) -> torch.Tensor:
    """Adam (betas ``(beta1, 0.99)``) on ``ws [N, L, w_dim]`` minimising the per-image pixel MSE to
    ``x [N, 3, H, W]``.

    The loss is the sum over images of each image's mean squared error, so every image's update
    is independent of the batch. ``callback(step, ws)``, if given, is called after every step with
    the step count and the current codes (detached). Returns the refined ``ws`` (detached).
    """
    ws = ws.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([ws], lr=lr, betas=(beta1, ADAM_BETA2))
    for step in range(1, steps + 1):
        recon = G.synthesis(ws, noise_mode="const")
        loss = (recon - x).square().flatten(1).mean(dim=1).sum()
        (ws.grad,) = torch.autograd.grad(loss, [ws])  # no gradients into G's parameters
        opt.step()
        if callback is not None:
            callback(step, ws.detach())
    return ws.detach()


def refine_psnr_curve(
    G: Generator, ws: torch.Tensor, x: torch.Tensor, *, steps: int, lr: float, beta1: float, every: int = 5
) -> list[tuple[int, float]]:
    """The mean PSNR of ``x [N, 3, H, W]`` every ``every`` steps of :func:`refine` from ``ws
    [N, L, w_dim]``, with ``(0, PSNR of ws itself)`` first: ``[(steps so far, mean PSNR in dB)]``."""

    def mean_psnr(current: torch.Tensor) -> float:
        with torch.no_grad():
            return float(psnr(x, G.synthesis(current, noise_mode="const")).mean())

    curve = [(0, mean_psnr(ws))]

    def record(step: int, current: torch.Tensor) -> None:
        if step % every == 0:
            curve.append((step, mean_psnr(current)))

    refine(G, ws, x, steps=steps, lr=lr, beta1=beta1, callback=record)
    return curve


def optimise_to_psnr(
    G: Generator,
    x: torch.Tensor,
    *,
    target_psnr: float,
    max_steps: int,
    lr: float,
    beta1: float = 0.9,
) -> dict:
    """Optimisation-only inversion of ``x [N, 3, H, W]`` from ``G.w_avg`` until the batch's mean PSNR
    reaches ``target_psnr`` dB or ``max_steps`` Adam steps (betas ``(beta1, 0.99)``) have run (same
    loss as :func:`refine`).

    Returns ``{"steps", "seconds", "psnr", "reached"}``: the steps and wall seconds spent, the mean PSNR
    when it stopped and whether the target was reached.
    """
    start = time.perf_counter()
    ws = G.w_avg.expand(len(x), G.num_ws, G.w_dim).clone().requires_grad_(True)
    opt = torch.optim.Adam([ws], lr=lr, betas=(beta1, ADAM_BETA2))
    mean_psnr, step = float("-inf"), 0
    while step < max_steps:
        recon = G.synthesis(ws, noise_mode="const")
        mse = (recon - x).square().flatten(1).mean(dim=1)
        mean_psnr = float((10 * torch.log10(4.0 / mse.detach())).mean())
        if mean_psnr >= target_psnr:
            break
        (ws.grad,) = torch.autograd.grad(mse.sum(), [ws])
        opt.step()
        step += 1
    reached = mean_psnr >= target_psnr
    if not reached:  # the PSNR after the last step
        with torch.no_grad():
            mean_psnr = float(psnr(x, G.synthesis(ws, noise_mode="const")).mean())
        reached = mean_psnr >= target_psnr
    return {"steps": step, "seconds": time.perf_counter() - start, "psnr": mean_psnr, "reached": reached}

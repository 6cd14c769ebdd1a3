"""Seeded torch generators, torch's global RNG state, and deterministic kernels."""

import os

import torch


def torch_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """Return a fresh ``torch.Generator`` on ``device`` seeded with ``seed``."""
    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


def torch_rng_state(device: torch.device) -> dict:
    """Global torch RNG states (CPU, and CUDA when used) as tensors, loadable with ``weights_only``."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_torch_rng_state(state: dict, device: torch.device) -> None:
    """Restore the output of :func:`torch_rng_state` (tensors may come back on any device)."""
    torch.set_rng_state(state["cpu"].cpu())
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"].cpu(), device)


def use_deterministic_algorithms(enabled: bool = True) -> None:
    """Make torch pick deterministic kernels (warning, not failing, where an op has none) when this
    process can use CUDA; without CUDA do nothing.

    CPU kernels are deterministic either way, and torch's switch imports ``torch._inductor``, about 1 s
    of every job's start (``docs/speed.md``). Sets ``CUBLAS_WORKSPACE_CONFIG`` too, which CUDA reads
    when it initialises: call before the first CUDA call.
    """
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if not torch.cuda.is_available():
        return
    torch.use_deterministic_algorithms(enabled, warn_only=True)
    torch.backends.cudnn.benchmark = not enabled

"""Device choice, and how a job's process uses the CPU: the same code runs on CPU and CUDA."""

import ctypes
import platform

import torch

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_OLD_GLIBC_MAX_MMAP_THRESHOLD = 32 << 20  # older glibc refuses more than half its 64 MiB heap size

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto") -> torch.device:
    """Map a config value ``auto|cpu|cuda`` to a ``torch.device``.

    ``auto`` picks CUDA when available. Asking for ``cuda`` on a machine without it is an error.
    """
    if name not in DEVICE_CHOICES:
        raise ValueError(f"device must be one of {DEVICE_CHOICES}, got {name!r}")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config asks for device: cuda but torch sees no CUDA device; use auto or cpu")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def channels_last(module: torch.nn.Module) -> torch.nn.Module:
    """Store ``module``'s 4-D parameters and buffers channels-last (NHWC), in place; returns it.
    On CPU oneDNN then stops reordering every input and weight: GAN and encoder steps take about 17%
    less time (``docs/speed.md``). Values, state-dict keys and shapes are unchanged."""
    return module.to(memory_format=torch.channels_last)


def reuse_freed_memory(*, threshold_bytes: int = 1 << 30) -> int:
    """Make glibc's malloc keep freed blocks below ``threshold_bytes`` on the heap for the next tensors.

    By default every block above glibc's mmap threshold (at most 32 MiB) gets its own ``mmap``, so each
    step maps, zero-fills and unmaps its activations again: 13% of ``benchmarks/scaling.py``'s CPU time
    (``docs/speed.md``). Returns the threshold set: ``threshold_bytes``, 32 MiB where an older glibc
    refuses more, 0 (nothing changed) off glibc.
    """
    if platform.libc_ver()[0] != "glibc":  # other C libraries number mallopt's parameters differently
        return 0
    mallopt = ctypes.CDLL(None).mallopt  # glibc always has it
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    for threshold in (threshold_bytes, min(threshold_bytes, _OLD_GLIBC_MAX_MMAP_THRESHOLD)):
        if mallopt(_M_MMAP_THRESHOLD, threshold):
            mallopt(_M_TRIM_THRESHOLD, threshold)
            return threshold
    return 0


def configure_cpu(threads: int) -> None:
    """Set up a job's process for the CPU: torch's intra-op threads limited to the rule's ``threads:``
    so parallel jobs do not oversubscribe, and freed memory kept for reuse (``reuse_freed_memory``)."""
    torch.set_num_threads(max(1, int(threads)))
    reuse_freed_memory()

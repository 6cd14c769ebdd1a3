"""Atomic checkpoint writing (temp file + rename) and loading with clear errors."""

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import torch


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it; done once, at import, before any job's threads start
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", **open_kwargs):
    """Yield a file opened with ``mode`` beside ``path`` that replaces ``path`` once the block ends
    without error (the parent folder is created), so a killed job never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            # what a plain open() would give: mkstemp's 0600 would hide results from a shared group
            os.fchmod(handle.fileno(), 0o666 & ~_UMASK)
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_atomic(obj: dict, path: str | os.PathLike) -> None:
    """Write ``obj`` with ``torch.save`` to ``path`` atomically."""
    with atomic_write(path) as handle:
        torch.save(obj, handle)


def load_checkpoint(path: str | os.PathLike, *, writer: str | None = None, map_location="cpu") -> dict:
    """Load a checkpoint dict (``weights_only=True``), naming the path and the remedy (the rule
    ``writer`` that writes the file, when given) when it is missing or corrupt."""
    path = Path(path)
    remedy = f"re-run the rule that writes it ({writer})" if writer else "re-run the rule that writes it"
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; {remedy}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises several types for truncated or foreign files
        # torch's own text stays in the chained traceback: for a corrupt file its advice (load
        # with weights_only=False) would mislead, so the message names only the error's type
        raise RuntimeError(
            f"checkpoint {path} is truncated or corrupt (torch.load raised {type(err).__name__}); "
            f"delete it and {remedy}"
        ) from err


def save_module(module: torch.nn.Module, kwargs: dict, path: str | os.PathLike) -> None:
    """Write ``{"kwargs": kwargs, "state_dict": ...}`` atomically to ``path`` (tensors on CPU): what
    :func:`load_module` rebuilds the module from."""
    state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
    save_atomic({"kwargs": dict(kwargs), "state_dict": state}, path)


def load_module(path: str | os.PathLike, build, *, what: str, writer: str, map_location="cpu"):
    """The module ``build(**kwargs)`` with the state of a file written by :func:`save_module`
    (``weights_only=True``), on ``map_location``, in eval mode. Raises RuntimeError naming the path,
    ``what`` it should hold and the rule ``writer`` that writes it when the file is corrupt or the
    keys are missing."""
    ckpt = load_checkpoint(path, writer=writer, map_location=map_location)
    if not isinstance(ckpt, dict) or "kwargs" not in ckpt or "state_dict" not in ckpt:
        raise RuntimeError(
            f"{path} is not {what} checkpoint (expected keys 'kwargs', 'state_dict'); re-run rule {writer}"
        )
    module = build(**ckpt["kwargs"])
    module.load_state_dict(ckpt["state_dict"])
    return module.to(map_location if not isinstance(map_location, dict) else "cpu").eval()


def fingerprint(*, config: dict, files: list = ()) -> str:
    """A short hash of a run's settings and input files' contents.

    Training stages resume from ``checkpoints/.../<fingerprint>/``, so a checkpoint is only ever resumed
    by a run with the same settings and the same inputs; a changed config or dataset starts afresh.
    """
    digest = hashlib.sha1(json.dumps(config, sort_keys=True, default=str).encode())
    for path in files:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:12]

"""Atomic checkpoint writing (temp file + rename) and loading with clear errors."""

import os
import tempfile
from pathlib import Path

import torch


def save_atomic(obj: dict, path: str | os.PathLike) -> None:
    """Write ``obj`` with ``torch.save`` to ``path`` atomically, so a killed job never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | os.PathLike, *, map_location="cpu", weights_only: bool = True) -> dict:
    """Load a checkpoint dict, naming the path and the remedy when it is missing or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; re-run the rule that writes it")
    try:
        return torch.load(path, map_location=map_location, weights_only=weights_only)
    except Exception as err:  # torch raises several types for truncated or foreign files
        raise RuntimeError(
            f"checkpoint {path} is truncated or corrupt ({type(err).__name__}: {err}); "
            "delete it and re-run the rule that writes it"
        ) from err

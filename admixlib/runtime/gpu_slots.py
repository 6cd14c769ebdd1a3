"""Distinct GPUs for concurrent local jobs.

Snakemake's ``--resources gpu=N`` bounds how many GPU jobs run at once but never says which card a job
should use, so without help every job lands on GPU 0. :func:`claim_gpu` gives a job the first card no
other job holds, by an exclusive ``flock`` on one file per card, and narrows ``CUDA_VISIBLE_DEVICES``
to it before torch initialises CUDA. The kernel drops a ``flock`` when its process dies, so a killed job
frees its card at once and no stale lock survives it.
"""

import fcntl
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import torch

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0  # how often a job waiting for a card tries again


def default_lock_dir() -> Path:
    """The lock folder the jobs that share cards share: one per user (another user's folder is not
    writable) and, inside a SLURM allocation, one per allocation, so jobs of one ``salloc`` take
    distinct cards while ``sbatch`` jobs on one node, each with its own cards, never wait on each other."""
    allocation = os.environ.get("SLURM_JOB_ID")
    name = f"admix-gpu-slots-{os.getuid()}" + (f"-slurm{allocation}" if allocation else "")
    return Path(tempfile.gettempdir()) / name


def visible_gpus(count: int | None = None) -> list[str]:
    """The GPU ids this process may use.

    ``CUDA_VISIBLE_DEVICES`` when it is set (the user's or a scheduler's choice), else ``0..count-1``;
    ``count=None`` asks ``nvidia-smi`` (no CUDA initialisation), and a machine without it has none.
    """
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [gpu.strip() for gpu in listed.split(",") if gpu.strip()]
    if count is None:
        count = _nvidia_smi_count()
    return [str(i) for i in range(count)]


def _nvidia_smi_count() -> int:
    if shutil.which("nvidia-smi") is None:
        return 0
    done = subprocess.run(["nvidia-smi", "--list-gpus"], capture_output=True, text=True, check=False)
    return sum(line.startswith("GPU ") for line in done.stdout.splitlines()) if done.returncode == 0 else 0


class GpuSlot:
    """A claimed card: ``gpu`` is its id; the lock holds until :meth:`release` or the process ends."""

    def __init__(self, gpu: str, handle):
        self.gpu, self._handle = gpu, handle

    def release(self) -> None:
        """Give the card back (closing the lock file drops the ``flock``)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def claim_gpu(*, gpus: list[str], lock_dir: str | os.PathLike | None = None) -> GpuSlot | None:
    """Claim the first of ``gpus`` that no other process holds (waiting while all are held) and set
    ``CUDA_VISIBLE_DEVICES`` to it; None, changing nothing, when ``gpus`` is empty. ``lock_dir``: None
    for :func:`default_lock_dir`. Raises RuntimeError when CUDA is already initialised."""
    if not gpus:
        return None
    if torch.cuda.is_initialized():
        raise RuntimeError(
            "claim_gpu must run before torch initialises CUDA; call it at the start of the job"
        )
    lock_dir = Path(lock_dir) if lock_dir is not None else default_lock_dir()
    lock_dir.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        for gpu in gpus:
            handle = open(lock_dir / f"gpu{gpu}.lock", "w")  # noqa: SIM115 (held open as the lock)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            os.environ["CUDA_VISIBLE_DEVICES"] = gpu
            log.info("claimed GPU %s (locks in %s)", gpu, lock_dir)
            return GpuSlot(gpu, handle)
        if not waited:
            log.warning("GPUs %s are all held by other jobs; waiting for one (locks in %s)", gpus, lock_dir)
            waited = True
        time.sleep(POLL_SECONDS)

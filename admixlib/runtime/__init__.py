"""Seeding, device choice, atomic checkpoints and logging set-up shared by every stage."""

from admixlib.runtime.checkpoint import fingerprint, load_checkpoint, save_atomic
from admixlib.runtime.device import resolve_device, set_threads
from admixlib.runtime.logs import setup_logging
from admixlib.runtime.seeding import seed_everything, set_torch_rng_state, torch_generator, torch_rng_state
from admixlib.runtime.stats import trim_stats

__all__ = [
    "fingerprint",
    "load_checkpoint",
    "resolve_device",
    "save_atomic",
    "seed_everything",
    "set_torch_rng_state",
    "set_threads",
    "setup_logging",
    "torch_generator",
    "torch_rng_state",
    "trim_stats",
]

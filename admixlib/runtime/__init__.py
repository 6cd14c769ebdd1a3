"""Seeding, device choice, GPU slots, atomic checkpoints, the resumable training state, provenance and logging shared by every stage."""

from admixlib.runtime.checkpoint import (
    atomic_write,
    fingerprint,
    load_checkpoint,
    load_module,
    save_atomic,
    save_module,
)
from admixlib.runtime.device import channels_last, configure_cpu, resolve_device, reuse_freed_memory
from admixlib.runtime.gpu_slots import claim_gpu, visible_gpus
from admixlib.runtime.logs import setup_logging
from admixlib.runtime.provenance import provenance_record, write_provenance
from admixlib.runtime.recipe import ConfigRecipe
from admixlib.runtime.seeding import (
    set_torch_rng_state,
    torch_generator,
    torch_rng_state,
    use_deterministic_algorithms,
)
from admixlib.runtime.training_state import (
    CHECKPOINT_NAME,
    RunFiles,
    TrainingState,
    training_module,
    trim_stats,
)

__all__ = [
    "atomic_write",
    "CHECKPOINT_NAME",
    "ConfigRecipe",
    "RunFiles",
    "TrainingState",
    "training_module",
    "channels_last",
    "configure_cpu",
    "claim_gpu",
    "fingerprint",
    "load_checkpoint",
    "load_module",
    "provenance_record",
    "resolve_device",
    "reuse_freed_memory",
    "save_atomic",
    "save_module",
    "set_torch_rng_state",
    "setup_logging",
    "torch_generator",
    "torch_rng_state",
    "trim_stats",
    "use_deterministic_algorithms",
    "visible_gpus",
    "write_provenance",
]

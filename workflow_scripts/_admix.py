"""Shared start-up of every rule script: make admixlib importable, log to the rule's log, set threads,
give a GPU job its own card; and the end of a table or figure rule: its provenance sidecar.

Snakemake puts this folder on ``sys.path`` when it runs a script, so ``import _admix`` works from every
rule, also inside a per-rule conda environment where admixlib is not installed.
"""

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from admixlib.runtime import (  # noqa: E402
    claim_gpu,
    configure_cpu,
    provenance_record,
    setup_logging,
    use_deterministic_algorithms,
    visible_gpus,
    write_provenance,
)
from admixlib.variants import base_name, gan_seed  # noqa: E402

_held = []  # the job's GPU slot: its lock lasts as long as the job's process
_started = []  # when start() ran, for the provenance's wall time


def start(snakemake):
    """Send logging and tracebacks to the rule's log, limit torch to the rule's threads, keep freed
    memory in the process (``reuse_freed_memory``), claim a card no other local job holds when the
    rule asks for a GPU, turn on deterministic algorithms (where CUDA is) unless
    ``compute.deterministic`` is false; return a logger."""
    _started.append(time.monotonic())
    logger = setup_logging(snakemake.log[0] if snakemake.log else None, capture_stderr=True)
    configure_cpu(snakemake.threads)
    logger.info("rule %s, wildcards %s", snakemake.rule, dict(snakemake.wildcards))
    # The lock files keep concurrent jobs on distinct cards; under SLURM each allocation has its own
    # (an sbatch job claims among the cards SLURM gave it, jobs inside one salloc share its cards).
    if snakemake.resources.get("gpu", 0) and snakemake.config["device"] != "cpu":
        _held.append(claim_gpu(gpus=visible_gpus()))
    use_deterministic_algorithms(snakemake.config["compute"].get("deterministic", True))
    return logger


def raw_dir(snakemake):
    """The folder a real dataset is read from: that of download_dataset's record (the rule's input), or
    the user's own folder (``data.source: dir``); None for generated data, which has no input."""
    if not len(snakemake.input):
        return None
    path = Path(snakemake.input[0])
    return str(path.parent if path.is_file() else path)


def finish(snakemake):
    """Write the provenance sidecar(s) named by the rule's ``provenance`` output: the git state, config
    hash, package versions, seeds and this job's wall time."""
    config, dataset = snakemake.config, snakemake.wildcards.get("dataset")
    seeds = {"run": config["run"]["seeds"]}
    if dataset is not None:
        seeds["data"] = config["datasets"][base_name(dataset)]["data"]["seed"]
        seeds["gan"] = gan_seed(config, dataset)
    sidecars = snakemake.output.provenance
    sidecars = [sidecars] if isinstance(sidecars, str) else list(sidecars)
    job = {
        "rule": snakemake.rule,
        "wildcards": dict(snakemake.wildcards),
        "inputs": list(snakemake.input),
        "outputs": [path for path in snakemake.output if path not in sidecars],
    }
    record = provenance_record(
        config=config, repo=REPO, seeds=seeds, wall_seconds=time.monotonic() - _started[0], job=job
    )
    for path in sidecars:
        write_provenance(record, path)

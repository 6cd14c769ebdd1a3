"""Provenance sidecars: how a table or figure was made (code version, config, packages, seeds, time)."""

import importlib.metadata
import json
import os
import platform
import subprocess
from datetime import UTC, datetime

from admixlib.runtime.checkpoint import atomic_write, fingerprint

PACKAGES = ("admixlib", "torch", "torchvision", "numpy", "pandas", "matplotlib", "seaborn", "snakemake")


def git_state(repo: str | os.PathLike) -> dict:
    """``{"commit", "dirty"}`` of the git checkout at ``repo``; both None outside a checkout."""

    def git(*args):
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def package_versions() -> dict:
    """Installed version of each package in ``PACKAGES`` (None when absent), plus Python's."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def provenance_record(
    *, config: dict, repo: str | os.PathLike, seeds: dict, wall_seconds: float, job: dict
) -> dict:
    """Everything needed to tell how an output was made: ``job`` (rule, wildcards, inputs), the git
    state of ``repo``, the config and its hash, package versions, the ``seeds`` behind the output and
    the job's wall time (``config_hash`` is the hash that names checkpoint folders)."""
    return {
        "job": job,
        "git": git_state(repo),
        "config_hash": fingerprint(config=config),  # equal hashes: equal settings
        "packages": package_versions(),
        "seeds": seeds,
        "wall_seconds": round(wall_seconds, 3),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "config": config,
    }


def write_provenance(record: dict, path: str | os.PathLike) -> None:
    """Write ``record`` as indented JSON to ``path`` atomically."""
    with atomic_write(path, "w") as handle:
        handle.write(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")

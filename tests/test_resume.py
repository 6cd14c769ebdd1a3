"""Nothing lost: a training job killed with SIGKILL resumes, and the workflow then writes the same
table, byte for byte, as a run that was never interrupted (which also proves CPU determinism)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
TARGET = "table_colored_digits"
TABLE = Path("results/tables/colored_digits.csv")
GAN_STATS = Path("results/colored_digits/stylegan/stats.jsonl")
GAN_STEPS = 300
# The test config, long enough to be killed in the middle; two methods keep the DAG short.
OVERRIDES = f"""
run: {{datasets: [colored_digits], methods: [nominal, advmix], seeds: [0]}}
sweeps: {{datasets: []}}
datasets: {{colored_digits: {{stylegan: {{steps: {GAN_STEPS}, sample_every: 100}}}}}}
compute: {{checkpoint_every: 20}}
"""


def _command(workdir: Path) -> list[str]:
    configs = [str(ROOT / "config" / "test.yaml"), str(workdir / "overrides.yaml")]
    return [
        *(sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir)),
        *(TARGET, "--cores", "2", "--resources", "gpu=2", "--configfile", *configs),
    ]


def _workdir(tmp_path: Path, name: str) -> Path:
    workdir = tmp_path / name
    workdir.mkdir()
    (workdir / "overrides.yaml").write_text(OVERRIDES)
    return workdir


def _job_pids(script: str, workdir: Path) -> list[int]:
    """Process ids of running rule scripts named ``script`` whose script copy lives in ``workdir``."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError):
            continue
        if script in cmdline and str(workdir) in cmdline:
            pids.append(int(entry.name))
    return pids


def _kill_gan_mid_training(workdir: Path, run: subprocess.Popen, timeout: float = 300) -> int:
    """Wait for the GAN's first checkpoint, SIGKILL the training job; return the checkpointed step."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and run.poll() is None:
        checkpoints = list((workdir / "checkpoints" / "colored_digits" / "stylegan").glob("*/latest.pt"))
        pids = _job_pids("train_stylegan.py", workdir)
        if checkpoints and pids:
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            return int(torch.load(checkpoints[0], map_location="cpu", weights_only=False)["step"])
        time.sleep(0.05)
    pytest.fail("the GAN never wrote a checkpoint while its job was running")


@pytest.mark.integration
def test_killed_training_resumes_to_identical_results(tmp_path):
    uninterrupted = _workdir(tmp_path, "uninterrupted")
    done = subprocess.run(_command(uninterrupted), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-5000:]

    killed = _workdir(tmp_path, "killed")
    run = subprocess.Popen(_command(killed), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    step = _kill_gan_mid_training(killed, run)
    output, _ = run.communicate(timeout=900)
    assert run.returncode != 0, "snakemake should report the killed job"
    assert 0 < step < GAN_STEPS, f"the job was killed after it finished (checkpoint at step {step})"
    assert not (killed / "results" / "colored_digits" / "stylegan" / "generator.pt").exists()
    done_before = killed / "results" / "colored_digits" / "data" / "train.pt"  # completed before the kill
    written = done_before.stat().st_mtime_ns

    again = subprocess.run(_command(killed), capture_output=True, text=True, timeout=900)  # the same command
    assert again.returncode == 0, again.stderr[-5000:]
    log = (killed / "logs" / "train_stylegan" / "colored_digits.log").read_text()
    assert "resumed GAN training from" in log and f"at step {step}" in log
    assert done_before.stat().st_mtime_ns == written, "a completed output was redone after the failure"
    assert (killed / TABLE).read_bytes() == (uninterrupted / TABLE).read_bytes(), (
        "a resumed run (or a second run) changed the table: training is not deterministic or resume lost state"
    )
    assert _gan_stats(killed) == _gan_stats(uninterrupted), (
        "the resumed GAN's stats file lost or changed lines"
    )


def _gan_stats(workdir: Path) -> list[dict]:
    """The GAN's stats lines without their timings (Snakemake deleted the file when the job failed)."""
    lines = (workdir / GAN_STATS).read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]

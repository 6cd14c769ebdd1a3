"""The workflow on a real SLURM cluster: tests/slurm/start_cluster.sh installs Debian's slurm-wlm and
munge and starts a one-node localhost cluster with a (fake) GRES gpu:2; config/test.yaml then runs
through profiles/slurm to a finished table, every job submitted with sbatch.

Run by ``make test-slurm`` (and .ci/run); needs root and apt-get, so it skips elsewhere.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
CLUSTER = ROOT / "tests" / "slurm"
# A short DAG of the test config: one dataset, two methods, one seed (the whole DAG takes ~10 minutes).
OVERRIDES = """
run: {datasets: [colored_digits], methods: [nominal, advmix], seeds: [0]}
sweeps: {datasets: []}
"""
# No accounting database on the test cluster: the plugin must poll squeue (sacct would hang).
NO_ACCOUNTING = ["--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "5"]

pytestmark = [pytest.mark.slurm, pytest.mark.integration]


@pytest.fixture(scope="module")
def cluster():
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("needs root and apt-get to install and start slurm-wlm")
    started = subprocess.run(["bash", str(CLUSTER / "start_cluster.sh")], capture_output=True, text=True)
    assert started.returncode == 0, started.stdout + started.stderr
    yield
    subprocess.run(["bash", str(CLUSTER / "stop_cluster.sh")], capture_output=True, check=False)


def test_test_config_runs_through_the_slurm_profile(cluster, tmp_path):
    (tmp_path / "overrides.yaml").write_text(OVERRIDES)
    configs = [str(ROOT / "config" / "test.yaml"), str(tmp_path / "overrides.yaml")]
    cmd = [
        *(sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path)),
        *("table_colored_digits", "--profile", str(ROOT / "profiles" / "slurm"), "--configfile", *configs),
        *NO_ACCOUNTING,
        *("--latency-wait", "5"),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    submitted = output.count("has been submitted with SLURM jobid")
    assert submitted >= 10, f"only {submitted} jobs went through sbatch"
    table = pd.read_csv(tmp_path / "results" / "tables" / "colored_digits.csv")
    assert set(table.method) == {"nominal", "advmix"}

"""Atomic checkpoints, clear errors on bad files, device choice, GPU slots, seeding."""

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from admixlib.runtime import (
    RunFiles,
    TrainingState,
    claim_gpu,
    load_checkpoint,
    provenance_record,
    resolve_device,
    save_atomic,
    trim_stats,
    visible_gpus,
    write_provenance,
)
from admixlib.runtime.gpu_slots import default_lock_dir
from admixlib.stylegan import load_generator


def test_atomic_round_trip(tmp_path):
    path = tmp_path / "sub" / "ckpt.pt"
    save_atomic({"step": 3, "w": torch.ones(2)}, path)
    blob = load_checkpoint(path)
    assert blob["step"] == 3 and torch.equal(blob["w"], torch.ones(2))
    assert [p.name for p in path.parent.iterdir()] == ["ckpt.pt"]  # no temp file left behind


def test_atomic_files_get_the_permissions_a_plain_open_would(tmp_path):
    save_atomic({"w": torch.ones(1)}, tmp_path / "ckpt.pt")
    (tmp_path / "plain").touch()
    assert (tmp_path / "ckpt.pt").stat().st_mode == (tmp_path / "plain").stat().st_mode  # not mkstemp's 0600


def test_truncated_checkpoint_names_path(tmp_path):
    path = tmp_path / "ckpt.pt"
    save_atomic({"w": torch.ones(1000)}, path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(RuntimeError, match="ckpt.pt"):
        load_checkpoint(path)


def test_a_corrupt_generator_file_names_the_rule_that_writes_it_and_no_misleading_advice(tmp_path):
    path = tmp_path / "generator.pt"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(RuntimeError, match=r"generator.pt is truncated or corrupt .*train_stylegan") as err:
        load_generator(path)
    assert "weights_only" not in str(err.value)  # torch's advice for untrusted files, wrong here
    torch.save({"images": torch.zeros(1)}, path)  # a torch file of another kind
    with pytest.raises(RuntimeError, match="not a generator checkpoint.*train_stylegan"):
        load_generator(path)


def test_missing_checkpoint_names_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_checkpoint(tmp_path / "nope.pt")


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu")


def test_torch_rng_state_loads_with_weights_only(tmp_path):
    from admixlib.runtime import set_torch_rng_state, torch_rng_state

    cpu = torch.device("cpu")
    save_atomic({"rng": torch_rng_state(cpu)}, tmp_path / "r.pt")
    expected = torch.rand(3)
    set_torch_rng_state(load_checkpoint(tmp_path / "r.pt")["rng"], cpu)
    assert torch.equal(torch.rand(3), expected)


def test_fingerprint_follows_config_and_file_contents(tmp_path):
    from admixlib.runtime import fingerprint

    data = tmp_path / "data.pt"
    data.write_bytes(b"abc")
    first = fingerprint(config={"steps": 3}, files=[data])
    assert first == fingerprint(config={"steps": 3}, files=[data])
    assert first != fingerprint(config={"steps": 4}, files=[data])
    data.write_bytes(b"abd")
    assert first != fingerprint(config={"steps": 3}, files=[data])


def test_logging_and_stderr_share_the_log(tmp_path):
    import logging
    import subprocess
    import sys

    log = tmp_path / "rule.log"
    code = (
        "import sys, logging; from admixlib.runtime import setup_logging;"
        f"setup_logging({str(log)!r}, capture_stderr=True); logging.getLogger('admix').info('first');"
        "print('to stderr', file=sys.stderr); logging.getLogger('admix').info('second'); raise SystemExit(1/0)"
    )
    subprocess.run([sys.executable, "-c", code], capture_output=True)
    text = log.read_text()
    for piece in ("first", "to stderr", "second", "ZeroDivisionError"):
        assert piece in text, text
    assert text.index("first") < text.index("to stderr") < text.index("second")
    logging.shutdown()


CLAIM = """
import sys
from admixlib.runtime import claim_gpu
slot = claim_gpu(gpus=sys.argv[2].split(","), lock_dir=sys.argv[1])
print(slot.gpu, flush=True)
sys.stdin.read()  # hold the card until the test closes stdin
"""


def _claimer(lock_dir, gpus):
    """A job in its own process that claims one of ``gpus`` (a faked GPU count) and holds it."""
    args = [sys.executable, "-c", CLAIM, str(lock_dir), gpus]
    return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def test_concurrent_jobs_get_distinct_gpus(tmp_path):
    first, second = _claimer(tmp_path, "0,1"), _claimer(tmp_path, "0,1")
    first_gpu, second_gpu = first.stdout.readline().strip(), second.stdout.readline().strip()
    assert {first_gpu, second_gpu} == {"0", "1"}
    third = _claimer(tmp_path, "0,1")  # both cards held: it waits
    time.sleep(1.0)
    assert third.poll() is None
    first.kill()  # a killed job frees its card: the kernel drops its lock
    first.wait()
    assert third.stdout.readline().strip() == first_gpu
    for proc in (second, third):
        proc.stdin.close()
        proc.wait()


def test_claim_narrows_cuda_visible_devices(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    gpus = visible_gpus()
    assert gpus == ["2", "3"]
    slot = claim_gpu(gpus=gpus, lock_dir=tmp_path)
    assert slot.gpu == "2" and os.environ["CUDA_VISIBLE_DEVICES"] == "2"
    again = claim_gpu(gpus=gpus, lock_dir=tmp_path)  # same process, other handle: the next card
    assert again.gpu == "3"
    slot.release()
    again.release()


def test_lock_folders_are_per_user_and_per_slurm_allocation(monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    local = default_lock_dir()
    assert local.name == f"admix-gpu-slots-{os.getuid()}"
    monkeypatch.setenv("SLURM_JOB_ID", "41")
    in_41 = default_lock_dir()
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    assert len({local, in_41, default_lock_dir()}) == 3  # sbatch jobs on one node never wait on each other


def test_no_gpus_claims_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert visible_gpus(count=0) == [] and visible_gpus(count=2) == ["0", "1"]
    assert claim_gpu(gpus=[], lock_dir=tmp_path) is None
    assert "CUDA_VISIBLE_DEVICES" not in os.environ


def test_provenance_names_commit_config_packages_and_seeds(tmp_path):
    repo = Path(__file__).resolve().parent.parent
    record = provenance_record(
        config={"a": 1}, repo=repo, seeds={"run": [0, 1]}, wall_seconds=1.23456, job={"rule": "table"}
    )
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert record["git"]["commit"] == (head.stdout.strip() or None)
    assert record["packages"]["torch"] == torch.__version__.split("+")[0]
    assert record["packages"]["admixlib"] is not None  # the library itself, installed by make setup
    assert record["seeds"] == {"run": [0, 1]} and record["wall_seconds"] == 1.235
    other = provenance_record(config={"a": 2}, repo=tmp_path, seeds={}, wall_seconds=0, job={})
    assert other["config_hash"] != record["config_hash"] and other["git"] == {"commit": None, "dirty": None}
    write_provenance(record, tmp_path / "out" / "t.provenance.json")
    assert json.loads((tmp_path / "out" / "t.provenance.json").read_text())["config"] == {"a": 1}


def _state(tmp_path, model, *, identity, on_mismatch="raise"):
    return TrainingState(
        RunFiles(tmp_path / "ckpt", tmp_path / "stats.jsonl", checkpoint_every=2, progress=False),
        stateful={"model": model},
        generators={"data": torch.Generator().manual_seed(0)}, values={"cursor": 0}, identity=identity,
        on_mismatch=on_mismatch,
    )  # fmt: skip


def test_training_state_resumes_everything_and_refuses_what_it_should(tmp_path):
    model = torch.nn.Linear(2, 2)
    state = _state(tmp_path, model, identity={"width": 2})
    assert not state.resume()
    for step in state.steps(3, desc="t"):
        state.write_stats({"step": step})
        state.values["cursor"] = step
        state.generators["data"].manual_seed(step)
    stats = (tmp_path / "stats.jsonl").read_text().splitlines()
    assert state.step == 3 and [json.loads(line)["step"] for line in stats] == [1, 2, 3]
    other = torch.nn.Linear(2, 2)
    again = _state(tmp_path, other, identity={"width": 2})
    assert again.resume() and again.step == 3 and again.values["cursor"] == 3
    assert torch.equal(other.weight, model.weight)
    assert torch.equal(again.generators["data"].get_state(), torch.Generator().manual_seed(3).get_state())
    with pytest.raises(RuntimeError, match="delete it"):
        _state(tmp_path, other, identity={"width": 3}).resume()
    restarted = _state(tmp_path, other, identity={"width": 3}, on_mismatch="restart")
    assert not restarted.resume() and restarted.step == 0
    assert (tmp_path / "stats.jsonl").read_text() == ""  # a fresh run starts its stats afresh
    torch.save({"step": 1}, state.path)  # a checkpoint of another layout
    with pytest.raises(RuntimeError, match="older admix"):
        _state(tmp_path, other, identity={"width": 2}).resume()


def test_a_resumed_run_gets_back_the_stats_lines_its_deleted_output_held(tmp_path):
    """Snakemake deletes a failed job's outputs, the stats file among them: the run resumed from the
    step-2 checkpoint writes lines 1-2 back from it and goes on, so the file matches an unbroken run's."""
    model = torch.nn.Linear(2, 2)
    state = _state(tmp_path, model, identity={"width": 2})
    state.resume()
    for step in state.steps(3, desc="t"):
        state.write_stats({"step": step})
        if step == 3:  # killed after the step-2 checkpoint, before step 3 is saved
            break
    (tmp_path / "stats.jsonl").unlink()
    again = _state(tmp_path, torch.nn.Linear(2, 2), identity={"width": 2})
    assert again.resume() and again.step == 2
    for step in again.steps(4, desc="t"):
        again.write_stats({"step": step})
    stats = (tmp_path / "stats.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in stats] == [1, 2, 3, 4]


def test_a_checkpoint_from_another_device_is_refused_by_name(tmp_path):
    """A CUDA generator's state cannot seed a CPU generator (torch fails with a size mismatch), so a
    checkpoint written with generators on another device is refused, or restarted, with a message."""
    model = torch.nn.Linear(2, 2)
    state = _state(tmp_path, model, identity={"width": 2})
    state.resume()
    for _ in state.steps(2, desc="t"):
        pass
    ckpt = torch.load(state.path, weights_only=True)
    assert ckpt["generator_devices"] == {"data": "cpu"}
    assert _state(tmp_path, torch.nn.Linear(2, 2), identity={"width": 2}).resume()
    torch.save({**ckpt, "generator_devices": {"data": "cuda"}}, state.path)  # as a GPU node writes it
    with pytest.raises(RuntimeError, match=r"random generators on \{'data': 'cuda'\}.*delete it"):
        _state(tmp_path, torch.nn.Linear(2, 2), identity={"width": 2}).resume()
    assert not _state(tmp_path, torch.nn.Linear(2, 2), identity={"width": 2}, on_mismatch="restart").resume()


def test_trim_stats_drops_the_steps_a_resumed_run_redoes(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps({"step": s}) + "\n" for s in range(1, 6)))
    trim_stats(path, 3)
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 2, 3]


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU machine gpu-check runs for real")
def test_gpu_check_stops_clearly_without_cuda():
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "gpu_check.py")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (
        done.returncode == 2
        and "gpu-check needs a CUDA GPU" in done.stderr
        and "nothing was run" in done.stderr
    )


FAULTS_AFTER_REPEATED_ALLOCATION = """
import resource, sys, torch
from admixlib.runtime import reuse_freed_memory
threshold = reuse_freed_memory() if sys.argv[1] == "reuse" else 0
for _ in range(10):  # 64 MiB blocks: above glibc's largest automatic mmap threshold (32 MiB)
    torch.ones(16 * 2**20).sum()  # the heap grows a few times, then holds enough free blocks
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    torch.ones(16 * 2**20).sum()
print(threshold, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _huge_pages_always() -> bool:
    """True where every large anonymous mapping is faulted in 2 MiB pages, so faults do not count pages."""
    setting = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    return setting.exists() and "[always]" in setting.read_text()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
@pytest.mark.skipif(_huge_pages_always(), reason="transparent huge pages hide the page count")
def test_reused_memory_is_not_mapped_and_faulted_in_again():
    def threshold_and_faults(mode):
        run = subprocess.run(
            [sys.executable, "-c", FAULTS_AFTER_REPEATED_ALLOCATION, mode],
            capture_output=True,
            text=True,
            check=True,
        )
        return [int(word) for word in run.stdout.split()]

    pages = 5 * 64 * 2**20 // 4096
    threshold, reused = threshold_and_faults("reuse")
    if threshold <= 64 * 2**20:
        pytest.skip(f"this glibc keeps only blocks below {threshold} bytes, not the test's 64 MiB")
    assert threshold_and_faults("default")[1] > 0.8 * pages  # each block mapped, zero-filled, unmapped
    assert reused < 0.4 * pages  # the heap's free blocks are reused

"""Atomic checkpoints, clear errors on bad files, device choice, seeding."""

import pytest
import torch

from admixlib.runtime import load_checkpoint, resolve_device, save_atomic, seed_everything


def test_atomic_round_trip(tmp_path):
    path = tmp_path / "sub" / "ckpt.pt"
    save_atomic({"step": 3, "w": torch.ones(2)}, path)
    blob = load_checkpoint(path)
    assert blob["step"] == 3 and torch.equal(blob["w"], torch.ones(2))
    assert [p.name for p in path.parent.iterdir()] == ["ckpt.pt"]  # no temp file left behind


def test_truncated_checkpoint_names_path(tmp_path):
    path = tmp_path / "ckpt.pt"
    save_atomic({"w": torch.ones(1000)}, path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(RuntimeError, match="ckpt.pt"):
        load_checkpoint(path)


def test_missing_checkpoint_names_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_checkpoint(tmp_path / "nope.pt")


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device"):
        resolve_device("tpu")


def test_seed_everything_repeats():
    seed_everything(7)
    a = torch.rand(3)
    seed_everything(7)
    assert torch.equal(a, torch.rand(3))


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

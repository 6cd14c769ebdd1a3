"""One resumable training state for every training loop (GAN, encoder, classifier).

A loop registers what it must get back after a kill: modules, optimisers and schedulers (anything
with ``state_dict``), its random generators, plain values (a data permutation, a cursor), the step and
the seconds spent. ``resume()`` restores all of them from ``latest.pt`` when it exists; ``save()``
writes them atomically. The JSON-lines stats file is kept in step with the checkpoint: each
checkpoint holds the stats lines written up to its step, and a resumed run writes them back (Snakemake
deletes a failed job's outputs, the stats file among them), so the file goes on from the checkpoint
without the lines of steps the run will redo; a fresh run starts it empty.
"""

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from admixlib.runtime.checkpoint import load_checkpoint, save_atomic
from admixlib.runtime.seeding import set_torch_rng_state, torch_rng_state

log = logging.getLogger("admix.runtime")

CHECKPOINT_NAME = "latest.pt"
FORMAT = 2  # checkpoints of the per-loop layouts before this one are refused with a clear error


@dataclass(frozen=True)
class RunFiles:
    """Where a training run writes, and how often: ``latest.pt`` in ``checkpoint_dir`` every
    ``checkpoint_every`` steps and at the end (None: nothing saved or resumed), a JSON line to
    ``stats_path`` every ``stats_every`` steps and at the end (None: no stats); ``progress``: a tqdm bar."""

    checkpoint_dir: str | os.PathLike | None = None
    stats_path: str | os.PathLike | None = None
    checkpoint_every: int = 500
    stats_every: int = 10
    progress: bool = True

    def __post_init__(self):
        if self.checkpoint_every < 1 or self.stats_every < 1:
            raise ValueError(
                f"need checkpoint_every >= 1 and stats_every >= 1, got {self.checkpoint_every}, {self.stats_every}"
            )

    def stats_due(self, step: int, total: int) -> bool:
        """Whether step ``step`` of ``total`` writes a stats line."""
        return step % self.stats_every == 0 or step == total


class TrainingState:
    """The state of one training run (written as :class:`RunFiles` says): ``stateful`` objects
    (name -> anything with ``state_dict``), ``generators`` (name -> ``torch.Generator``), plain
    ``values`` (read back from ``state.values``), the global torch RNG of the CPU and of ``device``.
    A checkpoint is resumed only when its ``identity`` (architectures, settings) matches; otherwise
    ``on_mismatch`` ``"raise"``s or ``"restart"``s (warns and trains from scratch)."""

    def __init__(
        self,
        files: RunFiles,
        *,
        device: str | torch.device = "cpu",
        stateful: dict,
        generators: dict,
        values: dict | None = None,
        identity: dict | None = None,
        on_mismatch: str = "raise",
    ):
        if on_mismatch not in ("raise", "restart"):
            raise ValueError(f"on_mismatch must be 'raise' or 'restart', got {on_mismatch!r}")
        self.files = files
        self.path = Path(files.checkpoint_dir) / CHECKPOINT_NAME if files.checkpoint_dir is not None else None
        self.stats_path = Path(files.stats_path) if files.stats_path is not None else None
        self.device = torch.device(device)
        self.stateful, self.generators = stateful, generators
        self.values = dict(values or {})
        self.identity = identity or {}
        self.on_mismatch = on_mismatch
        self.step, self.seconds = 0, 0.0
        self.bar, self._stats, self._t0 = None, None, time.perf_counter()

    def resume(self) -> bool:
        """Restore everything from the checkpoint if there is one; returns whether it did.

        Raises RuntimeError naming the file when it is of another format, or of another identity
        with ``on_mismatch="raise"``.
        """
        ckpt = self._load()
        if ckpt is None:
            self._reset_stats()
            return False
        for name, obj in self.stateful.items():
            obj.load_state_dict(ckpt["state"][name])
        for name, gen in self.generators.items():
            gen.set_state(ckpt["rng"][name].cpu())
        set_torch_rng_state(ckpt["rng"]["torch"], self.device)
        self.values.update(ckpt["values"])
        self.step, self.seconds = int(ckpt["step"]), float(ckpt["seconds"])
        if self.stats_path is not None:
            self._restore_stats(ckpt.get("stats"))
        return True

    def _restore_stats(self, text: str | None) -> None:
        """The stats file as it was at the checkpoint's step (a checkpoint written before checkpoints
        held their stats: the file on disk, its lines after that step dropped)."""
        if text is None:
            trim_stats(self.stats_path, self.step)
            return
        self.stats_path.parent.mkdir(parents=True, exist_ok=True)
        self.stats_path.write_text(text)

    def _load(self) -> dict | None:
        if self.path is None or not self.path.is_file():
            return None
        # on the CPU: the models and optimisers copy their states to their own device, and the plain
        # values (a data order indexing CPU tensors) stay where this run made them
        ckpt = load_checkpoint(self.path, map_location="cpu")
        if ckpt.get("format") != FORMAT:
            raise RuntimeError(f"{self.path} was written by an older admix; delete it to train from scratch")
        devices = self._generator_devices()
        written = ckpt.get("generator_devices", devices)  # older checkpoints did not record them
        reasons = []
        if ckpt["identity"] != self.identity:
            reasons.append(f"for {ckpt['identity']}, not {self.identity}")
        if written != devices:  # a CUDA generator's state cannot seed a CPU one, nor the reverse
            reasons.append(f"with random generators on {written}, this run's are on {devices}")
        if not reasons:
            return ckpt
        message = f"{self.path} was written " + " and ".join(reasons)
        if self.on_mismatch == "raise":
            raise RuntimeError(f"{message}; delete it to train from scratch")
        log.warning("%s; training from scratch", message)
        return None

    def save(self) -> None:
        """Write the checkpoint, with the stats lines so far, atomically (nothing when
        ``checkpoint_dir`` is None)."""
        if self.path is None:
            return
        rng = {name: gen.get_state() for name, gen in self.generators.items()}
        rng["torch"] = torch_rng_state(self.device)
        state = {name: obj.state_dict() for name, obj in self.stateful.items()}
        record = dict(format=FORMAT, identity=self.identity, state=state, rng=rng, values=self.values)
        record["generator_devices"] = self._generator_devices()
        stats = (
            self.stats_path.read_text() if self.stats_path is not None and self.stats_path.is_file() else None
        )
        save_atomic({**record, "step": self.step, "seconds": self.seconds, "stats": stats}, self.path)

    def _generator_devices(self) -> dict:
        return {name: gen.device.type for name, gen in self.generators.items()}

    def _reset_stats(self) -> None:
        if self.stats_path is not None:
            self.stats_path.parent.mkdir(parents=True, exist_ok=True)
            self.stats_path.write_text("")

    def steps(self, total: int, *, desc: str):
        """Iterate over the steps left up to ``total``, yielding each one's number (from 1).

        After the loop body has done a step, the state counts it, adds its seconds, advances the
        progress bar (``self.bar``) and, every ``files.checkpoint_every`` steps and at ``total``, saves.
        Inside the loop :meth:`write_stats` appends to the stats file and :meth:`elapsed` gives the
        seconds of the whole run so far.
        """
        self._t0 = time.perf_counter() - self.seconds
        bar_off = not self.files.progress
        self.bar = tqdm(total=total, initial=self.step, disable=bar_off, desc=desc, dynamic_ncols=True)
        self._stats = self.stats_path.open("a") if self.stats_path is not None else None
        try:
            while self.step < total:
                yield self.step + 1
                self.step += 1
                self.seconds = self.elapsed()
                self.bar.update(1)
                if self.step % self.files.checkpoint_every == 0 or self.step == total:
                    self.save()
                    log.info("step %d: checkpoint written, %.1f s so far", self.step, self.seconds)
        finally:
            self.bar.close()
            if self._stats is not None:
                self._stats.close()

    def elapsed(self) -> float:
        """Seconds of training so far, resumed runs included (inside :meth:`steps`)."""
        return time.perf_counter() - self._t0

    def write_stats(self, row: dict) -> None:
        """Append ``row`` as one JSON line to the stats file and flush (inside :meth:`steps`)."""
        if self._stats is not None:
            self._stats.write(json.dumps(row) + "\n")
            self._stats.flush()


def trim_stats(stats_path: str | os.PathLike, last_step: int) -> None:
    """Drop the stats lines of steps after ``last_step`` (a killed run's tail, redone after resuming)."""
    stats_path = Path(stats_path)
    if not stats_path.is_file():
        return
    lines = stats_path.read_text().splitlines()
    keep = [line for line in lines if line and json.loads(line)["step"] <= last_step]
    stats_path.write_text("".join(line + "\n" for line in keep))


def training_module(ckpt: dict, name: str) -> dict | None:
    """``{"kwargs", "state_dict"}`` of module ``name`` in a loaded training checkpoint written by
    :class:`TrainingState` (its kwargs are the identity entry ``{name}_kwargs``), the layout the
    networks' ``save_*`` functions write; None when ``ckpt`` is no such checkpoint."""
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT or name not in ckpt.get("state", {}):
        return None
    return {"kwargs": ckpt["identity"][f"{name}_kwargs"], "state_dict": ckpt["state"][name]}

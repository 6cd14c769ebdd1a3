"""`make gpu-check`: is this machine's GPU path right and fast? About 5-8 minutes on one GPU.

    python benchmarks/gpu_check.py [--steps 30] [--skip-workflow]

1. the CUDA unit tests (tests/test_cuda.py: every trainer on CUDA against the same computation on CPU);
2. seconds per step of the paper configs' GAN (config/celeba.yaml's architecture, 64x64) and of the
   classifier, with bf16 autocast off and on, and the GPU-hours their configured steps imply;
3. determinism: two short GAN runs with deterministic kernels give the same weights;
4. the slot allocator on the real cards: concurrent claims get distinct cards;
5. the test config end to end on CUDA (snakemake, in a temporary folder).
Writes results/benchmarks/gpu_check.json. On a machine without CUDA it stops at once with exit code 2.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml
from scaling import mean_step

from admixlib.classify import ClassifierRecipe, train_classifier
from admixlib.runtime import RunFiles, use_deterministic_algorithms, visible_gpus
from admixlib.stylegan import ARCH_KEYS, GanRecipe, train_generator

ROOT = Path(__file__).resolve().parent.parent
WARMUP = 5


def _config(name: str) -> dict:
    return yaml.safe_load((ROOT / "config" / name).read_text())


def gan_seconds_per_step(cfg: dict, *, steps: int, bf16: bool, folder: Path, device: str = "cuda") -> float:
    """Train the config's GAN for ``steps`` on random images at its resolution; seconds per step."""
    res = cfg["data"]["resolution"]
    images = torch.rand(512, 3, res, res) * 2 - 1
    recipe = GanRecipe.from_config({**cfg["stylegan"], "bf16": bf16})
    stats = folder / f"gan_{bf16}.jsonl"
    train_generator(
        images, generator_kwargs={k: cfg["stylegan"][k] for k in ARCH_KEYS if k in cfg["stylegan"]} | {"resolution": res},
        steps=steps, recipe=recipe, device=device, seed=0,
        files=RunFiles(folder / f"gan_{bf16}", stats, checkpoint_every=10**9, stats_every=1, progress=False),
    )  # fmt: skip
    return mean_step(stats, warmup=WARMUP)  # GAN stats: seconds so far, one line per step


def classifier_seconds_per_step(
    cfg: dict, classifier: dict, *, steps: int, bf16: bool, folder: Path, device: str = "cuda"
) -> float:
    """Train the nominal classifier of ``classifier`` (config block) on random images; seconds per step."""
    res = cfg["data"]["resolution"]
    stats = folder / f"clf_{bf16}.jsonl"
    train_classifier(
        images=torch.rand(1024, 3, res, res) * 2 - 1, labels=torch.randint(0, 2, (1024,)), num_classes=2,
        steps=steps, recipe=ClassifierRecipe.from_config({**classifier, "bf16": bf16}), device=device,
        seed=0, files=RunFiles(folder / f"clf_{bf16}", stats, progress=False),
    )  # fmt: skip
    return mean_step(stats, warmup=WARMUP, cumulative=False)  # classifier stats: each step's own


def deterministic_gan_runs_agree(folder: Path, device: str = "cuda") -> bool:
    """Two 6-step GAN runs with deterministic kernels: identical generator weights?"""
    use_deterministic_algorithms(True)
    weights = []
    for run in ("a", "b"):
        G = train_generator(
            torch.rand(64, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1,
            generator_kwargs=dict(z_dim=32, w_dim=32, mapping_layers=2, resolution=16, channels={4: 64, 8: 64, 16: 32}),
            steps=6, recipe=GanRecipe(batch_size=16), device=device, seed=0,
            files=RunFiles(folder / f"det_{run}", folder / f"det_{run}.jsonl", progress=False),
        )  # fmt: skip
        weights.append(torch.cat([p.detach().flatten().cpu() for p in G.parameters()]))
    return bool(torch.equal(*weights))


def slots_are_distinct() -> dict:
    """Claim a card in as many child processes as there are cards, at once: all distinct?"""
    cards = visible_gpus()
    code = (
        "import os, time; from admixlib.runtime import claim_gpu, visible_gpus;"
        "s = claim_gpu(gpus=visible_gpus()); print(os.environ['CUDA_VISIBLE_DEVICES'], flush=True); time.sleep(3)"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        for _ in cards
    ]
    got = [p.communicate(timeout=120)[0].strip() for p in procs]
    return {"cards": cards, "claimed": got, "distinct": len(set(got)) == len(got)}


def workflow_on_cuda(gpus: int) -> dict:
    """The test config's whole DAG on CUDA in a temporary folder: exit code and wall seconds."""
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", tmp, "all",
            "--cores", "8", "--resources", f"gpu={gpus}", "--configfile", str(ROOT / "config" / "test.yaml"),
            "--config", "device=cuda",
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        print(done.stderr[-3000:], file=sys.stderr)
    return {"returncode": done.returncode, "seconds": round(time.monotonic() - start, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=30, help="timed steps per setting (after 5 warm-up)")
    parser.add_argument("--skip-workflow", action="store_true", help="leave out the end-to-end run")
    args = parser.parse_args()
    # cuBLAS reads this once, when it starts (at the first timed run): set it before any CUDA call, so
    # that the deterministic runs at the end get deterministic matrix products too
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if not torch.cuda.is_available():
        print(f"gpu-check needs a CUDA GPU: torch {torch.__version__} sees none "
              f"(built for CUDA {torch.version.cuda}); nothing was run", file=sys.stderr)  # fmt: skip
        return 2
    report = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "cards": visible_gpus()}
    report["unit_tests"] = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "tests/test_cuda.py"], cwd=ROOT
    ).returncode
    use_deterministic_algorithms(False)  # the paper configs' speed setting
    default = _config("config.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        for name, dataset in (("celeba.yaml", "celeba"), ("mnist.yaml", "colored_mnist")):
            overlay = _config(name)
            cfg = overlay["datasets"][dataset]
            classifier = {**default["classifier"], **overlay.get("classifier", {})}
            for bf16 in (False, True):
                folder = Path(tmp) / f"{dataset}_{bf16}"
                folder.mkdir()
                gan = gan_seconds_per_step(cfg, steps=args.steps + WARMUP, bf16=bf16, folder=folder)
                clf = classifier_seconds_per_step(
                    cfg, classifier, steps=args.steps + WARMUP, bf16=bf16, folder=folder
                )
                report[f"{dataset}_bf16_{bf16}"] = {
                    "gan_seconds_per_step": gan,
                    "classifier_seconds_per_step": clf,
                    "gan_gpu_hours": gan * cfg["stylegan"]["steps"] / 3600,
                    "classifier_gpu_hours": clf * classifier["steps"] / 3600,
                }
                print(name, "bf16" if bf16 else "fp32", report[f"{dataset}_bf16_{bf16}"], flush=True)
        report["deterministic_runs_agree"] = deterministic_gan_runs_agree(Path(tmp))
    report["slots"] = slots_are_distinct()
    if not args.skip_workflow:
        report["workflow"] = workflow_on_cuda(len(report["cards"]))
    out = ROOT / "results" / "benchmarks" / "gpu_check.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps(report, indent=1))
    failed = report["unit_tests"] or not report["deterministic_runs_agree"] or not report["slots"]["distinct"]
    return int(bool(failed or report.get("workflow", {}).get("returncode")))


if __name__ == "__main__":
    sys.exit(main())

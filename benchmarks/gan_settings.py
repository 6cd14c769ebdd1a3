"""Generator settings against the sample-side targets: label kept, nuisances moved, marginal gap.

    python benchmarks/gan_settings.py [--dataset faces] --set KEY=VALUE [--set KEY=VALUE ...]
                                      [--name gan_settings] [--threads 2] [--unbiased]
                                      [--smile LOW HIGH --frown LOW HIGH]
                                      [--resolution R] [--split-index K] [--keep]

Trains the dataset's configured generator once per combination of the ``--set`` values (same
training images, oracle and seed as the default run's, read from its ``results/{dataset}``) and
scores whole-style mixing at the configured k on 256 generator-sample pairs with the default run's
oracle: label kept, the share of pairs each nuisance follows the donor
(``admixlib.analysis.mixing_scores``), the marginal gap to the training images on the 256 sources
(``marginal_gap_max``, per factor ``gap_{factor}``; ``generator.json`` read it so until it moved to
``analysis.marginal_samples``) and on that many separate samples (``marginal_gap_max_2048`` with
the default 2,048, as ``generator.json`` now does; per factor ``gap_{factor}_2048``), and the palette head's blend (the mean share of
a pixel outside its main region; 0 = hard regions). ``KEY`` is any ``stylegan`` key, or ``seed``
(the GAN's seed); ``VALUE`` is YAML. Repeat a key to sweep it; several keys give their product, e.g.
``--set palette_sharpness=0 --set palette_sharpness=1 --set lr_d=0.001``. No channel mask: choosing
one needs inverted training images for each generator. About 4 minutes per generator on 2 CPU
cores. Writes results/benchmarks/{name}_{dataset}.csv, and the training monitor of every generator
(the ``oracle_*`` columns of ``stats.jsonl``, every ``sample_every`` steps) to
{name}_{dataset}_monitor.csv.

``--unbiased`` trains every generator on an unbiased training split instead (``build_dataset`` with
``bias=None``: the same size, kind and seed, every factor independent); the marginal gap is then
measured against it.

``--smile``/``--frown`` (faces only) redraw the faces with other mouth-corner heights (32-px units;
default 1.0 2.5 and -2.0 -0.5, ``admixlib.data.faces``), as ``benchmarks/shortcut.py`` does: the
training split and a fresh oracle (trained on a fresh oracle split, as rule ``train_oracle`` does)
are made under a temporary folder, so the default run's files are not touched. ``--resolution``
redraws the data the same way at another resolution (give ``--set channels=...`` an entry for it),
and ``--split-index`` mixes at another k (a 32-px generator has two more styles than a 16-px one).
``--keep`` keeps each trained generator as ``results/benchmarks/{name}_{dataset}_G{i}.pt`` (i: the
setting's row in the CSV), for a closer look; ``--rescore`` (same arguments) scores those kept
generators again instead of training, rewriting the CSV and leaving the monitor's.
"""

import argparse
import itertools
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import torch
import yaml

from admixlib.analysis import load_oracle, marginal_gap, mixing_scores, read_factors, sample_pairs
from admixlib.analysis.fidelity import generator_samples
from admixlib.data import build_dataset, faces, load_split
from admixlib.runtime import set_threads
from admixlib.stages.analysis import train_oracle_stage
from admixlib.stages.generator import train_stylegan_stage
from admixlib.stylegan import load_generator


def score(generator_path, oracle, train, *, split_index: int, marginal_samples: int) -> dict:
    """Whole-style mixing scores at ``split_index`` on 256 sample pairs, and the marginal gap on their
    sources and on ``marginal_samples`` separate samples."""
    G = load_generator(generator_path)
    names, label = list(train.meta["factor_names"]), train.meta["label_name"]
    source, donor = sample_pairs(G, 256, seed=0)
    scores = mixing_scores(
        G,
        oracle,
        split_index=split_index,
        source_ws=source,
        donor_ws=donor,
        factor_names=names,
        label_name=label,
    )
    data = read_factors(oracle, train.images)
    many = read_factors(oracle, generator_samples(G, marginal_samples, seed=4))  # as generator.json
    with torch.no_grad():
        samples = read_factors(oracle, G.synthesis(source).clamp(-1, 1))
    head = getattr(G.synthesis, "palette", None)
    return {
        "label_kept": scores["label_kept"],
        **scores["nuisance_moved"],
        "marginal_gap_max": marginal_gap(samples, data, names),
        f"marginal_gap_max_{marginal_samples}": marginal_gap(many, data, names),
        **{f"gap_{f}": marginal_gap(samples, data, [f]) for f in names},
        **{f"gap_{f}_{marginal_samples}": marginal_gap(many, data, [f]) for f in names},
        f"{label}_share_samples": float((samples[label] == 1).mean()),
        # mean share of a pixel outside its main palette region: 0 = hard regions
        "palette_blend": float(head.last_blend) if head is not None else float("nan"),
    }


def parse_settings(pairs: list[str], allowed: set[str]) -> list[dict]:
    """``["k=v1", "k=v2", "j=w"]`` -> ``[{k: v1, j: w}, {k: v2, j: w}]`` (values parsed as YAML)."""
    values: dict[str, list] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or key not in allowed:
            raise SystemExit(f"--set {pair!r}: expected KEY=VALUE with KEY one of {sorted(allowed)}")
        values.setdefault(key, []).append(yaml.safe_load(text))
    return [dict(zip(values, combo, strict=True)) for combo in itertools.product(*values.values())]


def _label(setting: dict) -> dict:
    """``setting`` with every non-scalar value (e.g. ``channels``) as its YAML flow text, for CSVs."""
    return {
        k: v if isinstance(v, int | float | str) else yaml.safe_dump(v, default_flow_style=True).strip()
        for k, v in setting.items()
    }


def write_splits(
    data_cfg: dict, folder: Path, *, splits: tuple[str, ...], unbiased: bool, n_oracle: int
) -> None:
    """Write ``splits`` of the configured data set under ``folder`` (same kind, sizes, seed); with
    ``unbiased`` the training split has every factor independent."""
    build_dataset(
        data_cfg["kind"],
        outputs={split: (folder / f"{split}.pt", folder / f"{split}_factors.csv") for split in splits},
        sizes={**{key: data_cfg[key] for key in ("n_train", "n_val", "n_test")}, "n_oracle": n_oracle},
        bias=None if unbiased else data_cfg["bias"],
        spurious_factor=None if unbiased else data_cfg["spurious_factor"],
        seed=data_cfg["seed"],
        resolution=data_cfg["resolution"],
    )


def redrawn_data(block: dict, folder: Path, *, smile=None, frown=None, unbiased: bool) -> tuple[Path, Path]:
    """The configured data (faces with mouth corners ``smile``/``frown``, each (low, high), when
    given): write the training, val and oracle splits under ``folder`` and train an oracle on them.
    Returns (train .pt, oracle .pt)."""
    saved = faces.SMILE_DEPTH, faces.FROWN_DEPTH
    if smile is not None:
        faces.SMILE_DEPTH, faces.FROWN_DEPTH = tuple(smile), tuple(frown)
    try:
        splits = ("train", "val", "oracle")
        write_splits(
            block["data"], folder, splits=splits, unbiased=unbiased, n_oracle=block["oracle"]["n_images"]
        )
    finally:
        faces.SMILE_DEPTH, faces.FROWN_DEPTH = saved
    train_oracle_stage(
        oracle_split_path=folder / "oracle.pt", val_path=folder / "val.pt", oracle_path=folder / "oracle_model.pt",
        metrics_path=folder / "oracle.json", cfg=block["oracle"], device="cpu", seed=block["data"]["seed"],
    )  # fmt: skip
    print("oracle on the redrawn data:", (folder / "oracle.json").read_text(), flush=True)
    return folder / "train.pt", folder / "oracle_model.pt"


def train_and_score(
    train_path: Path,
    oracle_path: Path,
    block: dict,
    setting: dict,
    oracle,
    train,
    *,
    marginal_samples: int,
    keep: Path | None = None,
) -> tuple[dict, pd.DataFrame]:
    """Train one generator on ``train_path`` with ``setting`` over the configured ``stylegan`` block;
    score it (and copy its weights to ``keep`` when given). Returns (scores row, monitor rows)."""
    cfg = {**block["stylegan"], **{k: v for k, v in setting.items() if k != "seed"}}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        train_stylegan_stage(
            train_path=train_path, oracle_path=oracle_path,
            generator_path=out / "G.pt", discriminator_path=out / "D.pt", samples_path=out / "samples.png",
            stats_path=out / "stats.jsonl", cfg=cfg, split_index=block["mixing"]["split_index"],
            checkpoint_dir=out / "ckpt", checkpoint_every=500, device="cpu",
            seed=setting.get("seed", block["data"]["seed"]),
        )  # fmt: skip
        stats = pd.read_json(out / "stats.jsonl", lines=True).dropna(subset=["oracle_feature_distance"])
        monitor = stats.filter(regex="^(step|oracle_.*)$").assign(**_label(setting))
        scores = score(
            out / "G.pt",
            oracle,
            train,
            split_index=block["mixing"]["split_index"],
            marginal_samples=marginal_samples,
        )
        if keep is not None:
            shutil.copyfile(out / "G.pt", keep)
    return {**_label(setting), "steps": cfg["steps"], **scores}, monitor


def rescore(
    kept: Path, block: dict, setting: dict, oracle, train, *, marginal_samples: int
) -> tuple[dict, None]:
    """Score the generator kept at ``kept`` again, as :func:`train_and_score` scores a new one.
    Returns (scores row, None): there is no training monitor to repeat."""
    if not kept.is_file():
        raise SystemExit(f"--rescore: {kept} is missing (run with --keep first)")
    steps = {**block["stylegan"], **setting}["steps"]
    split = block["mixing"]["split_index"]
    scores = score(kept, oracle, train, split_index=split, marginal_samples=marginal_samples)
    return {**_label(setting), "steps": steps, **scores}, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--results", default="results")
    parser.add_argument("--dataset", default="faces")
    parser.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--name", default="gan_settings", help="file-name stem of the CSVs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--unbiased", action="store_true", help="train on an unbiased training split")
    parser.add_argument("--smile", type=float, nargs=2, metavar=("LOW", "HIGH"), help="faces: smile corners")
    parser.add_argument("--frown", type=float, nargs=2, metavar=("LOW", "HIGH"), help="faces: frown corners")
    parser.add_argument("--resolution", type=int, help="redraw the data at this resolution")
    parser.add_argument("--split-index", type=int, help="mix at this k instead of the configured one")
    parser.add_argument("--keep", action="store_true", help="keep each generator: {name}_{dataset}_G{i}.pt")
    parser.add_argument("--rescore", action="store_true", help="score the kept generators again, train none")
    args = parser.parse_args()
    set_threads(args.threads)
    config = yaml.safe_load(Path(args.config).read_text())
    block, marginal_samples = config["datasets"][args.dataset], config["analysis"]["marginal_samples"]
    if args.resolution:
        block["data"]["resolution"] = args.resolution
    if args.split_index:
        block["mixing"]["split_index"] = args.split_index
    settings = parse_settings(args.settings, {*block["stylegan"], "seed"}) or [{}]
    if (args.smile is None) != (args.frown is None) or (args.smile and block["data"]["kind"] != "faces"):
        raise SystemExit("--smile and --frown go together, and only with procedural faces")
    root = Path(args.results) / args.dataset
    train_path, oracle_path = root / "data" / "train.pt", root / "oracle" / "oracle.pt"
    rows, monitor = [], []
    out = Path(args.results) / "benchmarks" / f"{args.name}_{args.dataset}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.smile or args.resolution:
            redrawn = redrawn_data(
                block, Path(tmp), smile=args.smile, frown=args.frown, unbiased=args.unbiased
            )
            train_path, oracle_path = redrawn
        elif args.unbiased:
            write_splits(block["data"], Path(tmp), splits=("train",), unbiased=True, n_oracle=0)
            train_path = Path(tmp) / "train.pt"
        train, oracle = load_split(train_path), load_oracle(oracle_path)
        for i, setting in enumerate(settings):
            keep = out.with_name(f"{out.stem}_G{i}.pt") if args.keep or args.rescore else None
            if args.rescore:
                row, trajectory = rescore(
                    keep, block, setting, oracle, train, marginal_samples=marginal_samples
                )
            else:
                row, trajectory = train_and_score(
                    train_path,
                    oracle_path,
                    block,
                    setting,
                    oracle,
                    train,
                    marginal_samples=marginal_samples,
                    keep=keep,
                )
            rows.append(
                {**row, "unbiased": args.unbiased, "smile": args.smile, "frown": args.frown}
                | {"resolution": block["data"]["resolution"], "split_index": block["mixing"]["split_index"]}
            )
            monitor += [trajectory] if trajectory is not None else []
            print(pd.DataFrame(rows).to_string(index=False, float_format=lambda x: f"{x:.3f}"), flush=True)
    pd.DataFrame(rows).to_csv(out, index=False, float_format="%.4g")
    if monitor:  # a rescore keeps the training monitor it cannot repeat
        pd.concat(monitor).to_csv(out.with_name(f"{out.stem}_monitor.csv"), index=False, float_format="%.4g")


if __name__ == "__main__":
    main()

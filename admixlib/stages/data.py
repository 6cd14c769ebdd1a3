"""Rules make_dataset and download_dataset."""

import logging

from admixlib.data import build_dataset
from admixlib.data import download_dataset as fetch_files

log = logging.getLogger("admix.stages")


def make_dataset(*, data_cfg: dict, split_paths: dict, factor_paths: dict, raw_dir: str | None) -> dict:
    """Write every split of a dataset: ``split_paths[split]`` (.pt) and ``factor_paths[split]`` (.csv)."""
    sizes = {
        key: data_cfg[key] for key in ("n_train", "n_val", "n_test", "n_oracle", "n_pool") if key in data_cfg
    }
    outputs = {split: (split_paths[split], factor_paths[split]) for split in split_paths}
    summary = build_dataset(
        data_cfg["kind"],
        outputs=outputs,
        sizes=sizes,
        bias=data_cfg["bias"],
        spurious_factor=data_cfg["spurious_factor"],
        seed=data_cfg["seed"],
        resolution=data_cfg["resolution"],
        raw_dir=raw_dir,
        **{key: data_cfg[key] for key in ("label_attr", "nuisance_attrs") if key in data_cfg},
    )
    log.info("dataset written: %s", summary)
    return summary


DOWNLOAD_KINDS = {"celeba": "celeba", "colored_mnist": "mnist"}


def download_dataset(*, kind: str, files: list[dict], raw_dir: str) -> None:
    """Fetch ``files`` (url, md5, filename) of dataset ``kind`` into ``raw_dir``, verifying checksums."""
    if kind not in DOWNLOAD_KINDS:
        raise ValueError(
            f"dataset kind {kind!r} is generated, not downloaded; downloadable: {list(DOWNLOAD_KINDS)}"
        )
    paths = fetch_files(DOWNLOAD_KINDS[kind], files=files, raw_dir=raw_dir)
    log.info("downloaded and verified %d files into %s", len(paths), raw_dir)

"""Download, extraction and real-data readers against a local HTTP server with tiny fake archives."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from fake_data import CELEBA_ROWS, N_MNIST, QuietHandler, file_entries, serve, write_celeba, write_mnist

from admixlib.data import build_dataset, download, download_dataset, load_split, read_mnist
from admixlib.data.real import celeba_table, load_celeba_images

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Serve a folder of fake CelebA/MNIST files on 127.0.0.1; yields (base url, folder, file lists)."""
    folder = tmp_path_factory.mktemp("served")
    names = {"celeba": write_celeba(folder), "mnist": write_mnist(folder)}
    (folder / "quota.html").write_text("<html><body>Google Drive: download quota exceeded</body></html>\n")
    with serve(folder) as base:
        yield base, folder, {kind: file_entries(folder, n, base) for kind, n in names.items()}


@pytest.fixture(scope="module")
def raw_dir(server, tmp_path_factory):
    """A raw folder with both data sets downloaded through ``download_dataset``."""
    _, _, files = server
    raw = tmp_path_factory.mktemp("raw")
    for kind in ("celeba", "mnist"):
        paths = download_dataset(kind, files=files[kind], raw_dir=raw, progress=False)
        assert [p.name for p in paths] == [f["filename"] for f in files[kind]]
    return raw


def test_download_dataset_layout(raw_dir):
    assert len(list((raw_dir / "celeba" / "img_align_celeba").glob("*.jpg"))) == len(CELEBA_ROWS)
    assert (raw_dir / "celeba" / "list_attr_celeba.txt").is_file()
    assert (raw_dir / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()


def test_download_skips_a_verified_file(server, raw_dir):
    base, _, files = server
    entry = files["mnist"][0]
    before = len(QuietHandler.requests)
    download(
        entry["url"], dest=raw_dir / "MNIST" / "raw" / entry["filename"], md5=entry["md5"], progress=False
    )
    assert len(QuietHandler.requests) == before


def test_wrong_md5_keeps_nothing_fetched_and_names_the_file(server, tmp_path):
    base, _, files = server
    entry = files["celeba"][1]
    dest = tmp_path / "list_attr_celeba.txt"
    with pytest.raises(RuntimeError, match=rf"{dest}.*expected 0+.*got {entry['md5']}"):
        download(entry["url"], dest=dest, md5="0" * 32, progress=False)
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temp file left behind
    dest.write_text("a copy placed by hand\n")  # an earlier copy is not lost to a failed fetch
    with pytest.raises(RuntimeError, match="md5 mismatch"):
        download(entry["url"], dest=dest, md5="0" * 32, progress=False)
    assert dest.read_text() == "a copy placed by hand\n" and list(tmp_path.iterdir()) == [dest]


def test_an_html_page_in_place_of_a_file_is_refused(server, tmp_path):
    base, _, _ = server
    dest = tmp_path / "img_align_celeba.zip"
    dest.write_bytes(b"partial copy")
    with pytest.raises(RuntimeError, match="HTML page instead of img_align_celeba.zip.*by hand"):
        download(base + "quota.html", dest=dest, md5="0" * 32, progress=False)
    assert dest.read_bytes() == b"partial copy" and list(tmp_path.iterdir()) == [dest]


def test_read_celeba(raw_dir):
    factors = celeba_table(raw_dir, split="train", nuisance_attrs=["Male", "Young"])
    images = load_celeba_images(raw_dir, list(factors.index), resolution=32)
    expected = [(s, m) for p, s, m in CELEBA_ROWS if p == 0]
    assert images.shape == (len(expected), 3, 32, 32) and images.dtype == torch.uint8
    assert list(factors.columns) == ["smiling", "male", "young"]
    assert [tuple(r) for r in factors[["smiling", "male"]].to_numpy()] == expected
    few = load_celeba_images(raw_dir, list(celeba_table(raw_dir, split="test").index[:2]), resolution=16)
    assert few.shape == (2, 3, 16, 16)


def test_read_mnist(raw_dir):
    images, labels = read_mnist(raw_dir, "test")
    assert images.shape == (N_MNIST, 28, 28) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64 and sorted(labels.tolist()) == sorted(np.arange(N_MNIST) % 10)


def test_missing_raw_files_point_to_the_download_rule(tmp_path):
    with pytest.raises(FileNotFoundError, match="download_dataset"):
        celeba_table(tmp_path, split="train")
    with pytest.raises(FileNotFoundError, match="download_dataset"):
        read_mnist(tmp_path, "train")


def test_build_celeba(raw_dir, tmp_path):
    outputs = {s: (tmp_path / f"{s}.pt", tmp_path / f"{s}_factors.csv") for s in ("train", "val", "test")}
    summary = build_dataset(
        "celeba",
        outputs=outputs,
        sizes={"n_train": None, "n_val": None, "n_test": None},
        bias=0.75,
        spurious_factor="Male",
        seed=0,
        resolution=32,
        raw_dir=raw_dir,
        nuisance_attrs=["Male", "Young"],
    )
    assert summary["splits"]["train"] == {"n": 8, "agreement": 0.75, "pt": str(outputs["train"][0])}
    assert summary["splits"]["val"]["agreement"] == 0.5
    train = load_split(outputs["train"][0])
    assert train.meta["spurious_factor"] == "male" and train.meta["label_name"] == "smiling"
    assert train.images.shape == (8, 3, 32, 32) and len(train.meta["source_ids"]) == 8


def test_build_colored_mnist(raw_dir, tmp_path):
    outputs = {s: (tmp_path / f"{s}.pt", tmp_path / f"{s}_factors.csv") for s in ("train", "val", "test")}
    summary = build_dataset(
        "colored_mnist",
        outputs=outputs,
        sizes={"n_train": None, "n_val": 5, "n_test": 10},
        bias=1.0,
        spurious_factor="color",
        seed=0,
        resolution=32,
        raw_dir=raw_dir,
    )
    assert {s: v["n"] for s, v in summary["splits"].items()} == {"train": 15, "val": 5, "test": 10}
    assert summary["splits"]["train"]["agreement"] == 1.0
    train, val = load_split(outputs["train"][0]), load_split(outputs["val"][0])
    assert not set(train.meta["source_ids"]) & set(val.meta["source_ids"])
    assert train.images.shape == (15, 3, 32, 32) and list(train.factors.columns) == ["digit", "color"]


def _run_download_rule(workdir, files) -> subprocess.CompletedProcess:
    """Snakemake's download_dataset job for config/mnist.yaml's dataset, fetching ``files``."""
    overlay = workdir / "served.yaml"
    overlay.write_text(yaml.safe_dump({"datasets": {"colored_mnist": {"data": {"files": files}}}}))
    configs = [str(ROOT / "config" / "config.yaml"), str(ROOT / "config" / "mnist.yaml"), str(overlay)]
    cmd = [
        sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir),
        "resources/colored_mnist/downloaded.json", "--cores", "1", "--configfile", *configs,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def test_download_rule_keeps_the_data_already_there(server, tmp_path):
    """A verified copy in place is not fetched again; nothing in the folder is deleted, not even when a
    later download job fails on a quota page."""
    base, served, files = server
    folder = tmp_path / "resources" / "colored_mnist"
    (folder / "MNIST" / "raw").mkdir(parents=True)
    in_place = files["mnist"][0]["filename"]
    shutil.copy(served / in_place, folder / "MNIST" / "raw")
    (folder / "notes.txt").write_text("the user's own file\n")
    before = len(QuietHandler.requests)
    result = _run_download_rule(tmp_path, files["mnist"])
    assert result.returncode == 0, result.stderr[-3000:]
    fetched = QuietHandler.requests[before:]
    assert sorted(fetched) == sorted("/" + f["filename"] for f in files["mnist"][1:])
    record = json.loads((folder / "downloaded.json").read_text())
    assert [f["md5"] for f in record["files"]] == [f["md5"] for f in files["mnist"]]
    kept = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.name != "downloaded.json")

    quota = {"filename": "extra-ubyte.gz", "md5": "0" * 32, "url": base + "quota.html"}
    result = _run_download_rule(tmp_path, [*files["mnist"], quota])
    assert result.returncode != 0
    log = (tmp_path / "logs" / "download_dataset" / "colored_mnist.log").read_text()
    assert "HTML page instead of extra-ubyte.gz" in log
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == kept
    assert (folder / "notes.txt").read_text() == "the user's own file\n"


def test_a_folder_of_the_users_own_is_md5_checked_and_read(server, raw_dir, tmp_path):
    """data.source dir: the files data.files names are checked where present, then the folder is read."""
    from admixlib.stages.data import make_dataset

    _, _, files = server
    data = {"kind": "colored_mnist", "source": "dir", "files": files["mnist"], "resolution": 16, "n_train": 8,
            "n_val": 4, "n_test": 8, "bias": 0.9, "spurious_factor": "color", "seed": 0}  # fmt: skip
    splits = {s: tmp_path / f"{s}.pt" for s in ("train", "val", "test")}
    make_dataset(data_cfg=data, split_paths=splits, raw_dir=str(raw_dir / "MNIST" / "raw"))
    assert len(load_split(splits["train"])) == 8
    copy = tmp_path / "copy"
    shutil.copytree(raw_dir / "MNIST" / "raw", copy)
    (copy / files["mnist"][2]["filename"]).write_bytes(b"not the t10k images")
    with pytest.raises(RuntimeError, match=r"differ from data.files: .*t10k-images-idx3-ubyte.gz \(md5 "):
        make_dataset(data_cfg=data, split_paths=splits, raw_dir=str(copy))

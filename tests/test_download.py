"""Download, extraction and real-data readers against a local HTTP server with tiny fake archives."""

import gzip
import hashlib
import http.server
import json
import shutil
import subprocess
import sys
import threading
import zipfile
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from admixlib.data import build_dataset, download, download_dataset, load_split, read_celeba, read_mnist

CELEBA_ATTRS = [
    "5_o_Clock_Shadow",
    "Arched_Eyebrows",
    "Attractive",
    "Bags_Under_Eyes",
    "Bald",
    "Bangs",
    "Big_Lips",
    "Big_Nose",
    "Black_Hair",
    "Blond_Hair",
    "Blurry",
    "Brown_Hair",
    "Bushy_Eyebrows",
    "Chubby",
    "Double_Chin",
    "Eyeglasses",
    "Goatee",
    "Gray_Hair",
    "Heavy_Makeup",
    "High_Cheekbones",
    "Male",
    "Mouth_Slightly_Open",
    "Mustache",
    "Narrow_Eyes",
    "No_Beard",
    "Oval_Face",
    "Pale_Skin",
    "Pointy_Nose",
    "Receding_Hairline",
    "Rosy_Cheeks",
    "Sideburns",
    "Smiling",
    "Straight_Hair",
    "Wavy_Hair",
    "Wearing_Earrings",
    "Wearing_Hat",
    "Wearing_Lipstick",
    "Wearing_Necklace",
    "Wearing_Necktie",
    "Young",
]
# (partition, smiling, male) per image: train has 3 images in each agreeing group and 1 in each
# disagreeing one; val and test hold every group.
CELEBA_ROWS = (
    [(0, 0, 0)] * 3 + [(0, 1, 1)] * 3 + [(0, 0, 1)] + [(0, 1, 0)]
    + [(1, 0, 0), (1, 1, 1), (1, 0, 1), (1, 1, 0)] * 2
    + [(2, 0, 0), (2, 1, 1), (2, 0, 1), (2, 1, 0)]
)  # fmt: skip
N_MNIST = 20
ROOT = Path(__file__).resolve().parent.parent


def _md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


def _write_celeba(folder):
    """img_align_celeba.zip (178x218 jpgs), list_attr_celeba.txt and list_eval_partition.txt."""
    rng = np.random.default_rng(0)
    names = [f"{i + 1:06d}.jpg" for i in range(len(CELEBA_ROWS))]
    with zipfile.ZipFile(folder / "img_align_celeba.zip", "w") as archive:
        for name in names:
            pixels = rng.integers(0, 256, size=(218, 178, 3), dtype=np.uint8)
            jpg = folder / name
            Image.fromarray(pixels).save(jpg, quality=90)
            archive.write(jpg, f"img_align_celeba/{name}")
            jpg.unlink()
    lines = [str(len(names)), " ".join(CELEBA_ATTRS) + " "]
    partition = []
    for name, (part, smiling, male) in zip(names, CELEBA_ROWS, strict=True):
        values = rng.choice([-1, 1], size=len(CELEBA_ATTRS))
        values[CELEBA_ATTRS.index("Smiling")] = 1 if smiling else -1
        values[CELEBA_ATTRS.index("Male")] = 1 if male else -1
        lines.append(name + " " + " ".join(f"{v:2d}" for v in values))
        partition.append(f"{name} {part}")
    (folder / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (folder / "list_eval_partition.txt").write_text("\n".join(partition) + "\n")
    return ["img_align_celeba.zip", "list_attr_celeba.txt", "list_eval_partition.txt"]


def _write_mnist(folder):
    """The four MNIST idx .gz files with N_MNIST images each."""
    rng = np.random.default_rng(1)
    names = []
    for prefix in ("train", "t10k"):
        images = np.zeros((N_MNIST, 28, 28), dtype=np.uint8)
        images[:, 6:22, 12:16] = 255  # a vertical bar
        labels = (np.arange(N_MNIST) % 10).astype(np.uint8)
        rng.shuffle(labels)
        for kind, array, magic in (("images-idx3", images, 0x0803), ("labels-idx1", labels, 0x0801)):
            header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
            name = f"{prefix}-{kind}-ubyte.gz"
            with gzip.open(folder / name, "wb") as handle:
                handle.write(header + array.tobytes())
            names.append(name)
    return names


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        super().do_GET()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Serve a folder of fake CelebA/MNIST files on 127.0.0.1; yields (base url, folder, file lists)."""
    folder = tmp_path_factory.mktemp("served")
    files = {}
    for kind, writer in (("celeba", _write_celeba), ("mnist", _write_mnist)):
        names = writer(folder)
        files[kind] = [{"filename": n, "md5": _md5(folder / n), "url": None} for n in names]
    (folder / "quota.html").write_text("<html><body>Google Drive: download quota exceeded</body></html>\n")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    for entries in files.values():
        for entry in entries:
            entry["url"] = base + entry["filename"]
    yield base, folder, files
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


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
    before = len(_QuietHandler.requests)
    download(
        entry["url"], dest=raw_dir / "MNIST" / "raw" / entry["filename"], md5=entry["md5"], progress=False
    )
    assert len(_QuietHandler.requests) == before


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
    images, factors = read_celeba(raw_dir, split="train", resolution=32, nuisance_attrs=["Male", "Young"])
    expected = [(s, m) for p, s, m in CELEBA_ROWS if p == 0]
    assert images.shape == (len(expected), 3, 32, 32) and images.dtype == torch.uint8
    assert list(factors.columns) == ["smiling", "male", "young"]
    assert [tuple(r) for r in factors[["smiling", "male"]].to_numpy()] == expected
    few, _ = read_celeba(raw_dir, split="test", resolution=16, max_images=2)
    assert few.shape == (2, 3, 16, 16)


def test_read_mnist(raw_dir):
    images, labels = read_mnist(raw_dir, "test")
    assert images.shape == (N_MNIST, 28, 28) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64 and sorted(labels.tolist()) == sorted(np.arange(N_MNIST) % 10)


def test_missing_raw_files_point_to_the_download_rule(tmp_path):
    with pytest.raises(FileNotFoundError, match="download_dataset"):
        read_celeba(tmp_path, split="train", resolution=32)
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
    before = len(_QuietHandler.requests)
    result = _run_download_rule(tmp_path, files["mnist"])
    assert result.returncode == 0, result.stderr[-3000:]
    fetched = _QuietHandler.requests[before:]
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

"""Fake CelebA and MNIST files in the real formats, and a file server on 127.0.0.1 that serves them."""

import gzip
import hashlib
import http.server
import threading
import zipfile
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

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


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def write_celeba(folder: Path, rows=CELEBA_ROWS) -> list[str]:
    """img_align_celeba.zip (178x218 jpgs), list_attr_celeba.txt and list_eval_partition.txt, one image
    per ``(partition, smiling, male)`` row; the other attributes are random. Returns the file names."""
    rng = np.random.default_rng(0)
    names = [f"{i + 1:06d}.jpg" for i in range(len(rows))]
    with zipfile.ZipFile(folder / "img_align_celeba.zip", "w") as archive:
        for name in names:
            pixels = rng.integers(0, 256, size=(218, 178, 3), dtype=np.uint8)
            jpg = folder / name
            Image.fromarray(pixels).save(jpg, quality=90)
            archive.write(jpg, f"img_align_celeba/{name}")
            jpg.unlink()
    lines = [str(len(names)), " ".join(CELEBA_ATTRS) + " "]
    partition = []
    for name, (part, smiling, male) in zip(names, rows, strict=True):
        values = rng.choice([-1, 1], size=len(CELEBA_ATTRS))
        values[CELEBA_ATTRS.index("Smiling")] = 1 if smiling else -1
        values[CELEBA_ATTRS.index("Male")] = 1 if male else -1
        lines.append(name + " " + " ".join(f"{v:2d}" for v in values))
        partition.append(f"{name} {part}")
    (folder / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (folder / "list_eval_partition.txt").write_text("\n".join(partition) + "\n")
    return ["img_align_celeba.zip", "list_attr_celeba.txt", "list_eval_partition.txt"]


def write_mnist(folder: Path, n_train: int = N_MNIST, n_test: int = N_MNIST) -> list[str]:
    """The four MNIST idx .gz files (a vertical bar in every image, labels shuffled). Returns the names."""
    rng = np.random.default_rng(1)
    names = []
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = np.zeros((n, 28, 28), dtype=np.uint8)
        images[:, 6:22, 12:16] = 255  # a vertical bar
        labels = (np.arange(n) % 10).astype(np.uint8)
        rng.shuffle(labels)
        for kind, array, magic in (("images-idx3", images, 0x0803), ("labels-idx1", labels, 0x0801)):
            header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
            name = f"{prefix}-{kind}-ubyte.gz"
            with gzip.open(folder / name, "wb") as handle:
                handle.write(header + array.tobytes())
            names.append(name)
    return names


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        super().do_GET()


@contextmanager
def serve(folder: Path):
    """Serve ``folder`` on 127.0.0.1 while the block runs; yields the base URL (requests are logged in
    ``QuietHandler.requests``)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def file_entries(folder: Path, names: list[str], base: str) -> list[dict]:
    """The config's ``data.files`` entries (url, md5, filename) of served files."""
    return [{"filename": n, "md5": md5(folder / n), "url": base + n} for n in names]

"""Download with md5 verification and archive extraction (the file lists are the config's ``data.files``).

Files land in torchvision's layout under ``raw_dir``: CelebA in ``raw_dir/celeba/`` (the zip is
extracted to ``raw_dir/celeba/img_align_celeba/``), MNIST in ``raw_dir/MNIST/raw/`` (each ``.gz``
decompressed next to itself).
"""

import gzip
import hashlib
import logging
import os
import shutil
import urllib.request
import zipfile
from pathlib import Path

from tqdm import tqdm

from admixlib.runtime import atomic_write

log = logging.getLogger("admix.data")
CHUNK_BYTES = 1 << 20
TIMEOUT_SECONDS = 60.0
SUBDIRS = {"celeba": Path("celeba"), "mnist": Path("MNIST") / "raw"}


def file_hash(path: str | os.PathLike, algorithm: str) -> str:
    """Hex digest of a file with a ``hashlib`` algorithm (``"md5"``, ``"sha1"``, ...)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()


def download(url: str, *, dest: str | os.PathLike, md5: str | None, progress: bool = True) -> Path:
    """Fetch ``url`` to ``dest`` (temp file + rename) and check its md5; returns ``dest``.

    Skips the download when ``dest`` already has the right md5. On a mismatch (or an HTML page in place
    of the file) the fetched copy is dropped, whatever was at ``dest`` stays, and a RuntimeError names
    the path, the expected and the actual md5. ``md5=None`` skips the check.
    """
    dest = Path(dest)
    if dest.is_file() and md5 is not None and file_hash(dest, "md5") == md5:
        log.info("%s already present with md5 %s; not downloading", dest, md5)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.md5()
    request = urllib.request.Request(url, headers={"User-Agent": "admix/0.1"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response, atomic_write(dest) as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        if "text/html" in (response.headers.get("Content-Type") or "") and not dest.name.endswith(".html"):
            raise RuntimeError(
                f"{url} returned an HTML page instead of {dest.name} (quota or sign-in page?); "
                f"download it by hand to {dest}"
            )
        with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress) as bar:
            while block := response.read(CHUNK_BYTES):
                out.write(block)
                digest.update(block)
                bar.update(len(block))
        actual = digest.hexdigest()
        if md5 is not None and actual != md5:  # the fetched copy is dropped; a file already at dest stays
            raise RuntimeError(
                f"md5 mismatch for {dest} (from {url}): expected {md5}, got {actual}; not kept"
            )
    log.info("downloaded %s -> %s (md5 %s)", url, dest, actual)
    return dest


def verify_present(folder: str | os.PathLike, files: list[dict]) -> list[Path]:
    """Check the md5 of every ``files`` entry (``filename``, ``md5``) found by name under ``folder``, a
    copy of a dataset the user already has; returns the files checked. Entries not there are skipped
    (an archive may be extracted already). Raises RuntimeError naming each file whose md5 differs."""
    checked, wrong = [], []
    for entry in files:
        for path in sorted(Path(folder).rglob(entry["filename"])):
            actual = file_hash(path, "md5")
            if actual == entry["md5"]:
                checked.append(path)
            else:
                wrong.append(f"{path} (md5 {actual}, expected {entry['md5']})")
    if wrong:
        raise RuntimeError(f"files in {folder} differ from data.files: {'; '.join(wrong)}")
    log.info("%d files in %s match data.files' md5s: %s", len(checked), folder, [p.name for p in checked])
    return checked


def _safe_members(archive: zipfile.ZipFile, dest_dir: Path) -> list[zipfile.ZipInfo]:
    """The members of ``archive``, refusing any whose path would leave ``dest_dir``."""
    root = dest_dir.resolve()
    for info in archive.infolist():
        target = (root / info.filename).resolve()
        if root not in target.parents and target != root:
            raise RuntimeError(f"refusing to extract {info.filename!r}: it points outside {dest_dir}")
    return archive.infolist()


def extract(archive: str | os.PathLike, dest_dir: str | os.PathLike) -> Path:
    """Extract a ``.zip`` into ``dest_dir`` or decompress a ``.gz`` to ``dest_dir/<name without .gz>``.

    Returns the folder (zip) or file (gz) written. A zip is extracted only once: a marker file
    ``dest_dir/.<archive name>.extracted`` records completion.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    if archive.suffix == ".zip":
        marker = dest_dir / f".{archive.name}.extracted"
        if marker.is_file():
            return dest_dir
        with zipfile.ZipFile(archive) as handle:
            handle.extractall(dest_dir, members=_safe_members(handle, dest_dir))
        marker.write_text(f"{archive.name}\n")
        return dest_dir
    if archive.suffix == ".gz":
        target = dest_dir / archive.stem
        with gzip.open(archive, "rb") as src, atomic_write(target) as out:
            shutil.copyfileobj(src, out)
        return target
    raise ValueError(f"cannot extract {archive}: only .zip and .gz are supported")


def download_dataset(
    kind: str, *, raw_dir: str | os.PathLike, files: list[dict], progress: bool = True
) -> list[Path]:
    """Fetch (and extract) ``files`` (``{url, md5, filename}`` dicts) of ``kind`` (``celeba`` or
    ``mnist``) into its folder under ``raw_dir``; returns the downloaded paths, in order."""
    if kind not in SUBDIRS:
        raise ValueError(f"kind must be one of {sorted(SUBDIRS)}, got {kind!r}")
    folder = Path(raw_dir) / SUBDIRS[kind]
    paths = []
    for entry in files:
        missing = {"url", "md5", "filename"} - set(entry)
        if missing:
            raise ValueError(f"file entry {entry} lacks keys {sorted(missing)}")
        path = download(entry["url"], dest=folder / entry["filename"], md5=entry["md5"], progress=progress)
        if path.suffix in (".zip", ".gz"):
            extract(path, folder)
        paths.append(path)
    return paths

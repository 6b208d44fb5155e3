"""Zipped scene packs, unpacked once into the cache with every member checked first."""

from __future__ import annotations

import hashlib
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from capture.cache import cache_dir
from immersion.errors import AssetError

MAX_MEMBERS = 10_000
MAX_UNPACKED_BYTES = 1 << 30


def open_pack_folder(path: Path) -> Path:
    """The folder holding ``scene.toml`` for a pack given as a folder, a zip or the manifest."""
    if path.is_dir():
        return path
    if path.name == "scene.toml" and path.is_file():
        return path.parent
    if path.suffix == ".zip" and path.is_file():
        return _unpack(path)
    raise AssetError(f"{path}: no such scene pack (a folder, a .zip or a scene.toml)")


def _unpack(path: Path) -> Path:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    target = cache_dir() / "packs" / f"{path.stem}-{digest}"
    if (target / ".complete").is_file():
        return target / (target / ".complete").read_text()
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise AssetError(f"{path}: not a readable zip ({exc})") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise AssetError(f"{path}: {len(members)} members, over the limit of {MAX_MEMBERS}")
        total = 0
        for m in members:
            name = PurePosixPath(m.filename)
            if name.is_absolute() or ".." in name.parts or "\\" in m.filename:
                raise AssetError(f"{path}: member {m.filename!r} escapes the pack")
            if stat.S_ISLNK(m.external_attr >> 16):
                raise AssetError(f"{path}: member {m.filename!r} is a symlink")
            total += m.file_size
            if total > MAX_UNPACKED_BYTES:
                raise AssetError(f"{path}: unpacks to more than {MAX_UNPACKED_BYTES >> 20} MB")
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for m in members:
            if m.is_dir():
                continue
            out = target / m.filename
            out.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(m) as src, out.open("wb") as dst:
                # Copy at most the declared size: a lying header cannot fill the disk.
                shutil.copyfileobj(_Limited(src, m.file_size), dst)
    # A zip whose files sit in one top folder is a pack too.
    inner = list(target.iterdir())
    top = inner[0].name if len(inner) == 1 and inner[0].is_dir() else ""
    (target / ".complete").write_text(top)
    return target / top


class _Limited:
    def __init__(self, src: object, limit: int) -> None:
        self.src = src
        self.left = limit

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        n = self.left if n < 0 else min(n, self.left)
        data: bytes = self.src.read(n)  # type: ignore[attr-defined]
        self.left -= len(data)
        return data

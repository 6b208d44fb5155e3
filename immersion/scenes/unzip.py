"""Zipped scene packs, unpacked into the state folder with every member checked first.

Each zip unpacks once, to ``state_dir()/packs/<name>-<hash of its bytes>``, and is reused while
its bytes stay the same. The folder stays bounded: opening a pack marks it used, and the
unpacked packs beyond the :data:`KEEP_PACKS` most recently used are removed, as is any not
used for :data:`MAX_IDLE_DAYS` days. A running room that switches to a removed pack unpacks it
again (the room reloads a pack from its zip on every switch).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
import time
import zipfile
from pathlib import Path, PurePosixPath

from capture.cache import state_dir
from immersion.errors import AssetError

MAX_MEMBERS = 10_000
MAX_UNPACKED_BYTES = 1 << 30
MAX_ZIP_BYTES = 1 << 30
KEEP_PACKS = 8
MAX_IDLE_DAYS = 30
_DONE = ".complete"  # holds the pack's top folder inside the unpacked zip ("" for none)


def packs_dir() -> Path:
    return state_dir() / "packs"


def open_pack_folder(path: Path) -> Path:
    """The folder holding ``scene.toml`` for a pack given as a folder, a zip or the manifest."""
    if path.is_dir():
        return path
    if path.name == "scene.toml" and path.is_file():
        return path.parent
    if path.suffix == ".zip" and path.is_file():
        return _unpack(path)
    raise AssetError(f"{path}: no such scene pack (a folder, a .zip or a scene.toml)")


def _digest(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_ZIP_BYTES:
            raise AssetError(f"{path}: over the {MAX_ZIP_BYTES >> 20} MB limit for a zip")
        with path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()[:16]
    except OSError as exc:
        raise AssetError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _unpack(path: Path) -> Path:
    target = packs_dir() / f"{path.stem}-{_digest(path)}"
    done = target / _DONE
    if not done.is_file():
        _extract(path, target)
    os.utime(done)  # used now: the pruning below keeps it
    prune(keep=target)
    return target / done.read_text()


def _extract(path: Path, target: Path) -> None:
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
        target.parent.mkdir(parents=True, exist_ok=True)
        # Unpacked beside the target and renamed into place: a reader never sees half a pack,
        # and two processes unpacking the same zip do not mix their files.
        work = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
        try:
            for m in members:
                if m.is_dir():
                    continue
                out = work / m.filename
                out.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(m) as src, out.open("wb") as dst:
                    # Copy at most the declared size: a lying header cannot fill the disk.
                    shutil.copyfileobj(_Limited(src, m.file_size), dst)
            # A zip whose files sit in one top folder is a pack too.
            inner = list(work.iterdir())
            top = inner[0].name if len(inner) == 1 and inner[0].is_dir() else ""
            (work / _DONE).write_text(top)
            try:
                work.rename(target)
            except OSError:  # another process finished first, or a stale half folder
                if not (target / _DONE).is_file():
                    shutil.rmtree(target, ignore_errors=True)
                    work.rename(target)
        except (OSError, zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError) as exc:
            raise AssetError(f"{path}: cannot unpack ({exc})") from None
        finally:
            shutil.rmtree(work, ignore_errors=True)


def prune(keep: Path | None = None, now: float | None = None) -> list[Path]:
    """Remove unpacked packs beyond the :data:`KEEP_PACKS` most recently used and any unused
    for :data:`MAX_IDLE_DAYS` days (never ``keep``); returns what was removed."""
    folder = packs_dir()
    if not folder.is_dir():
        return []
    now = time.time() if now is None else now
    used = []
    for entry in folder.iterdir():
        try:
            mark = entry / _DONE
            used.append((mark.stat().st_mtime if mark.is_file() else entry.stat().st_mtime, entry))
        except OSError:
            continue  # removed meanwhile by another process
    used.sort(reverse=True)
    removed = []
    for rank, (when, entry) in enumerate(used):
        stale = now - when > MAX_IDLE_DAYS * 86400
        # A half-unpacked folder younger than an hour may be another process at work.
        unfinished = not (entry / _DONE).is_file() and now - when < 3600
        if entry != keep and not unfinished and (rank >= KEEP_PACKS or stale):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


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

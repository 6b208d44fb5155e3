"""Paths that a pack or avatar names, kept inside their folder, and reads with a size bound."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from immersion.errors import AssetError

# A pack's single file larger than this is refused before it is read.
MAX_FILE_BYTES = 512 << 20


def resolve_inside(root: Path, name: str, where: str) -> Path:
    """``root / name`` when it stays inside ``root`` after following symlinks.

    ``name`` is a relative POSIX path as written in a manifest or glTF (``/`` separators);
    absolute paths, ``..`` segments, drive letters and backslashes are refused outright, and a
    symlink whose target leaves ``root`` is refused too. ``where`` names the field for errors.
    """
    if not name or "\\" in name or "\0" in name or ":" in name:
        raise AssetError(f"{where}: {name!r} is not a relative path inside the pack")
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts:
        raise AssetError(f"{where}: {name!r} escapes the pack (absolute or '..')")
    base = root.resolve()
    target = (base / pure).resolve()
    if target != base and base not in target.parents:
        raise AssetError(f"{where}: {name!r} is a link that leads outside the pack")
    if not target.is_file():
        raise AssetError(f"{where}: {name!r} does not exist")
    return target


def read_bounded(path: Path, limit: int, where: str) -> bytes:
    """The whole file, refused without reading when it is larger than ``limit`` bytes."""
    size = path.stat().st_size
    if size > limit:
        raise AssetError(
            f"{where}: {path.name} is {size / 1e6:.0f} MB, over the {limit / 1e6:.0f} MB limit"
        )
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:  # grew while we looked
        raise AssetError(f"{where}: {path.name} is over the {limit / 1e6:.0f} MB limit")
    return data

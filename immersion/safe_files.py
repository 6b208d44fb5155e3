"""Paths that a pack or avatar names, kept inside their folder, and reads with a size bound."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from immersion.errors import AssetError

# A pack's single file larger than this is refused before it is read.
MAX_FILE_BYTES = 512 << 20


def resolve_inside(root: Path, name: str, where: str, inside: str = "the pack") -> Path:
    """``root / name`` when it stays inside ``root`` after following symlinks.

    ``name`` is a relative POSIX path as written in a manifest or glTF (``/`` separators);
    absolute paths, ``..`` segments, drive letters and backslashes are refused outright, and a
    symlink whose target leaves ``root`` is refused too. ``where`` names the field for errors,
    ``inside`` the folder (a pack's, by default; a room's takes folder for a reader's take).
    """
    if not name or "\\" in name or "\0" in name or ":" in name:
        raise AssetError(f"{where}: {name!r} is not a relative path inside {inside}")
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts:
        raise AssetError(f"{where}: {name!r} escapes {inside} (absolute or '..')")
    base = root.resolve()
    target = (base / pure).resolve()
    if target != base and base not in target.parents:
        raise AssetError(f"{where}: {name!r} is a link that leads outside {inside}")
    if not target.is_file():
        raise AssetError(f"{where}: {name!r} does not exist")
    return target


def read_bounded(path: Path, limit: int, where: str) -> bytes:
    """The whole file, refused without reading when it is larger than ``limit`` bytes."""
    try:
        size = path.stat().st_size
        if size > limit:
            raise AssetError(
                f"{where}: {path.name} is {size / 1e6:.0f} MB, over the {limit / 1e6:.0f} MB limit"
            )
        with path.open("rb") as f:
            # read(n) allocates n bytes up front: ask for what the file holds, not the limit.
            data = f.read(size + 1)
            if len(data) > size:  # grew while we looked
                data += f.read(limit + 1 - len(data))
    except OSError as exc:  # unreadable, a folder, gone since it was found
        raise AssetError(f"{where}: cannot read {path.name} ({exc.strerror or exc})") from None
    if len(data) > limit:  # grew while we looked
        raise AssetError(f"{where}: {path.name} is over the {limit / 1e6:.0f} MB limit")
    return data


# Textures are decoded in full by the engine: a small file may claim a huge picture.
MAX_IMAGE_SIDE = 8192


def image_size(source: Path | bytes, where: str) -> tuple[int, int]:
    """A PNG or JPEG's pixel size from its header, refused when it is not one or a side is over
    :data:`MAX_IMAGE_SIDE`; nothing is decoded."""
    import io
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as img:
                width, height = img.size
                kind = img.format
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as exc:
        raise AssetError(f"{where}: unreadable image ({exc})") from None
    if kind not in ("PNG", "JPEG"):
        raise AssetError(f"{where}: a {kind} image; only PNG and JPEG are supported")
    if max(width, height) > MAX_IMAGE_SIDE:
        raise AssetError(
            f"{where}: {width}x{height} pixels, over the {MAX_IMAGE_SIDE} pixel side limit"
        )
    return width, height

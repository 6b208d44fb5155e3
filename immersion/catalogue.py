"""Where the shipped scene packs and avatars live, and how a name on the command line finds one."""

from __future__ import annotations

import os
from pathlib import Path

from immersion.errors import StageError

_REPO = Path(__file__).resolve().parents[1]
DEFAULT_PACK = "noir-office"
DEFAULT_AVATAR = "detective"


def scenes_dir() -> Path:
    return Path(os.environ.get("IMMERSION_SCENES", _REPO / "scenes"))


def avatars_dir() -> Path:
    return _REPO / "assets" / "avatars"


def shipped_packs() -> list[Path]:
    folder = scenes_dir()
    return (
        sorted(p for p in folder.iterdir() if (p / "scene.toml").is_file())
        if folder.is_dir()
        else []
    )


def find_pack(spec: str) -> Path:
    """A pack by path (folder, .zip, scene.toml) or by the name of a shipped pack."""
    path = Path(spec)
    if path.exists():
        return path
    named = scenes_dir() / spec
    if (named / "scene.toml").is_file():
        return named
    names = ", ".join(p.name for p in shipped_packs()) or "none"
    raise StageError(f"no scene pack {spec!r} (shipped packs: {names})")


def find_avatar(spec: str) -> Path:
    path = Path(spec)
    if path.is_file():
        return path
    named = avatars_dir() / f"{spec}.vrm"
    if named.is_file():
        return named
    names = ", ".join(sorted(p.stem for p in avatars_dir().glob("*.vrm")))
    raise StageError(f"no avatar {spec!r} (a .vrm/.glb file, or one of: {names})")


# What the room's viewers may choose from: names, never paths ---------------------------------


def pack_names() -> list[str]:
    return [p.name for p in shipped_packs()]


def avatar_names() -> list[str]:
    return sorted(p.stem for p in avatars_dir().glob("*.vrm"))


def catalogue_pack(name: str) -> Path:
    """The shipped pack called ``name``; nothing outside the catalogue, whatever ``name`` is."""
    if name not in pack_names():
        raise StageError(f"no scene pack {name!r} in the catalogue")
    return scenes_dir() / name


def avatar_file(name: str) -> Path:
    """The shipped avatar called ``name``; nothing outside the catalogue, whatever ``name`` is."""
    if name not in avatar_names():
        raise StageError(f"no avatar {name!r} in the catalogue")
    return avatars_dir() / f"{name}.vrm"

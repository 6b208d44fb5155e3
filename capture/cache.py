"""Where the set-up keeps what it builds and fetches: ``$IMMERSION_CACHE`` or ~/.cache/immersion."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    env = os.environ.get("IMMERSION_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "immersion"


def state_dir() -> Path:
    """What the program itself writes while it runs (unpacked zip packs, the room's TLS
    certificate): ``$IMMERSION_STATE``, else a folder of the cache. Tests point it at a fresh
    folder per session, so no run sees another's leftovers."""
    env = os.environ.get("IMMERSION_STATE")
    return Path(env) if env else cache_dir() / "state"


def models_dir() -> Path:
    return cache_dir() / "models"


def fixtures_dir() -> Path:
    return cache_dir() / "fixtures"


def demo_clip() -> Path:
    """The demo performance fetched by the set-up (people walking, from Sports2D's demo)."""
    return fixtures_dir() / "sports2d" / "demo.mp4"

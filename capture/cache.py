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


def tasks_vision_dir() -> Path:
    """MediaPipe Tasks for Web (npm ``@mediapipe/tasks-vision``, pinned and hash-checked by the
    set-up), which the actor page serves to the browser: the folder holding ``vision_bundle.mjs``
    and ``wasm/``."""
    return cache_dir() / "node" / "node_modules" / "@mediapipe" / "tasks-vision"


def actor_video() -> Path:
    """The actor page tests' fake webcam (scripts/make_actor_media.py): a person's whole body,
    640x480 at 30 fps, raw yuv420p y4m, for chromium's --use-file-for-fake-video-capture."""
    return fixtures_dir() / "actor" / "actor.y4m"


def actor_face_video() -> Path:
    """The actor page tests' second fake webcam: the demo clip's man doing jumping jacks, face
    on and cropped (whole body, unscaled), so the page's face landmarker has a face to find;
    640x480 at 30 fps, raw yuv420p y4m."""
    return fixtures_dir() / "actor" / "face.y4m"


def actor_voice() -> Path:
    """The actor page tests' fake microphone: spoken lines with pauses, 48 kHz mono 16-bit WAV,
    for chromium's --use-file-for-fake-audio-capture."""
    return fixtures_dir() / "actor" / "voice.wav"

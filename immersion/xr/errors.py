"""Typed errors for the headset: one line each, naming what is missing or what failed."""

from __future__ import annotations

from immersion.errors import StageError


class HeadsetError(StageError):
    """No usable headset: no runtime, no HMD, no shared graphics API, or a runtime failure.

    The room reports it in one line and plays on without the headset.
    """

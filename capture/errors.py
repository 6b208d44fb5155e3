"""Typed errors for the capture pipeline.

Every error a user can cause carries a one-line message that names the file, field or device at
fault; the CLI prints it without a traceback.
"""

from __future__ import annotations


class CaptureError(Exception):
    """Base class: something the user can fix (bad input, missing model, absent camera)."""


class LandmarkShapeError(CaptureError):
    """Landmark values of the wrong shape or with non-finite numbers."""


class SourceError(CaptureError):
    """A capture source that cannot be opened or read (missing file, bad video, no camera)."""


class ModelMissingError(CaptureError):
    """The pose model bundle has not been built, or does not load."""


class TakeFormatError(CaptureError):
    """A take or landmarks file that does not follow the documented format."""


class VoiceFormatError(CaptureError):
    """A voice file (Ogg Opus) or an Opus packet that does not follow the format."""


class VoiceWriteError(CaptureError):
    """A voice file that cannot be created or written (a full disk); every page written before
    the failure stays readable."""

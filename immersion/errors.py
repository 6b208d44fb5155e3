"""Typed errors for the stage: scene packs, avatars, assets and rendering.

Like :class:`capture.errors.CaptureError`, each carries a one-line message naming the file and
field at fault; the CLI prints it without a traceback.
"""

from __future__ import annotations


class StageError(Exception):
    """Base class: something the user can fix (a bad pack, avatar, asset or output path)."""


class AssetError(StageError):
    """A file inside a pack or an avatar that is unsafe, too large or malformed."""


class PackError(StageError):
    """A scene pack that does not validate; ``problems`` lists every one found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}")


class AvatarError(StageError):
    """An avatar that cannot be used: not a humanoid, missing bones, unreadable."""


class LicenceError(AvatarError):
    """An avatar whose licence metadata forbids the use asked of it."""


class RenderError(StageError):
    """Rendering cannot start or its output cannot be written."""


class CastingError(StageError):
    """The casting record: a database that cannot be opened, or a name that is not in it."""


class ExportError(StageError):
    """A take cannot be exported: an unknown format, an empty take, an unwritable output."""

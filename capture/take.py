"""Take files: a capture written as JSON lines, append-only and flushed per frame.

Line 1 is a header object (no ``"t"``); every other line is one frame::

    {"format": "immersion-take", "version": 1, "skeleton": "vrm1-normalized", "bones": [...],
     "source": "demo.mp4", "model": "lite", "fps": 30.0, "smoothing": {...}}
    {"t": 0.0333, "hips": [0, 0.93, 0], "bones": {"hips": [x, y, z, w], ...},
     "confidence": {"hips": 0.99, ...}, "worldLandmarks": [[x, y, z, visibility] × 33]}

``worldLandmarks`` (raw MediaPipe world landmarks) is written with ``--landmarks`` and makes the
take a landmarks file too, so it can be retargeted again. A frame with no pose detected is
written as ``{"t": ..., "pose": null}`` so the timeline keeps its gaps. A process killed
mid-take leaves every frame up to the kill; a torn last line is skipped when reading.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from capture.errors import TakeFormatError
from capture.landmarks import LandmarkFrame
from capture.pose import Pose
from capture.skeleton import BONE_NAMES

TAKE_FORMAT = "immersion-take"
TAKE_VERSION = 1
# A frame line with 33 landmarks and 22 bones is ~3 KB; anything far larger is not ours.
MAX_LINE_BYTES = 1 << 20


class TakeWriter:
    """Writes a take: refuses to overwrite, appends one flushed line per frame."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file: IO[str] = path.open("x", encoding="utf-8")
        except FileExistsError:
            raise TakeFormatError(
                f"{path}: already exists; takes are never overwritten, choose another --out"
            ) from None
        except OSError as exc:
            raise TakeFormatError(f"{path}: cannot create take ({exc.strerror})") from None
        self.frames = 0
        self._line(
            {
                "format": TAKE_FORMAT,
                "version": TAKE_VERSION,
                "skeleton": "vrm1-normalized",
                "bones": list(BONE_NAMES),
                **header,
            }
        )

    def write(self, t: float, pose: Pose | None, landmarks: LandmarkFrame | None = None) -> None:
        # The frame's time is ``t``, whatever the pose was stamped with on its way here.
        record: dict[str, Any] = {"t": round(t, 6)}
        record.update(pose.to_json() if pose is not None else {"pose": None}, t=round(t, 6))
        if landmarks is not None:
            record["worldLandmarks"] = landmarks.as_rows()
        self._line(record)
        self.frames += 1

    def write_event(self, t: float, event: str, **fields: Any) -> None:
        """A line for something that happened during the take (a note, a marker, a camera
        switch) at ``t`` seconds on the take's clock; readers keep these apart from poses."""
        self._line({"t": round(t, 6), "event": event, **fields})

    def _line(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Flush, sync and close; the file is closed even when the flush fails (a full disk),
        and the error is raised after."""
        if self._file.closed:
            return
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        finally:
            with contextlib.suppress(OSError):  # what the flush could not write stays unwritten
                self._file.close()

    def __enter__(self) -> TakeWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(slots=True)
class JsonLines:
    """A parsed JSON-lines file: its header (if any) and its frame objects with line numbers."""

    path: Path
    header: dict[str, Any] | None
    frames: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    torn_tail: bool = False


def iter_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line number, object) for each line; a torn final line (no newline, bad JSON) yields None."""
    try:
        f = path.open("rb")
    except OSError as exc:
        raise TakeFormatError(f"{path}: cannot open ({exc.strerror})") from None
    with f:
        for lineno, raw in enumerate(_bounded_lines(f, path), start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                if not raw.endswith(b"\n") and not f.read(1):
                    yield lineno, None  # the writer was killed mid-line
                    return
                raise TakeFormatError(f"{path}:{lineno}: not valid JSON") from None
            if not isinstance(obj, dict):
                raise TakeFormatError(f"{path}:{lineno}: expected a JSON object")
            yield lineno, obj


def _bounded_lines(f: IO[bytes], path: Path) -> Iterator[bytes]:
    while line := f.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES:
            raise TakeFormatError(f"{path}: a line is longer than {MAX_LINE_BYTES} bytes")
        yield line


def read_json_lines(path: Path) -> JsonLines:
    """Header (first line without ``"t"``) and frames of a take or landmarks file."""
    out = JsonLines(path, None)
    for lineno, obj in iter_json_lines(path):
        if obj is None:
            out.torn_tail = True
        elif "t" not in obj:
            if lineno != 1 and out.frames:
                raise TakeFormatError(f"{path}:{lineno}: frame has no 't' (seconds)")
            out.header = obj
        else:
            out.frames.append((lineno, obj))
    return out


@dataclass(frozen=True, slots=True)
class Take:
    header: dict[str, Any]
    poses: list[Pose | None]
    torn_tail: bool
    events: list[dict[str, Any]] = field(default_factory=list)


def read_take(path: Path) -> Take:
    """Read a take file; frames without a pose come back as None."""
    lines = read_json_lines(path)
    if lines.header is None or lines.header.get("format") != TAKE_FORMAT:
        raise TakeFormatError(f"{path}: not an immersion take (no '{TAKE_FORMAT}' header)")
    if lines.header.get("version") != TAKE_VERSION:
        raise TakeFormatError(f"{path}: take version {lines.header.get('version')!r} unsupported")
    poses: list[Pose | None] = []
    events: list[dict[str, Any]] = []
    for lineno, obj in lines.frames:
        if "event" in obj:
            events.append(obj)
        elif obj.get("pose", True) is None:
            poses.append(None)
        else:
            poses.append(Pose.from_json(obj, where=f"{path}:{lineno}"))
    return Take(lines.header, poses, lines.torn_tail, events)

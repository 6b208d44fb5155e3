"""Take files: a capture written as JSON lines, append-only and flushed per frame.

Line 1 is a header object (no ``"t"``); every other line is one frame::

    {"format": "immersion-take", "version": 2, "skeleton": "vrm1-normalized", "bones": [...],
     "source": "demo.mp4", "model": "lite", "fps": 30.0, "smoothing": {...}}
    {"t": 0.0333, "hips": [0, 0.93, 0], "bones": {"hips": [x, y, z, w], ...},
     "confidence": {"hips": 0.99, ...}, "worldLandmarks": [[x, y, z, visibility] × 33],
     "face": {"browDownLeft": 0.0, ..., "tongueOut": 0.0}, "gaze": [yaw, pitch],
     "faceConfidence": 0.9}

``bones`` and ``confidence`` name VRM humanoid bones: the 22 body bones and the 30 finger
bones (``leftThumbMetacarpal`` … ``rightLittleDistal``). A bone left out is at rest with
confidence 0 (writers leave out such bones, so untracked fingers cost nothing). ``face``
(version 2) is the face track (:mod:`capture.face`): ARKit blendshape weights by name, names
left out being 0; ``gaze`` is ``[yaw, pitch]`` radians of the eyes (yaw + toward the avatar's
left, pitch + up; absent: straight ahead); ``faceConfidence`` (absent: 1). ``gaze`` and
``faceConfidence`` come only with ``face``.

``worldLandmarks`` (raw MediaPipe world landmarks) is written with ``--landmarks`` and makes the
take a landmarks file too, so it can be captured again (root motion, face and hands included)
with what the estimators saw, :meth:`capture.landmarks.LandmarkFrame.to_json`:
``imageLandmarks`` ``[[u, v, z, visibility] × 33]`` (MediaPipe's normalized image convention:
u, v in picture widths and heights from the top-left); ``faceBlendshapes`` (the face
landmarker's 52 raw ARKit-named weights), ``faceRotation`` (the head's rotation, a quaternion
``[x, y, z, w]`` in MediaPipe's face-geometry space: +x right, +y up, +z toward the camera) and
``faceScore``; ``handWorldLandmarks``
(``{"left": [[x, y, z] × 21], "right": ...}``, metres, the actor's own sides) and
``handScores``. The header may carry ``"camera": {"width": W, "height": H, "vfovDeg": F}``
(:class:`capture.camera.CameraModel`), the picture the image landmarks are fractions of. A frame with no pose detected is
written as ``{"t": ..., "pose": null}`` so the timeline keeps its gaps. A line with an
``"event"`` (a note, a marker) is kept apart from the frames. A process killed mid-take leaves
every frame up to the kill; a torn last line is skipped when reading.

Versions: the writer always writes 2 (the header comes before any frame says whether a face
will follow, and one format is simpler to write and check). Version 1 (before faces and
fingers) still reads: it is version 2 without ``face``, ``gaze`` and ``faceConfidence``, which
a version-1 frame is refused for carrying.

Reading is strict: a file that breaks these rules is refused with one :class:`TakeFormatError`
line naming ``file:line`` and the field; nothing is clamped, converted or guessed, except that
quaternions are renormalised (rounding leaves them a hair off unit length). A number is a JSON
number (not a string, not ``true``), finite (no ``NaN``, ``Infinity`` or ``1e999``) and in range:

- ``t``: seconds within ±1 000 000 (a frame or note stamped as the take started can fall a
  hair before 0); frames' times never go back, equal times are allowed. Events are exempt
  from the order (they are written from another thread).
- header ``fps``: absent or null (consumers pick their default), else a number in
  [0.01, 100 000] (the writer refuses others too); ``version``: the integer 1 or 2.
- ``hips``: 3 numbers within ±1000 m. ``bones``: known VRM bone names, each a quaternion of 4
  numbers with a length in [0.5, 1.5]. ``confidence``: known bone names, numbers in [0, 1].
- ``face``: known ARKit names, weights in [0, 1]; ``gaze``: 2 numbers within ±π/2;
  ``faceConfidence``: a number in [0, 1].
- ``worldLandmarks``: 33 rows of 3 or 4 numbers, positions within ±100 m of the hips,
  visibility in [0, 1].
- A line is at most 1 MiB, and objects and lists nest at most 16 deep. The header can only be
  the first line.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from capture import fields
from capture.errors import TakeFormatError
from capture.landmarks import LandmarkFrame
from capture.pose import Pose
from capture.skeleton import BONE_NAMES

TAKE_FORMAT = "immersion-take"
TAKE_VERSION = 2
READ_VERSIONS = (1, 2)
# Frame fields that version 1 did not have.
_FACE_FIELDS = ("face", "gaze", "faceConfidence")
# A frame line with 33 landmarks, 52 bones and a face is ~6 KB; anything far larger is not ours.
MAX_LINE_BYTES = 1 << 20


class TakeWriter:
    """Writes a take: refuses to overwrite, appends one flushed line per frame."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        self.path = path
        if header.get("fps") is not None:
            # What reading would refuse is refused now, before the performance.
            fields.fps(header["fps"], f"{path}: header")
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
            record.update(landmarks.to_json())
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
            except RecursionError:
                raise TakeFormatError(
                    f"{path}:{lineno}: nested deeper than {fields.MAX_DEPTH} levels"
                ) from None
            except (ValueError, UnicodeDecodeError):
                if not raw.endswith(b"\n") and not f.read(1):
                    yield lineno, None  # the writer was killed mid-line
                    return
                raise TakeFormatError(f"{path}:{lineno}: not valid JSON") from None
            if not isinstance(obj, dict):
                raise TakeFormatError(f"{path}:{lineno}: expected a JSON object")
            fields.check_depth(obj, f"{path}:{lineno}")
            yield lineno, obj


def _bounded_lines(f: IO[bytes], path: Path) -> Iterator[bytes]:
    while line := f.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES:
            raise TakeFormatError(f"{path}: a line is longer than {MAX_LINE_BYTES} bytes")
        yield line


def read_json_lines(path: Path) -> JsonLines:
    """Header (the first object, when it has no ``"t"``) and frames of a take or landmarks file."""
    out = JsonLines(path, None)
    first = True
    for lineno, obj in iter_json_lines(path):
        if obj is None:
            out.torn_tail = True
        elif "t" not in obj:
            if not first:
                raise TakeFormatError(f"{path}:{lineno}: frame has no 't' (seconds)")
            out.header = obj
        else:
            out.frames.append((lineno, obj))
        first = False
    return out


@dataclass(frozen=True, slots=True)
class Take:
    header: dict[str, Any]
    poses: list[Pose | None]
    torn_tail: bool
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fps(self) -> float | None:
        """The header's frame rate (checked on reading), or None where it gives none."""
        value = self.header.get("fps")
        return None if value is None else float(value)


def read_take(path: Path) -> Take:
    """Read a take file; frames without a pose come back as None. Strict: see the module."""
    lines = read_json_lines(path)
    header = lines.header
    if header is None or header.get("format") != TAKE_FORMAT:
        raise TakeFormatError(f"{path}: not an immersion take (no '{TAKE_FORMAT}' header)")
    version = header.get("version")
    if type(version) is not int or version not in READ_VERSIONS:
        raise TakeFormatError(
            f"{path}:1: 'version' {fields.brief(version)} unsupported (this reads 1 and 2)"
        )
    if header.get("fps") is not None:
        fields.fps(header["fps"], f"{path}:1")
    poses: list[Pose | None] = []
    events: list[dict[str, Any]] = []
    last_t = -math.inf
    for lineno, obj in lines.frames:
        where = f"{path}:{lineno}"
        if "event" in obj:
            if type(obj["event"]) is not str:
                raise TakeFormatError(f"{where}: 'event' must be a string")
            fields.seconds(obj, where)
            events.append(obj)
            continue  # written from another thread: a few ms out of order is fine
        if obj.get("pose", True) is None:
            t = fields.seconds(obj, where)
            poses.append(None)
        else:
            if version == 1 and (extra := next((k for k in _FACE_FIELDS if k in obj), None)):
                raise TakeFormatError(f"{where}: {extra!r} needs a version-2 take")
            pose = Pose.from_json(obj, where=where)
            t = pose.t
            poses.append(pose)
        last_t = check_time_order(t, last_t, where)
    return Take(header, poses, lines.torn_tail, events)


def check_time_order(t: float, last_t: float, where: str) -> float:
    """``t``, when it does not go back from the previous frame's ``last_t``."""
    if t < last_t:
        raise TakeFormatError(f"{where}: 't' goes back in time ({t:g} s after {last_t:g} s)")
    return t

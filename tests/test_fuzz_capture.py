"""Fuzzing every reader of outside data in capture/: take files, landmarks files (JSON lines and
.npy). Whatever the bytes, a reader either returns sane values or raises one of the project's
typed errors (a CaptureError, one line); it never hangs and its memory stays bounded.

Budget: FUZZ below (200 examples per test, derandomized so CI sees the same inputs each run).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from capture.face import Face
from capture.pipeline import CaptureSettings, pose_stream
from capture.retarget import retarget
from capture.sources import LandmarksFileSource
from capture.synthetic import frame_from_avatar_points, tpose_avatar_points
from capture.take import Take, read_take
from tests.support import bounded

FUZZ = settings(
    max_examples=200,
    derandomize=True,
    deadline=timedelta(seconds=2),  # generous: a slow CI runner, not a hang
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
pytestmark = pytest.mark.timeout(60)


# --- The property ------------------------------------------------------------------------------


def _check_take(take: Take) -> None:
    """An accepted take holds only sane values."""
    assert take.fps is None or 0.01 <= take.fps <= 100_000
    last = -math.inf
    for pose in take.poses:
        if pose is None:
            continue
        assert math.isfinite(pose.t) and pose.t >= last
        last = pose.t
        assert np.all(np.isfinite(pose.hips)) and np.all(np.isfinite(pose.rotations))
        np.testing.assert_allclose(np.linalg.norm(pose.rotations, axis=1), 1.0, atol=1e-9)
        assert np.all((pose.confidence >= 0) & (pose.confidence <= 1))
        if pose.face is not None:
            face = pose.face
            assert np.all((face.weights >= 0) & (face.weights <= 1)) and 0 <= face.confidence <= 1
            assert np.all(np.abs(face.gaze) <= math.pi / 2)


def _check_landmarks(source: LandmarksFileSource) -> None:
    """Accepted landmarks go through the filter and the retargeter to finite poses."""
    for frame in pose_stream(source, CaptureSettings()):
        assert frame.pose is not None
        assert np.all(np.isfinite(frame.pose.rotations)), frame.t
        assert np.all(np.isfinite(frame.pose.hips))
        assert np.all((frame.pose.confidence >= 0) & (frame.pose.confidence <= 1))


def _read_take(path: Path) -> None:
    result = bounded(lambda: read_take(path))
    if isinstance(result, Take):
        _check_take(result)


def _read_landmarks(path: Path, fps: float | None = None) -> None:
    result = bounded(lambda: LandmarksFileSource(path, fps))
    if isinstance(result, LandmarksFileSource):
        _check_landmarks(result)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# --- Inputs --------------------------------------------------------------------------------

SPECIAL_FLOATS = st.sampled_from(
    [math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, -0.0, 0.0, 1.0, -1.0, 1e-7, 2.0]
)
HUGE_INTS = st.sampled_from([10**19, -(10**19), 10**400, 2**63, -(2**64)])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    HUGE_INTS,
    st.floats(),
    SPECIAL_FLOATS,
    st.text(max_size=12),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=40,
)


class Deep:
    """A value nested ``depth`` lists (or objects) deep, written out without recursion."""

    def __init__(self, depth: int, objects: bool) -> None:
        self.depth, self.objects = depth, objects

    def text(self) -> str:
        if self.objects:
            return '{"a":' * self.depth + "1" + "}" * self.depth
        return "[" * self.depth + "]" * self.depth


DEEP = st.builds(Deep, st.integers(1, 3000), st.booleans())
NASTY = st.one_of(SCALARS, JSON_VALUES, DEEP)


def _dumps(obj: object) -> str:
    """JSON as Python writes it (NaN and Infinity as bare words), with Deep values spliced in."""
    deep: list[Deep] = []

    def mark(value: object) -> object:
        if isinstance(value, Deep):
            deep.append(value)
            return f"\0deep{len(deep) - 1}\0"
        if isinstance(value, list):
            return [mark(v) for v in value]
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        return value

    text = json.dumps(mark(obj))
    for i, d in enumerate(deep):
        text = text.replace(json.dumps(f"\0deep{i}\0"), d.text())
    return text


def _valid_take_lines(landmarks: bool) -> list[dict[str, Any]]:
    """The records of a small valid take: header, poses, a frame without one, an event.
    A fresh list each call; mutations copy what they change (_replace, _delete)."""
    return list(_VALID[landmarks])


def _build_valid_take_lines(landmarks: bool) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    header = {
        "format": "immersion-take",
        "version": 2,
        "skeleton": "vrm1-normalized",
        "bones": ["hips"],
        "source": "fuzz",
        "model": "lite",
        "fps": 30.0,
    }
    records.append(header)
    for k in range(3):
        t = k / 30
        frame = frame_from_avatar_points(t, tpose_avatar_points(), visibility=0.9)
        record = retarget(frame).to_json()
        if k == 1:  # a face track and a finger (take format 2)
            record.update(Face.from_named({"jawOpen": 0.4}, (0.1, 0.0), 0.8).to_json())
            record["bones"]["leftIndexProximal"] = [0.0, 0.0, -0.5, 0.866]
            record["confidence"]["leftIndexProximal"] = 0.7
        if landmarks:
            record["worldLandmarks"] = frame.as_rows()
        records.append(record)
    records.insert(2, {"t": 0.02, "pose": None})
    records.insert(3, {"t": 0.03, "event": "note", "text": "again"})
    return records


_VALID = {landmarks: _build_valid_take_lines(landmarks) for landmarks in (False, True)}


def _paths(obj: object, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON value: keys and list indices, outermost first."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


def _replace(obj: Any, path: tuple[Any, ...], value: object) -> Any:
    if not path:
        return value
    head, *rest = path
    copy = dict(obj) if isinstance(obj, dict) else list(obj)
    copy[head] = _replace(obj[head], tuple(rest), value)
    return copy


def _delete(obj: Any, path: tuple[Any, ...]) -> Any:
    head, *rest = path
    copy = dict(obj) if isinstance(obj, dict) else list(obj)
    if rest:
        copy[head] = _delete(obj[head], tuple(rest))
    else:
        del copy[head]
    return copy


@st.composite
def mutated_takes(draw: st.DrawFn, landmarks: bool) -> bytes:
    """A valid take (or landmarks take) with a few structured changes: a field replaced by a
    nasty value or deleted, a key added, a line duplicated, swapped, dropped or torn."""
    records: list[Any] = _valid_take_lines(landmarks)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add", "lines"]))
        line = draw(st.integers(0, len(records) - 1))
        if op == "lines":
            other = draw(st.integers(0, len(records) - 1))
            how = draw(st.sampled_from(["duplicate", "swap", "drop"]))
            if how == "duplicate":
                records.insert(other, records[line])
            elif how == "swap":
                records[line], records[other] = records[other], records[line]
            elif len(records) > 1:
                del records[line]
            continue
        places = list(_paths(records[line]))
        place = draw(st.sampled_from(places))
        if op == "replace":
            records[line] = _replace(records[line], place, draw(NASTY))
        elif op == "delete" and place:
            records[line] = _delete(records[line], place)
        elif op == "add" and isinstance(records[line], dict):
            records[line] = {**records[line], draw(st.text(max_size=8)): draw(NASTY)}
    text = "".join(_dumps(r) + "\n" for r in records).encode()
    if draw(st.booleans()) and len(text) > 2:  # killed mid-write
        text = text[: draw(st.integers(1, len(text) - 1))]
    return text


# --- Take files ------------------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=4000))
def test_random_bytes(folder: Path, data: bytes) -> None:
    path = folder / "bytes.jsonl"
    path.write_bytes(data)
    _read_take(path)
    _read_landmarks(path)


@FUZZ
@given(
    lines=st.lists(
        st.one_of(JSON_VALUES, DEEP, st.dictionaries(st.text(max_size=8), NASTY)), max_size=8
    ),
    header=st.booleans(),
)
def test_random_json_lines(folder: Path, lines: list[object], header: bool) -> None:
    path = folder / "json.jsonl"
    records = [_valid_take_lines(False)[0], *lines] if header else lines
    path.write_text("".join(_dumps(r) + "\n" for r in records))
    _read_take(path)
    _read_landmarks(path)


@FUZZ
@given(data=mutated_takes(landmarks=False))
def test_mutated_takes(folder: Path, data: bytes) -> None:
    path = folder / "take.jsonl"
    path.write_bytes(data)
    _read_take(path)


@FUZZ
@given(data=mutated_takes(landmarks=True))
def test_mutated_landmarks_takes(folder: Path, data: bytes) -> None:
    path = folder / "landmarks.jsonl"
    path.write_bytes(data)
    _read_take(path)
    _read_landmarks(path)


# --- .npy landmarks ----------------------------------------------------------------------------

NPY_DTYPES = st.sampled_from(
    ["<f8", ">f4", "<f2", "|i1", "<i8", "|u1", "|b1", "<c16", "<U3", "|S2", "<m8[s]", "<M8[D]"]
)


# Arrays of the right shape with values a reader should take: any points within a few metres
# (collinear, coincident, all zero...) and visibility in [0, 1]; the retargeter must cope.
PLAUSIBLE = hnp.arrays(
    dtype=st.sampled_from([np.float64, np.float32]),
    shape=st.tuples(st.integers(1, 3), st.just(33), st.sampled_from([3, 4])),
    elements=st.floats(0.0, 1.0, width=32) | st.sampled_from([0.0, 1.0, 0.5]),
)


@FUZZ
@given(
    arr=PLAUSIBLE
    | hnp.arrays(
        dtype=NPY_DTYPES.map(np.dtype),
        shape=st.tuples(st.integers(0, 3), st.sampled_from([33, 32, 1]), st.sampled_from([3, 4, 5]))
        | hnp.array_shapes(min_dims=0, max_dims=4, max_side=4),
    ),
    fps=st.one_of(st.none(), SPECIAL_FLOATS, st.floats(0.001, 2000)),
)
def test_random_npy_arrays(folder: Path, arr: np.ndarray, fps: float | None) -> None:
    path = folder / "arr.npy"
    np.save(path, arr, allow_pickle=False)
    _read_landmarks(path, fps)


def _npy_bytes() -> bytes:
    buffer = io.BytesIO()
    rows = frame_from_avatar_points(0.0, tpose_avatar_points()).as_rows()
    np.save(buffer, np.repeat(np.array(rows)[None], 3, axis=0))
    return buffer.getvalue()


NPY = _npy_bytes()
NPY_HEADER_END = NPY.index(b"\n") + 1


@FUZZ
@given(
    header=st.one_of(
        st.binary(max_size=200),
        st.builds(
            lambda descr, order, shape: repr(
                {"descr": descr, "fortran_order": order, "shape": shape}
            ).encode(),
            st.sampled_from(["<f8", "|O", "<U2", "|V8", "[('a', '<f8')]", "x"]),
            st.booleans(),
            st.tuples(*[st.integers(-5, 2**62)] * 3)
            | st.lists(st.integers(-2, 10**20), max_size=5).map(tuple),
        ),
    ),
    cut=st.integers(0, len(NPY)),
)
def test_npy_with_mutated_headers(folder: Path, header: bytes, cut: int) -> None:
    path = folder / "header.npy"
    # The NPY signature and version, then a header of our own and the original data, cut short.
    prefix = NPY[:8]
    length = len(header).to_bytes(2, "little")
    path.write_bytes((prefix + length + header + NPY[NPY_HEADER_END:])[: max(cut, 10)])
    _read_landmarks(path, 30.0)

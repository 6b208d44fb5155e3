"""Strict reading of values from parsed JSON lines (take and landmarks files).

A number is a JSON number: not a string, not ``true``, finite, and inside the range its field
allows; nothing is converted or guessed. Each refusal is a :class:`TakeFormatError` whose one
line names the place (``file:line``) and the field, and shows the bad value briefly: a long
string, a huge integer or a nested value is described, never printed whole.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from capture.errors import TakeFormatError

FloatArray = NDArray[np.float64]

# Objects and lists inside objects and lists: our lines need 3 levels; more is not ours, and
# consumers that walk a value recursively (json.dumps, repr) must not meet thousands.
MAX_DEPTH = 16


def brief(value: object) -> str:
    """A short, safe description of a JSON value for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return repr(value) if abs(value) < 10**15 else "a huge integer"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:40]) + "…"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def number(value: object, where: str, field: str, lo: float, hi: float) -> float:
    """``value`` as a float, if it is a JSON number in [lo, hi] (NaN and ±inf never are)."""
    if type(value) is not int and type(value) is not float:
        raise TakeFormatError(f"{where}: {field!r} must be a number, got {brief(value)}")
    # int and float compare exactly, so a huge integer is refused without overflowing.
    if not lo <= value <= hi:
        raise TakeFormatError(
            f"{where}: {field!r} must be a number in [{lo:g}, {hi:g}], got {brief(value)}"
        )
    return float(value)


def vector(value: object, where: str, field: str, size: int, bound: float) -> FloatArray:
    """A list of ``size`` JSON numbers, each within ±``bound``, as a float64 array."""
    if (
        type(value) is not list
        or len(value) != size
        or not all(type(x) is float or type(x) is int for x in value)
    ):
        raise TakeFormatError(f"{where}: {field!r} must be a list of {size} numbers")
    return _bounded(value, where, field, bound)


def matrix(
    value: object, where: str, field: str, rows: int, widths: tuple[int, ...], bound: float
) -> FloatArray:
    """``rows`` lists of one of ``widths`` numbers (all the same), each within ±``bound``."""
    if (
        type(value) is not list
        or len(value) != rows
        or type(value[0]) is not list
        or len(value[0]) not in widths
        or not all(
            type(row) is list
            and len(row) == len(value[0])
            and all(type(x) is float or type(x) is int for x in row)
            for row in value
        )
    ):
        shape = " or ".join(str(w) for w in widths)
        raise TakeFormatError(f"{where}: {field!r} must be {rows} lists of {shape} numbers")
    return _bounded(value, where, field, bound)


def _bounded(value: list[Any], where: str, field: str, bound: float) -> FloatArray:
    try:
        arr = np.array(value, dtype=np.float64)
    except OverflowError:  # an integer beyond any float
        arr = np.array([math.inf])
    if not np.all(np.abs(arr) <= bound):  # NaN fails this too
        raise TakeFormatError(
            f"{where}: {field!r} must hold finite numbers within ±{bound:g}, "
            "got NaN, infinite or out-of-range values"
        )
    return arr


def check_depth(obj: object, where: str) -> None:
    """Refuse values nested deeper than :data:`MAX_DEPTH` (iteratively: no recursion)."""
    stack: list[tuple[object, int]] = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if type(value) is dict else value if type(value) is list else None
        if children is None:
            continue
        if depth > MAX_DEPTH:
            raise TakeFormatError(f"{where}: nested deeper than {MAX_DEPTH} levels")
        stack.extend((c, depth + 1) for c in children if type(c) is dict or type(c) is list)


# Ranges of the take format's numbers (see capture.take).
# Seconds on a take's clock: 11½ days is longer than any take; larger is some other clock.
MAX_SECONDS = 1_000_000.0
# Frames per second, of a header's ``fps`` and of a source given one. Below the minimum, a
# consumer timing frames by k/fps would wait minutes per frame; the maximum leaves room for
# the measured rate of an unpaced replay, which runs to thousands.
MIN_FPS, MAX_FPS = 0.01, 100_000.0
# Metres from the origin of the hips translation.
MAX_HIPS_METRES = 1000.0


def fps(value: object, where: str) -> float:
    """A frame rate: a number in [MIN_FPS, MAX_FPS]."""
    return number(value, where, "fps", MIN_FPS, MAX_FPS)


def seconds(obj: dict[str, Any], where: str) -> float:
    """A line's ``"t"``: seconds within ±MAX_SECONDS. A little below 0 happens (a frame
    stamped just before the take started, as the room's capture thread may), far beyond
    either way does not."""
    if "t" not in obj:
        raise TakeFormatError(f"{where}: no 't' (seconds)")
    return number(obj["t"], where, "t", -MAX_SECONDS, MAX_SECONDS)

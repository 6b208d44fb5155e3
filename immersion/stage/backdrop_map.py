"""Where an image backdrop lies round the set, by direction, so no view stretches it.

``backdrop.frag`` samples the image by the direction a pixel looks along (Panda axes: +Y into
the set, away from the audience; +X right; +Z up), not by where it is on a frame or a dome:

- **equirectangular**: once round the sky. Longitude 0 (the image's middle column) is into the
  set, where the camera presets look; the left and right edges meet behind the audience.
- **card**: a flat picture at infinity behind the set, ``span`` degrees wide as seen from
  anywhere on the set, centred on the horizon, at its own aspect; round it, the gradient.

The functions here are the shader's maths in numpy (the tests hold the two together), and the
mirror card's per-corner directions for a camera.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

F = NDArray[np.float64]

MAPPINGS = ("equirectangular", "card")
DEFAULT_SPAN = 120.0  # degrees: wider than any camera preset's view, so a card fills the frame
EQUIRECT_ASPECT = (1.98, 2.02)  # width / height an equirectangular image may have


def default_mapping(width: int, height: int) -> str:
    """A 2:1 image is taken for a panorama, any other for a card."""
    lo, hi = EQUIRECT_ASPECT
    return "equirectangular" if lo <= width / height <= hi else "card"


def equirect_uv(d: F) -> F:
    """(..., 2) texture coordinates (v 0 at the bottom) for (..., 3) directions."""
    d = d / np.linalg.norm(d, axis=-1, keepdims=True)
    u = 0.5 + np.arctan2(d[..., 0], d[..., 1]) / (2 * math.pi)
    v = 0.5 + np.arcsin(np.clip(d[..., 2], -1.0, 1.0)) / math.pi
    out: F = np.stack([u, v], axis=-1)
    return out


def card_window(span_deg: float, aspect: float) -> tuple[float, float]:
    """(half width, half height) of the card on the plane one unit into the set."""
    half = math.tan(math.radians(span_deg) / 2)
    return half, half / aspect


def card_uv(d: F, span_deg: float, aspect: float) -> F:
    """(..., 2) texture coordinates on the card, NaN where a direction misses it."""
    half_w, half_h = card_window(span_deg, aspect)
    ahead = d[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = 0.5 + d[..., 0] / ahead / (2 * half_w)
        v = 0.5 + d[..., 2] / ahead / (2 * half_h)
    inside = (ahead > 0) & (u >= 0) & (u <= 1) & (v >= 0) & (v <= 1)
    out: F = np.where(inside[..., None], np.stack([u, v], axis=-1), np.nan)
    return out


Inputs = dict[str, tuple[float, float, float]]


def frame_inputs(rotation: F, h_fov_deg: float, v_fov_deg: float) -> Inputs:
    """``backdrop.vert``'s inputs for the mirror's full-frame card (vertices x, z in -1..1,
    y 0): ``x * u_dx + z * u_dz + u_d0`` is the direction through that point of the frame of
    a camera with ``rotation`` (columns: its right, forward, up in the set) and these fields
    of view."""
    r = np.asarray(rotation, dtype=np.float64)
    tx, tz = math.tan(math.radians(h_fov_deg) / 2), math.tan(math.radians(v_fov_deg) / 2)
    return {
        "u_dx": _triple(r[:, 0] * tx),
        "u_dy": (0.0, 0.0, 0.0),
        "u_dz": _triple(r[:, 2] * tz),
        "u_d0": _triple(r[:, 1]),
    }


def identity_inputs() -> Inputs:
    """The inputs for geometry whose vertices point along their own directions (a dome)."""
    return {
        "u_dx": (1.0, 0.0, 0.0),
        "u_dy": (0.0, 1.0, 0.0),
        "u_dz": (0.0, 0.0, 1.0),
        "u_d0": (0.0, 0.0, 0.0),
    }


def direction(inputs: Inputs, vertex: F) -> F:
    """What ``backdrop.vert`` makes of a vertex (numpy's copy, for tests)."""
    v = np.asarray(vertex, dtype=np.float64)
    out: F = (
        v[..., :1] * np.array(inputs["u_dx"])
        + v[..., 1:2] * np.array(inputs["u_dy"])
        + v[..., 2:3] * np.array(inputs["u_dz"])
        + np.array(inputs["u_d0"])
    )
    return out


def _triple(v: F) -> tuple[float, float, float]:
    return float(v[0]), float(v[1]), float(v[2])

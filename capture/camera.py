"""The camera a performance was seen through: picture size and vertical field of view.

Root motion needs it: image landmarks say where the person is in the picture, world landmarks
say how big they are, and the field of view turns the two into a distance. A video file does
not record its lens, so a source without one gets :data:`DEFAULT_VFOV_DEG`, a typical webcam's
(about 78° diagonal at 16:9, e.g. a Logitech C920); ``--camera-fov`` sets the true one.
Pinhole model, square pixels, principal point at the picture's centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from capture import fields
from capture.errors import TakeFormatError

DEFAULT_VFOV_DEG = 43.0
MIN_VFOV_DEG = 5.0
MAX_VFOV_DEG = 170.0
MAX_PIXELS = 65_536  # a side, in pixels


@dataclass(frozen=True, slots=True)
class CameraModel:
    """``width`` and ``height`` in pixels, ``vfov_deg`` the vertical field of view in degrees."""

    width: int
    height: int
    vfov_deg: float = DEFAULT_VFOV_DEG

    def __post_init__(self) -> None:
        if not (0 < self.width <= MAX_PIXELS and 0 < self.height <= MAX_PIXELS):
            raise ValueError(f"camera size must be 1 to {MAX_PIXELS} pixels a side")
        if not (math.isfinite(self.vfov_deg) and MIN_VFOV_DEG <= self.vfov_deg <= MAX_VFOV_DEG):
            raise ValueError(
                f"camera field of view must be {MIN_VFOV_DEG:g} to {MAX_VFOV_DEG:g} degrees"
            )

    @property
    def focal_px(self) -> float:
        """Focal length in pixels (the same along both axes)."""
        return 0.5 * self.height / math.tan(math.radians(self.vfov_deg) / 2.0)

    @property
    def aspect(self) -> float:
        return self.width / self.height

    def to_json(self) -> dict[str, Any]:
        return {"width": self.width, "height": self.height, "vfovDeg": round(self.vfov_deg, 4)}

    @classmethod
    def from_json(cls, obj: object, where: str) -> CameraModel:
        """A take or landmarks header's ``"camera"`` object, strictly."""
        if type(obj) is not dict:
            raise TakeFormatError(f"{where}: 'camera' must be an object of width, height, vfovDeg")
        unknown = set(obj) - {"width", "height", "vfovDeg"}
        if unknown:
            raise TakeFormatError(f"{where}: 'camera' has unknown fields {sorted(unknown)[:3]}")
        size = []
        for key in ("width", "height"):
            value = obj.get(key)
            if type(value) is not int or not 0 < value <= MAX_PIXELS:
                raise TakeFormatError(
                    f"{where}: 'camera.{key}' must be a whole number of pixels, 1 to {MAX_PIXELS}"
                )
            size.append(value)
        vfov = (
            fields.number(obj["vfovDeg"], where, "camera.vfovDeg", MIN_VFOV_DEG, MAX_VFOV_DEG)
            if "vfovDeg" in obj
            else DEFAULT_VFOV_DEG
        )
        return cls(size[0], size[1], vfov)

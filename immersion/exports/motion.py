"""A take as evenly spaced frames, and its motion solved onto a :class:`Rig`.

One exported frame per take frame, ``frame_time`` apart: the header's fps, else the median
spacing of consecutive frames (a live capture's clock jitters; its median does not). A frame
without a pose holds the previous one (frames before the first pose hold the first), so the
timeline keeps its length and its gaps do not snap to the T-pose.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from capture.pose import Pose
from capture.rotations import matrix_to_quat
from capture.take import Take
from immersion.avatars.rig import Rig, Stride
from immersion.errors import ExportError

F = NDArray[np.float64]
DEFAULT_FPS = 30.0  # a take with no fps and fewer than two posed frames in a row
# Takes with more frames than this show a progress bar while solving (≈ 20 s at 30 fps).
PROGRESS_FRAMES = 600


@dataclass(frozen=True)
class Motion:
    """``poses``: one per take frame, gaps held; ``frame_time``: seconds between them."""

    frame_time: float
    poses: list[Pose]

    @property
    def has_face(self) -> bool:
        return any(p.face is not None for p in self.poses)

    @property
    def times(self) -> F:
        return np.arange(len(self.poses), dtype=np.float64) * self.frame_time


def take_motion(take: Take, path: Path) -> Motion:
    """The take's frames, gaps held; refuses a take without a single pose, naming ``path``."""
    first = next((p for p in take.poses if p is not None), None)
    if first is None:
        raise ExportError(f"{path}: the take has no frame with a pose; nothing to export")
    poses: list[Pose] = []
    held = first
    for p in take.poses:
        held = p if p is not None else held
        poses.append(held)
    return Motion(frame_time(take), poses)


def frame_time(take: Take) -> float:
    """Seconds per frame: 1 / the header's fps, else the median spacing of frames that follow
    one another with a pose each (a frame without a pose has no time of its own in a Take)."""
    if take.fps is not None:
        return 1.0 / take.fps
    gaps = [
        b.t - a.t
        for a, b in zip(take.poses, take.poses[1:], strict=False)
        if a is not None and b is not None and b.t > a.t
    ]
    # Times are stored to the microsecond: so is the spacing (no 0.040000000000000036).
    return round(float(np.median(gaps)), 6) if gaps else 1.0 / DEFAULT_FPS


def solve_motion(rig: Rig, motion: Motion, *, progress: bool = True) -> tuple[F, F]:
    """(T, n, 4) local joint rotations ``[x, y, z, w]`` for ``rig.bones`` and (T, 3) hips
    local translations, as the room's avatar would be posed (:meth:`Rig.solve`, with the
    :class:`Stride` of root motion). Quaternion signs are kept continuous from frame to frame,
    so that linear interpolation between keys takes the short way."""
    count = len(motion.poses)
    rotations = np.empty((count, len(rig.bones), 4))
    hips = np.empty((count, 3))
    stride = Stride(rig.legs)
    frames = tqdm(
        motion.poses,
        desc="solving",
        unit="frame",
        disable=True if not progress or count <= PROGRESS_FRAMES else None,
        leave=False,
    )
    for k, pose in enumerate(frames):
        local, hips[k] = rig.solve(pose, stride(pose))
        rotations[k] = matrix_to_quat(local)
    flip = np.sum(rotations[1:] * rotations[:-1], axis=-1) < 0.0
    sign = np.concatenate([np.ones((1, len(rig.bones))), np.where(flip, -1.0, 1.0)])
    rotations *= np.cumprod(sign, axis=0)[..., None]
    return rotations, hips

"""Landmarks with known ground truth: a T-pose, and DeepMimic motion-capture clips.

DeepMimic clips (shipped in pybullet's data, zlib licence) hold real motion capture as a root
position and joint quaternions per frame, on the humanoid in ``pybullet_data/humanoid``. Forward
kinematics gives true joint positions and segment frames; rigid offsets for the face, hands and
feet turn them into BlazePose's 33 landmarks, in MediaPipe world axes, so the retargeter can be
measured against the truth. Used by the tests and ``benchmarks/``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from capture.camera import CameraModel
from capture.errors import TakeFormatError
from capture.fields import brief
from capture.landmarks import LANDMARK_COUNT, FloatArray, LandmarkFrame, avatar_to_mediapipe
from capture.landmarks import Landmark as L
from capture.motion import SOLE_POINTS
from capture.pose import Pose
from capture.retarget import HEAD_FORWARD_REST
from capture.rotations import normalize, quat_to_matrix
from capture.skeleton import Bone


def tpose_avatar_points() -> FloatArray:
    """(33, 3) landmarks of a 1.7 m person in the rest T-pose, avatar space, origin at hips."""
    p = np.zeros((LANDMARK_COUNT, 3))
    for side, s in (("LEFT", 1.0), ("RIGHT", -1.0)):
        p[L[f"{side}_HIP"]] = [0.09 * s, 0.0, 0.0]
        p[L[f"{side}_KNEE"]] = [0.09 * s, -0.42, 0.0]
        p[L[f"{side}_ANKLE"]] = [0.09 * s, -0.83, 0.0]
        p[L[f"{side}_HEEL"]] = [0.09 * s, -0.90, -0.05]
        p[L[f"{side}_FOOT_INDEX"]] = [0.09 * s, -0.90, 0.15]
        p[L[f"{side}_SHOULDER"]] = [0.18 * s, 0.50, 0.0]
        p[L[f"{side}_ELBOW"]] = [0.46 * s, 0.50, 0.0]
        p[L[f"{side}_WRIST"]] = [0.72 * s, 0.50, 0.0]
        p[L[f"{side}_PINKY"]] = [0.805 * s, 0.50, -0.03]
        p[L[f"{side}_INDEX"]] = [0.805 * s, 0.50, 0.03]
        p[L[f"{side}_THUMB"]] = [0.76 * s, 0.49, 0.045]
        p[L[f"{side}_EAR"]] = [0.075 * s, 0.70, 0.0]
        p[L[f"{side}_EYE_INNER"]] = [0.015 * s, 0.71, 0.085]
        p[L[f"{side}_EYE"]] = [0.032 * s, 0.71, 0.085]
        p[L[f"{side}_EYE_OUTER"]] = [0.045 * s, 0.71, 0.08]
        p[L[f"MOUTH_{side}"]] = [0.025 * s, 0.63, 0.085]
    p[L.NOSE] = [0.0, 0.675, 0.10]
    return p


def frame_from_avatar_points(
    t: float, points: FloatArray, visibility: float = 1.0
) -> LandmarkFrame:
    """A landmark frame (MediaPipe axes) from avatar-space points, all with one visibility."""
    rows = np.concatenate(
        [avatar_to_mediapipe(points), np.full((LANDMARK_COUNT, 1), visibility)], axis=1
    )
    return LandmarkFrame.from_array(t, rows)


# --- DeepMimic -----------------------------------------------------------------------------

# DeepMimic's world: Y up, +X forward, +Z the character's right. Avatar: left on +X, facing +Z.
_DM_TO_AVATAR = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
# pybullet's DeepMimic environment loads the URDF at a quarter of its size.
_URDF_SCALE = 0.25

# Frame layout of humanoid3d clips: duration, root position, then joints in this order, each a
# quaternion [w, x, y, z] (spherical) or an angle about Z in radians (revolute).
_DM_JOINTS: tuple[tuple[str, int], ...] = (
    ("root", 4),
    ("chest", 4),
    ("neck", 4),
    ("right_hip", 4),
    ("right_knee", 1),
    ("right_ankle", 4),
    ("right_shoulder", 4),
    ("right_elbow", 1),
    ("left_hip", 4),
    ("left_knee", 1),
    ("left_ankle", 4),
    ("left_shoulder", 4),
    ("left_elbow", 1),
)
_DM_PARENT = {
    "chest": "root",
    "neck": "chest",
    "right_hip": "root",
    "right_knee": "right_hip",
    "right_ankle": "right_knee",
    "right_shoulder": "chest",
    "right_elbow": "right_shoulder",
    "right_wrist": "right_elbow",
    "left_hip": "root",
    "left_knee": "left_hip",
    "left_ankle": "left_knee",
    "left_shoulder": "chest",
    "left_elbow": "left_shoulder",
    "left_wrist": "left_elbow",
}

# Landmarks as rigid offsets (metres) in a DeepMimic joint's own frame (its rest: arms hanging
# with palms toward the body, feet flat and forward, head level). "s" flips with the side:
# the left side is -Z in DeepMimic.
_NOSE = (0.10, 0.095, 0.0)
_HEAD = {
    "EAR": (0.0, 0.12, -0.075),
    "EYE_INNER": (0.085, 0.13, -0.015),
    "EYE": (0.085, 0.13, -0.032),
    "EYE_OUTER": (0.08, 0.13, -0.045),
    "MOUTH": (0.085, 0.05, -0.025),
}
_HAND = {"INDEX": (0.025, -0.35, 0.0), "PINKY": (-0.03, -0.34, 0.0), "THUMB": (0.045, -0.30, 0.01)}
_FOOT = {"HEEL": (-0.05, -0.07, 0.0), "FOOT_INDEX": (0.15, -0.07, 0.0)}


@dataclass(frozen=True, slots=True)
class MotionClip:
    """A DeepMimic clip: per-frame times (s), root positions (m) and joint values."""

    name: str
    times: FloatArray
    frames: FloatArray  # (T, 44) as in the file

    @classmethod
    def load(cls, path: Path) -> MotionClip:
        try:
            data = json.loads(path.read_bytes())
            frames = np.array(data["Frames"], dtype=np.float64)
        except OSError as exc:
            raise TakeFormatError(f"{path}: cannot read ({exc.strerror})") from None
        except RecursionError:
            raise TakeFormatError(
                f"{path}: not a DeepMimic motion clip (nested too deeply)"
            ) from None
        except (ValueError, KeyError, TypeError, IndexError, OverflowError):
            raise TakeFormatError(
                f"{path}: not a DeepMimic motion clip (no 'Frames' of numbers)"
            ) from None
        if frames.ndim != 2 or frames.shape[1] != 44 or len(frames) == 0:
            raise TakeFormatError(f"{path}: expected frames of 44 values, got {frames.shape}")
        if not np.all(np.isfinite(frames)) or np.any(frames[:, 0] < 0):
            raise TakeFormatError(f"{path}: frames must be finite numbers, durations not negative")
        times = np.concatenate([[0.0], np.cumsum(frames[:-1, 0])])
        return cls(path.stem, times, frames)


@dataclass(frozen=True, slots=True)
class Humanoid:
    """Joint offsets (metres, parent frame) of the DeepMimic humanoid, read from its URDF."""

    offsets: dict[str, FloatArray]

    @classmethod
    def load(cls, urdf: Path) -> Humanoid:
        try:
            text = urdf.read_text(errors="replace").replace("\x00", "")
        except OSError as exc:
            raise TakeFormatError(f"{urdf}: cannot read ({exc.strerror})") from None
        offsets: dict[str, FloatArray] = {}
        for m in re.finditer(r'<joint name="(\w+)".*?</joint>', text, re.S):
            xyz = re.search(r'<origin[^>]*xyz\s*=\s*"([^"]+)"', m.group(0))
            if xyz:
                try:
                    offset = np.array([float(v) for v in xyz.group(1).split()])
                except ValueError:
                    offset = np.array([])
                if offset.shape != (3,) or not np.all(np.isfinite(offset)):
                    raise TakeFormatError(
                        f"{urdf}: joint {brief(m.group(1))} needs an origin xyz of 3 finite numbers"
                    )
                offsets[m.group(1)] = offset * _URDF_SCALE
        missing = set(_DM_PARENT) - set(offsets)
        if missing:
            raise TakeFormatError(f"{urdf}: joints missing from the humanoid: {sorted(missing)}")
        return cls(offsets)


@dataclass(frozen=True, slots=True)
class TruthFrame:
    """Ground truth for one frame: landmarks (avatar space, origin at the hip midpoint)."""

    t: float
    points: FloatArray  # (33, 3)


def clip_truth(clip: MotionClip, body: Humanoid, yaw_deg: float = 0.0) -> list[TruthFrame]:
    """True landmark positions for every frame of ``clip``, seen from a camera the actor's root
    faces when ``yaw_deg`` is 0 (the actor turned by ``yaw_deg`` about the vertical otherwise).

    The clip's heading is removed per frame (the camera follows the actor, as a casting camera
    framing a performer does), leaving the body's own turns relative to it.
    """
    out: list[TruthFrame] = []
    yaw = np.radians(yaw_deg)
    turn = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
    for t, row in zip(clip.times, clip.frames, strict=True):
        world = _forward_kinematics(row, body)
        pts = world @ _DM_TO_AVATAR.T
        heading = _heading(row)
        pts = pts - 0.5 * (pts[L.LEFT_HIP] + pts[L.RIGHT_HIP])
        out.append(TruthFrame(float(t), pts @ (turn @ heading).T))
    return out


def _heading(row: FloatArray) -> FloatArray:
    """Rotation (avatar space) that undoes the root's heading about the vertical."""
    root = _DM_TO_AVATAR @ quat_to_matrix(_wxyz(row[4:8])) @ _DM_TO_AVATAR.T
    fwd = root @ np.array([0.0, 0.0, 1.0])
    angle = np.arctan2(fwd[0], fwd[2])
    c, s = np.cos(-angle), np.sin(-angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _wxyz(q: FloatArray) -> FloatArray:
    return np.array([q[1], q[2], q[3], q[0]])


def _forward_kinematics(row: FloatArray, body: Humanoid) -> FloatArray:
    """(33, 3) landmark positions in DeepMimic world axes for one clip frame."""
    local: dict[str, FloatArray] = {}
    i = 4
    for name, size in _DM_JOINTS:
        if size == 4:
            local[name] = quat_to_matrix(_wxyz(row[i : i + 4]))
        else:
            c, s = np.cos(row[i]), np.sin(row[i])
            local[name] = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
        i += size
    local["left_wrist"] = local["right_wrist"] = np.eye(3)

    rot = {"root": local["root"]}
    pos = {"root": row[1:4]}
    for joint, parent in _DM_PARENT.items():  # parents come before children
        pos[joint] = pos[parent] + rot[parent] @ body.offsets[joint]
        rot[joint] = rot[parent] @ local[joint]

    pts = np.zeros((LANDMARK_COUNT, 3))

    def place(frame: str, offset: tuple[float, float, float], flip: float = 1.0) -> FloatArray:
        o = np.array([offset[0], offset[1], offset[2] * flip])
        placed: FloatArray = pos[frame] + rot[frame] @ o
        return placed

    for side, dm, flip in (("LEFT", "left", 1.0), ("RIGHT", "right", -1.0)):
        pts[L[f"{side}_SHOULDER"]] = pos[f"{dm}_shoulder"]
        pts[L[f"{side}_ELBOW"]] = pos[f"{dm}_elbow"]
        pts[L[f"{side}_WRIST"]] = pos[f"{dm}_wrist"]
        pts[L[f"{side}_HIP"]] = pos[f"{dm}_hip"]
        pts[L[f"{side}_KNEE"]] = pos[f"{dm}_knee"]
        pts[L[f"{side}_ANKLE"]] = pos[f"{dm}_ankle"]
        for key, off in _HAND.items():
            # Hand offsets are from the elbow, so that the wrist's fixed joint needs no frame.
            pts[L[f"{side}_{key}"]] = place(f"{dm}_elbow", off, flip)
        for key, off in _FOOT.items():
            pts[L[f"{side}_{key}"]] = place(f"{dm}_ankle", off)
        for key, off in _HEAD.items():
            name = f"MOUTH_{side}" if key == "MOUTH" else f"{side}_{key}"
            pts[L[name]] = place("neck", off, flip)
    pts[L.NOSE] = place("neck", _NOSE)
    return pts


# --- Measuring a pose against the truth ------------------------------------------------------

# (bone, its rest direction, landmarks whose difference is that direction now: (+ terms, - terms))
_CHECKS: tuple[
    tuple[Bone, tuple[float, float, float], tuple[tuple[L, ...], tuple[L, ...]]], ...
] = (
    (Bone.HIPS, (1, 0, 0), ((L.LEFT_HIP,), (L.RIGHT_HIP,))),
    (Bone.UPPER_CHEST, (0, 1, 0), ((L.LEFT_SHOULDER, L.RIGHT_SHOULDER), (L.LEFT_HIP, L.RIGHT_HIP))),
    (Bone.HEAD, tuple(HEAD_FORWARD_REST), ((L.NOSE, L.NOSE), (L.LEFT_EAR, L.RIGHT_EAR))),
    (Bone.LEFT_UPPER_ARM, (1, 0, 0), ((L.LEFT_ELBOW,), (L.LEFT_SHOULDER,))),
    (Bone.LEFT_LOWER_ARM, (1, 0, 0), ((L.LEFT_WRIST,), (L.LEFT_ELBOW,))),
    (Bone.LEFT_HAND, (1, 0, 0), ((L.LEFT_INDEX, L.LEFT_PINKY), (L.LEFT_WRIST, L.LEFT_WRIST))),
    (Bone.RIGHT_UPPER_ARM, (-1, 0, 0), ((L.RIGHT_ELBOW,), (L.RIGHT_SHOULDER,))),
    (Bone.RIGHT_LOWER_ARM, (-1, 0, 0), ((L.RIGHT_WRIST,), (L.RIGHT_ELBOW,))),
    (Bone.RIGHT_HAND, (-1, 0, 0), ((L.RIGHT_INDEX, L.RIGHT_PINKY), (L.RIGHT_WRIST, L.RIGHT_WRIST))),
    (Bone.LEFT_UPPER_LEG, (0, -1, 0), ((L.LEFT_KNEE,), (L.LEFT_HIP,))),
    (Bone.LEFT_LOWER_LEG, (0, -1, 0), ((L.LEFT_ANKLE,), (L.LEFT_KNEE,))),
    (Bone.LEFT_FOOT, (0, 0, 1), ((L.LEFT_FOOT_INDEX,), (L.LEFT_HEEL,))),
    (Bone.RIGHT_UPPER_LEG, (0, -1, 0), ((L.RIGHT_KNEE,), (L.RIGHT_HIP,))),
    (Bone.RIGHT_LOWER_LEG, (0, -1, 0), ((L.RIGHT_ANKLE,), (L.RIGHT_KNEE,))),
    (Bone.RIGHT_FOOT, (0, 0, 1), ((L.RIGHT_FOOT_INDEX,), (L.RIGHT_HEEL,))),
)
CHECKED_BONES: tuple[Bone, ...] = tuple(b for b, _, _ in _CHECKS)


def direction_errors(pose: Pose, truth: FloatArray) -> FloatArray:
    """Angle in degrees, per bone of :data:`CHECKED_BONES`, between the bone's direction in avatar
    space (its rest direction carried by the pose's global rotation) and the true direction
    given by the landmarks ``truth`` (33, 3, avatar space)."""
    world = pose.global_rotations()
    out = np.empty(len(_CHECKS))
    for i, (bone, rest, (plus, minus)) in enumerate(_CHECKS):
        predicted = quat_to_matrix(world[bone]) @ np.array(rest, dtype=np.float64)
        true = truth[list(plus)].sum(axis=0) - truth[list(minus)].sum(axis=0)
        cos = predicted @ true / (np.linalg.norm(predicted) * np.linalg.norm(true))
        out[i] = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    return out


# --- A fixed camera in the room ---------------------------------------------------------------

# Truth contact: a sole point within this of the floor and slower than this along it. The sole
# points are rigid offsets from the ankle, so a pointed foot's toe dips below DeepMimic's floor:
# the median over frames of the lowest sole point stands for the floor.
TRUTH_CONTACT_HEIGHT = 0.03
TRUTH_CONTACT_SPEED = 0.3


@dataclass(frozen=True, slots=True)
class RoomTake:
    """A clip seen by a fixed, level camera, and the truth.

    ``frames``: landmark frames as MediaPipe would give them (world landmarks in the camera's
    axes around the hip centre, ``image`` landmarks by projection). Truth, avatar axes of the
    floor seen from the camera (x = the picture's right, y up, z toward the camera): ``root``
    (T, 3) the hip centre, x and z from the first frame's, y above the floor; ``points``
    (T, 33, 3) the landmarks around the hip centre (for :func:`direction_errors`); ``soles``
    (T, 4, 3) the heel and toe points of :data:`capture.motion.SOLE_POINTS` in ``root``'s frame;
    ``contact`` (T, 4) whether each is planted; ``distance`` (T,) the hips' depth, metres.
    """

    frames: list[LandmarkFrame]
    camera: CameraModel
    root: FloatArray
    points: FloatArray
    soles: FloatArray
    contact: NDArray[np.bool_]
    distance: FloatArray


def room_take(
    clip: MotionClip,
    body: Humanoid,
    *,
    camera: CameraModel | None = None,
    camera_height: float = 1.2,
    distance: float = 3.5,
    cycles: int = 1,
    path_angle_deg: float = 0.0,
    image_noise_px: float = 0.0,
    world_noise_m: float = 0.0,
    seed: int = 0,
) -> RoomTake:
    """``clip`` played ``cycles`` times end to end (the root carried on), keeping the root's
    real path and heading, seen by a level camera ``camera_height`` m above the floor and
    ``distance`` m from the middle of the path, looking at it square on: the actor crosses the
    picture (``path_angle_deg`` turns the path toward the camera). Gaussian noise: σ pixels on
    the image landmarks, σ metres per axis on the world landmarks."""
    camera = camera or CameraModel(1280, 720)
    rng = np.random.default_rng(seed)
    rows = clip.frames[:-1] if cycles > 1 else clip.frames
    step = clip.frames[-1, 1:4] - clip.frames[0, 1:4]
    step[1] = 0.0
    dt = float(np.median(clip.frames[:, 0])) if len(clip.frames) > 1 else 1.0 / 30.0
    world = []
    for k in range(cycles):
        for row in rows:
            world.append(_forward_kinematics(row, body) + k * step)
    pts = np.array(world) @ _DM_TO_AVATAR.T  # (T, 33, 3), Y up, floor at 0
    times = np.arange(len(pts)) * dt
    hip = 0.5 * (pts[:, L.LEFT_HIP] + pts[:, L.RIGHT_HIP])

    # The camera: square on to the path's middle, turned by path_angle_deg, level.
    middle = 0.5 * (hip[0] + hip[-1])
    along = hip[-1] - hip[0]
    along[1] = 0.0
    along = normalize(along) if np.linalg.norm(along) > 1e-6 else np.array([1.0, 0.0, 0.0])
    a = np.radians(path_angle_deg)
    side = np.array([-along[2], 0.0, along[0]])  # along turned 90° about +Y
    look = np.cos(a) * side + np.sin(a) * along
    centre = np.array([middle[0], camera_height, middle[2]]) - distance * look
    z_cam = normalize(np.array([look[0], 0.0, look[2]]))
    y_cam = np.array([0.0, -1.0, 0.0])
    x_cam = np.cross(y_cam, z_cam)
    to_cam = np.stack([x_cam, y_cam, z_cam])  # rows: camera axes in the room
    cam_pts = (pts - centre) @ to_cam.T  # (T, 33, 3) camera axes: x right, y down, z away
    cam_hip = (hip - centre) @ to_cam.T

    f = camera.focal_px
    frames = []
    for i, t in enumerate(times):
        p = cam_pts[i]
        mp_world = p - cam_hip[i] + rng.normal(0.0, world_noise_m, p.shape)
        image = np.empty_like(p)
        image[:, 0] = 0.5 + f * p[:, 0] / p[:, 2] / camera.width
        image[:, 1] = 0.5 + f * p[:, 1] / p[:, 2] / camera.height
        image[:, 2] = f * (p[:, 2] - cam_hip[i, 2]) / p[:, 2] / camera.width
        image[:, :2] += rng.normal(0.0, image_noise_px, (len(p), 2)) / [camera.width, camera.height]
        frame = LandmarkFrame.from_array(float(t), mp_world)
        frames.append(replace(frame, image=image))

    # Truth in the floor frame the camera sees, in avatar axes.
    avatar_hip = cam_hip * _CAMERA_TO_AVATAR
    root = avatar_hip - avatar_hip[0]
    root[:, 1] = hip[:, 1]
    soles = cam_pts[:, list(SOLE_POINTS)] * _CAMERA_TO_AVATAR - avatar_hip[0]
    soles[..., 1] = pts[:, list(SOLE_POINTS), 1]
    floor = float(np.median(soles[..., 1].min(axis=1)))
    moved = np.diff(soles[..., [0, 2]], axis=0, prepend=soles[:1, :, [0, 2]])
    speed = np.linalg.norm(moved, axis=-1) / dt
    contact = (soles[..., 1] < floor + TRUTH_CONTACT_HEIGHT) & (speed < TRUTH_CONTACT_SPEED)
    points = (cam_pts - cam_hip[:, None]) * _CAMERA_TO_AVATAR
    return RoomTake(frames, camera, root, points, soles, contact, cam_hip[:, 2].copy())


_CAMERA_TO_AVATAR = np.array([1.0, -1.0, -1.0])


def root_errors(hips: FloatArray, truth: FloatArray) -> FloatArray:
    """(T,) distance in metres between estimated and true hips (T, 3), once the first frames
    are made to agree (the avatar starts on its mark whatever the floor's estimate)."""
    d = (hips - hips[0]) - (truth - truth[0])
    out: FloatArray = np.linalg.norm(d, axis=1)
    return out


def contact_skate(soles: FloatArray, contact: NDArray[np.bool_]) -> FloatArray:
    """Per contact (a run of frames in which one sole point is planted), how far in metres the
    point strays along the floor from where it was at the contact's first frame. ``soles``
    (T, 4, 3) avatar axes, ``contact`` (T, 4)."""
    out = []
    for k in range(contact.shape[1]):
        flags = np.concatenate([[False], contact[:, k], [False]])
        edges = np.flatnonzero(np.diff(flags.astype(np.int8)))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            run = soles[start:stop, k][:, [0, 2]]
            out.append(float(np.linalg.norm(run - run[0], axis=1).max()))
    return np.array(out)

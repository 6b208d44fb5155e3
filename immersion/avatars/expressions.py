"""What an avatar file says about moving its face, and the solver that moves it from a Face.

Pure JSON inspection and numpy, no engine. :func:`read_expressions` reads from a glTF/VRM
document, every field type-checked (the document comes from outside; an error names the field):

- per mesh, its morph target names (``meshes[i].extras.targetNames``, or the primitive-level
  ``extras.targetNames`` some exporters write; unnamed targets are called by their index);
- VRM 1.0 ``expressions`` (``preset`` and ``custom``: ``morphTargetBinds`` by node, ``isBinary``,
  ``overrideBlink/LookAt/Mouth``) and VRM 0.x ``blendShapeMaster.blendShapeGroups`` (binds by
  mesh, weights 0..100; preset names mapped to 1.0's: a→aa, i→ih, u→ou, e→ee, o→oh, joy→happy,
  sorrow→sad, fun→relaxed, blink_l→blinkLeft, lookup→lookUp, …);
- ``lookAt`` (1.0; 0.x's ``firstPerson.lookAt*``, whose curves are read as straight lines);
- ``firstPerson`` mesh annotations (for the headset, issue 16; parsed and exposed only).

:class:`FaceDriver` turns a :class:`~capture.face.Face` into morph target weights, one of three
ways, decided once per avatar:

1. **arkit**: the avatar has morph targets named with ARKit names (case-insensitive, after any
   ``blendShape.``-style prefix): each is set to its weight directly, on every mesh that has it.
   The avatar's VRM presets are not used (they are combinations of the same targets: driving
   both would count each twice).
2. **presets**: no ARKit targets but VRM expressions: the 52 weights are mapped onto the presets
   the avatar defines, then through their binds (clamped to 0..1, ``isBinary`` rounds at 0.5,
   overrides honoured). The mapping (L/R pairs averaged):

   ========== =====================================================
   blink      eyeBlink (only when blinkLeft/blinkRight are not both defined)
   blinkLeft  eyeBlinkLeft;  blinkRight: eyeBlinkRight
   aa         jawOpen
   ih         ½ mouthSmile (lips spread, teeth near)
   ee         mouthStretch
   oh         mouthFunnel
   ou         mouthPucker
   happy      mouthSmile
   sad        ½ mouthFrown + ½ browInnerUp
   angry      ½ browDown + ½ noseSneer
   surprised  ½ browOuterUp + ½ eyeWide (not jawOpen: an open jaw is mostly speech, and a
              surprised preset that blocks the mouth would then take ``aa`` away)
   relaxed    nothing in ARKit says it: not driven
   ========== =====================================================
3. **still**: no expressions at all: nothing is set, the face keeps its rest.

Eyes are turned by the gaze alone, never twice: with a ``lookAt`` of type ``bone`` (and eye
bones) the driver gives eye rotations through the range maps; of type ``expression`` it gives
lookUp/Down/Left/Right weights. Whenever the eyes are turned that way, the ARKit ``eyeLook*``
targets are left at 0 (on many avatars they move the eyeballs too); without a lookAt they are
the only way the eyes move, and are driven like any other ARKit target.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from capture.face import ARKIT, ARKIT_COUNT, ARKIT_INDEX, Face
from capture.rotations import axis_angle_quat, quat_multiply
from immersion.errors import AvatarError

FloatArray = NDArray[np.float64]

PRESETS = (
    "happy", "angry", "sad", "relaxed", "surprised", "aa", "ih", "ou", "ee", "oh",
    "blink", "blinkLeft", "blinkRight", "lookUp", "lookDown", "lookLeft", "lookRight", "neutral",
)  # fmt: skip
_BLINK = ("blink", "blinkLeft", "blinkRight")
_LOOK = ("lookUp", "lookDown", "lookLeft", "lookRight")
_MOUTH = ("aa", "ih", "ou", "ee", "oh")
_OVERRIDES = ("none", "block", "blend")
_PRESETS_0X = {
    "neutral": "neutral", "a": "aa", "i": "ih", "u": "ou", "e": "ee", "o": "oh",
    "blink": "blink", "blink_l": "blinkLeft", "blink_r": "blinkRight", "joy": "happy",
    "angry": "angry", "sorrow": "sad", "fun": "relaxed", "surprised": "surprised",
    "lookup": "lookUp", "lookdown": "lookDown", "lookleft": "lookLeft", "lookright": "lookRight",
}  # fmt: skip
_FIRST_PERSON = ("auto", "both", "thirdPersonOnly", "firstPersonOnly")
_FIRST_PERSON_0X = {
    "Auto": "auto", "Both": "both", "ThirdPersonOnly": "thirdPersonOnly",
    "FirstPersonOnly": "firstPersonOnly",
}  # fmt: skip


def _mix(**terms: float) -> dict[str, float]:
    """ARKit weights of a preset; a name without Left/Right stands for the mean of the pair."""
    out: dict[str, float] = {}
    for name, w in terms.items():
        if name in ARKIT_INDEX:
            out[name] = out.get(name, 0.0) + w
        else:
            for side in ("Left", "Right"):
                out[name + side] = out.get(name + side, 0.0) + w / 2
    return out


# The preset mapping of the module docstring (blink and the look* presets are special-cased).
PRESET_FROM_ARKIT: dict[str, dict[str, float]] = {
    "blink": _mix(eyeBlink=1.0),
    "blinkLeft": _mix(eyeBlinkLeft=1.0),
    "blinkRight": _mix(eyeBlinkRight=1.0),
    "aa": _mix(jawOpen=1.0),
    "ih": _mix(mouthSmile=0.5),
    "ee": _mix(mouthStretch=1.0),
    "oh": _mix(mouthFunnel=1.0),
    "ou": _mix(mouthPucker=1.0),
    "happy": _mix(mouthSmile=1.0),
    "sad": _mix(mouthFrown=0.5, browInnerUp=0.5),
    "angry": _mix(browDown=0.5, noseSneer=0.5),
    "surprised": _mix(browOuterUp=0.5, eyeWide=0.5),
}
_EYE_LOOK = [i for i, name in enumerate(ARKIT) if name.startswith("eyeLook")]


@dataclass(frozen=True, slots=True)
class Bind:
    """One morph target an expression moves: ``mesh`` index, target ``index``, ``weight`` 0..1."""

    mesh: int
    index: int
    weight: float


@dataclass(frozen=True, slots=True)
class Expression:
    """A VRM expression (0.x groups carry 1.0's names, overrides ``none``)."""

    name: str
    preset: bool
    binds: tuple[Bind, ...]
    is_binary: bool = False
    override_blink: str = "none"
    override_look_at: str = "none"
    override_mouth: str = "none"


@dataclass(frozen=True, slots=True)
class RangeMap:
    """Gaze angle (degrees, up to ``input_max``) → eye degrees (bone) or weight (expression)."""

    input_max: float = 90.0
    output_scale: float = 10.0

    def __call__(self, degrees: float) -> float:
        return min(abs(degrees), self.input_max) / self.input_max * self.output_scale


@dataclass(frozen=True, slots=True)
class LookAt:
    """``kind``: "bone" or "expression". ``offset``: the eyes' point from the head bone
    (metres, VRM 1.0 axes; 0.x's offset as stored)."""

    kind: str
    offset: tuple[float, float, float]
    horizontal_inner: RangeMap
    horizontal_outer: RangeMap
    vertical_down: RangeMap
    vertical_up: RangeMap


@dataclass(frozen=True, slots=True)
class FirstPersonMesh:
    """A ``firstPerson`` mesh annotation: ``mesh`` index and how the headset shows it
    (auto, both, thirdPersonOnly, firstPersonOnly); ``node`` where the file names one (1.0)."""

    mesh: int
    kind: str
    node: int | None = None


@dataclass(frozen=True, slots=True)
class ExpressionModel:
    """``targets``: per mesh, its morph target names (index as text where unnamed).
    ``loader_names``: per mesh, the name the loader gives each target's slider (panda3d-gltf
    reads mesh-level names only). ``expressions`` by name."""

    targets: tuple[tuple[str, ...], ...]
    loader_names: tuple[tuple[str, ...], ...]
    expressions: dict[str, Expression]
    look_at: LookAt | None
    first_person: tuple[FirstPersonMesh, ...] = ()
    first_person_bone: int | None = None  # 0.x firstPersonBone (node index)


# --- Reading --------------------------------------------------------------------------------


def read_expressions(doc: dict[str, Any], name: str) -> ExpressionModel:
    """The face-moving parts of a glTF JSON document (``name`` is used in errors)."""
    meshes = _list(doc.get("meshes", []), f"{name}: meshes")
    nodes = _list(doc.get("nodes", []), f"{name}: nodes")
    targets, loader = [], []
    for m, mesh in enumerate(meshes):
        where = f"{name}: meshes[{m}]"
        mesh = _obj(mesh, where)
        prims = _list(mesh.get("primitives", []), f"{where}.primitives")
        count = 0
        prim_names: list[str] | None = None
        for p, prim in enumerate(prims):
            prim = _obj(prim, f"{where}.primitives[{p}]")
            count = max(
                count, len(_list(prim.get("targets", []), f"{where}.primitives[{p}].targets"))
            )
            if prim_names is None and "extras" in prim:
                prim_names = _names(
                    _obj(prim["extras"], f"{where}.primitives[{p}].extras"),
                    f"{where}.primitives[{p}].extras",
                )
        mesh_names = _names(_obj(mesh.get("extras", {}), f"{where}.extras"), f"{where}.extras")
        given = mesh_names if mesh_names is not None else prim_names or []
        targets.append(tuple(given[i] if i < len(given) else str(i) for i in range(count)))
        ln = mesh_names or []
        loader.append(tuple(ln[i] if i < len(ln) else str(i) for i in range(count)))

    def mesh_of_node(value: Any, where: str) -> int:
        node = _index(value, len(nodes), where, "node")
        mesh = _obj(nodes[node], f"{name}: nodes[{node}]").get("mesh")
        if mesh is None:
            raise AvatarError(f"{where}: node {node} has no mesh")
        return _index(mesh, len(meshes), f"{name}: nodes[{node}].mesh", "mesh")

    def bind(mesh: int, index: Any, weight: float, where: str) -> Bind:
        if not 0.0 <= weight <= 1.0:
            raise AvatarError(f"{where}.weight: {_short(weight)} is not in 0..1")
        return Bind(
            mesh, _index(index, len(targets[mesh]), f"{where}.index", "morph target"), weight
        )

    ext = doc.get("extensions", {})
    ext = ext if isinstance(ext, dict) else {}
    expressions: dict[str, Expression] = {}
    look_at: LookAt | None = None
    first_person: list[FirstPersonMesh] = []
    fp_bone: int | None = None
    if "VRMC_vrm" in ext:
        where = f"{name}: extensions.VRMC_vrm"
        vrm = _obj(ext["VRMC_vrm"], where)
        groups = _obj(vrm.get("expressions", {}), f"{where}.expressions")
        for group in ("preset", "custom"):
            for ename, e in _obj(groups.get(group, {}), f"{where}.expressions.{group}").items():
                ew = f"{where}.expressions.{group}.{ename}"
                e = _obj(e, ew)
                binds = []
                for i, b in enumerate(
                    _list(e.get("morphTargetBinds", []), f"{ew}.morphTargetBinds")
                ):
                    bw = f"{ew}.morphTargetBinds[{i}]"
                    b = _obj(b, bw)
                    mesh = mesh_of_node(b.get("node"), f"{bw}.node")
                    binds.append(
                        bind(
                            mesh, b.get("index"), _number(b.get("weight", 1.0), f"{bw}.weight"), bw
                        )
                    )
                expressions[ename] = Expression(
                    ename,
                    group == "preset",
                    tuple(binds),
                    _bool(e.get("isBinary", False), f"{ew}.isBinary"),
                    *(
                        _choice(e.get(key, "none"), _OVERRIDES, f"{ew}.{key}")
                        for key in ("overrideBlink", "overrideLookAt", "overrideMouth")
                    ),
                )
        if "lookAt" in vrm:
            look_at = _look_at_1(_obj(vrm["lookAt"], f"{where}.lookAt"), f"{where}.lookAt")
        fp = _obj(vrm.get("firstPerson", {}), f"{where}.firstPerson")
        for i, a in enumerate(
            _list(fp.get("meshAnnotations", []), f"{where}.firstPerson.meshAnnotations")
        ):
            aw = f"{where}.firstPerson.meshAnnotations[{i}]"
            a = _obj(a, aw)
            node = _index(a.get("node"), len(nodes), f"{aw}.node", "node")
            first_person.append(
                FirstPersonMesh(
                    mesh_of_node(node, f"{aw}.node"),
                    _choice(a.get("type", "auto"), _FIRST_PERSON, f"{aw}.type"),
                    node,
                )
            )
    elif "VRM" in ext:
        where = f"{name}: extensions.VRM"
        vrm = _obj(ext["VRM"], where)
        master = _obj(vrm.get("blendShapeMaster", {}), f"{where}.blendShapeMaster")
        for i, g in enumerate(
            _list(master.get("blendShapeGroups", []), f"{where}.blendShapeMaster.blendShapeGroups")
        ):
            gw = f"{where}.blendShapeMaster.blendShapeGroups[{i}]"
            g = _obj(g, gw)
            preset = _text(g.get("presetName", "unknown"), f"{gw}.presetName").lower()
            ename = _PRESETS_0X.get(preset) or _text(g.get("name", f"group{i}"), f"{gw}.name")
            binds = []
            for k, b in enumerate(_list(g.get("binds", []), f"{gw}.binds")):
                bw = f"{gw}.binds[{k}]"
                b = _obj(b, bw)
                mesh = _index(b.get("mesh"), len(meshes), f"{bw}.mesh", "mesh")
                binds.append(
                    bind(
                        mesh,
                        b.get("index"),
                        _number(b.get("weight", 100.0), f"{bw}.weight") / 100.0,
                        bw,
                    )
                )
            if ename not in expressions:  # the first group of a preset wins, as UniVRM does
                expressions[ename] = Expression(
                    ename,
                    preset in _PRESETS_0X,
                    tuple(binds),
                    _bool(g.get("isBinary", False), f"{gw}.isBinary"),
                )
        fp = _obj(vrm.get("firstPerson", {}), f"{where}.firstPerson")
        fw = f"{where}.firstPerson"
        if "firstPersonBone" in fp and fp["firstPersonBone"] != -1:
            fp_bone = _index(fp["firstPersonBone"], len(nodes), f"{fw}.firstPersonBone", "node")
        for i, a in enumerate(_list(fp.get("meshAnnotations", []), f"{fw}.meshAnnotations")):
            aw = f"{fw}.meshAnnotations[{i}]"
            a = _obj(a, aw)
            mesh = _index(a.get("mesh"), len(meshes), f"{aw}.mesh", "mesh")
            flag = _choice(
                a.get("firstPersonFlag", "Auto"), tuple(_FIRST_PERSON_0X), f"{aw}.firstPersonFlag"
            )
            first_person.append(FirstPersonMesh(mesh, _FIRST_PERSON_0X[flag]))
        if "lookAtTypeName" in fp:
            look_at = _look_at_0(fp, fw)
    return ExpressionModel(
        tuple(targets), tuple(loader), expressions, look_at, tuple(first_person), fp_bone
    )


def _look_at_1(obj: dict[str, Any], where: str) -> LookAt:
    kind = _choice(obj.get("type", "bone"), ("bone", "expression"), f"{where}.type")
    offset = obj.get("offsetFromHeadBone", [0.0, 0.0, 0.0])
    if not isinstance(offset, list) or len(offset) != 3:
        raise AvatarError(f"{where}.offsetFromHeadBone: {_short(offset)} is not 3 numbers")
    xyz = tuple(_number(v, f"{where}.offsetFromHeadBone") for v in offset)

    def range_map(key: str) -> RangeMap:
        # VRM 1.0's defaults: 90° in; 10° out for bones, full weight for expressions.
        m = _obj(obj.get(key, {}), f"{where}.{key}")
        return _range(
            m.get("inputMaxValue", 90.0),
            m.get("outputScale", 10.0 if kind == "bone" else 1.0),
            f"{where}.{key}",
        )

    return LookAt(
        kind, (xyz[0], xyz[1], xyz[2]),
        range_map("rangeMapHorizontalInner"), range_map("rangeMapHorizontalOuter"),
        range_map("rangeMapVerticalDown"), range_map("rangeMapVerticalUp"),
    )  # fmt: skip


def _look_at_0(fp: dict[str, Any], where: str) -> LookAt:
    kind = {"Bone": "bone", "BlendShape": "expression"}.get(
        _choice(fp["lookAtTypeName"], ("Bone", "BlendShape"), f"{where}.lookAtTypeName"), "bone"
    )
    offset = _obj(fp.get("firstPersonBoneOffset", {}), f"{where}.firstPersonBoneOffset")
    xyz = tuple(_number(offset.get(k, 0.0), f"{where}.firstPersonBoneOffset.{k}") for k in "xyz")

    def curve(key: str) -> RangeMap:
        m = _obj(fp.get(key, {}), f"{where}.{key}")
        return _range(
            m.get("xRange", 90.0),
            m.get("yRange", 10.0 if kind == "bone" else 1.0),
            f"{where}.{key}",
        )

    return LookAt(
        kind, (xyz[0], xyz[1], xyz[2]),
        curve("lookAtHorizontalInner"), curve("lookAtHorizontalOuter"),
        curve("lookAtVerticalDown"), curve("lookAtVerticalUp"),
    )  # fmt: skip


def _range(input_max: Any, output_scale: Any, where: str) -> RangeMap:
    i = _number(input_max, f"{where} input range")
    o = _number(output_scale, f"{where} output scale")
    if not 0.0 < i <= 180.0 or not 0.0 <= o <= 180.0:
        raise AvatarError(f"{where}: range {i:g}° → {o:g} is outside 0..180")
    return RangeMap(i, o)


def _names(extras: dict[str, Any], where: str) -> list[str] | None:
    if "targetNames" not in extras:
        return None
    names = _list(extras["targetNames"], f"{where}.targetNames")
    if not all(isinstance(n, str) for n in names):
        raise AvatarError(f"{where}.targetNames: not a list of strings")
    return names


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AvatarError(f"{where}: {_short(value)} is not an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise AvatarError(f"{where}: {_short(value)} is not a list")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise AvatarError(f"{where}: {_short(value)} is not a string")
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise AvatarError(f"{where}: {_short(value)} is not true or false")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AvatarError(f"{where}: {_short(value)} is not a finite number")
    return float(value)


def _index(value: Any, count: int, where: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < count:
        raise AvatarError(f"{where}: {what} {_short(value)} does not exist")
    return value


def _choice(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise AvatarError(f"{where}: {_short(value)} is not one of {', '.join(allowed)}")
    return str(value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- Solving --------------------------------------------------------------------------------

_PREFIX = re.compile(r"^.*[.:|]")
_ARKIT_LOWER = {name.lower(): i for i, name in enumerate(ARKIT)}


def arkit_index(target_name: str) -> int | None:
    """The ARKit weight a morph target name stands for (``EyeBlinkLeft``, ``blendShape1.jawOpen``
    count too), or None."""
    return _ARKIT_LOWER.get(_PREFIX.sub("", target_name).lower())


class FaceDriver:
    """Per avatar, what a :class:`Face` sets: ``targets`` ((mesh, index) of each weight
    :meth:`solve` returns), and whether it turns eye bones. ``eye_bones``: the avatar has
    leftEye/rightEye joints. Solving is a few array operations, no per-target Python."""

    __slots__ = (
        "_binary", "_binds", "_look", "_overrides", "_preset_rows", "_source",
        "eye_mode", "look_at", "mode", "targets",
    )  # fmt: skip

    def __init__(self, model: ExpressionModel, eye_bones: bool) -> None:
        look = model.look_at
        if look is None and eye_bones:
            look = LookAt("bone", (0.0, 0.0, 0.0), *(RangeMap(),) * 4)
        self.look_at = look
        # How gaze turns the eyes: "bone", "expression" or None (they do not turn).
        self.eye_mode = (
            None if look is None or (look.kind == "bone" and not eye_bones) else look.kind
        )
        if (
            look is not None
            and look.kind == "expression"
            and not any(k in model.expressions for k in _LOOK)
        ):
            self.eye_mode = None
        arkit = [
            (m, i, a)
            for m, names in enumerate(model.targets)
            for i, n in enumerate(names)
            if (a := arkit_index(n)) is not None
        ]
        self._source = np.zeros(0, dtype=np.intp)
        self._binds = np.zeros((0, 0))
        self._preset_rows = np.zeros((0, ARKIT_COUNT))
        self._look: list[int] = []
        self._binary = np.zeros(0, dtype=bool)
        self._overrides: list[tuple[int, str, FloatArray]] = []
        if arkit:
            self.mode = "arkit"
            turned = self.eye_mode is not None
            kept = [(m, i, a) for m, i, a in arkit if not (turned and a in _EYE_LOOK)]
            self.targets = tuple((m, i) for m, i, _ in kept)
            self._source = np.array([a for _, _, a in kept], dtype=np.intp)
        elif model.expressions:
            self.mode = "presets"
            self._compile_presets(model)
        else:
            self.mode = "still"
            self.targets = ()

    def _compile_presets(self, model: ExpressionModel) -> None:
        exprs = list(model.expressions.values())
        index = {e.name: k for k, e in enumerate(exprs)}
        rows = np.zeros((len(exprs), ARKIT_COUNT))
        both_eyes = "blinkLeft" in index and "blinkRight" in index
        for e in exprs:
            mix = PRESET_FROM_ARKIT.get(e.name) if e.preset else None
            if mix is None or (e.name == "blink" and both_eyes):
                continue
            for arkit_name, w in mix.items():
                rows[index[e.name], ARKIT_INDEX[arkit_name]] = w
        self._preset_rows = rows
        self._look = [index.get(k, -1) for k in _LOOK] if self.eye_mode == "expression" else []
        self._binary = np.array([e.is_binary for e in exprs], dtype=bool)
        # Overrides: (source expression, kind, group mask) for each non-"none" override.
        groups = {"blink": _BLINK, "lookAt": _LOOK, "mouth": _MOUTH}
        for k, e in enumerate(exprs):
            for group, how in (
                ("blink", e.override_blink),
                ("lookAt", e.override_look_at),
                ("mouth", e.override_mouth),
            ):
                if how != "none" and e.name not in groups[group]:
                    mask = np.array([x.name in groups[group] for x in exprs], dtype=np.float64)
                    self._overrides.append((k, how, mask))
        keys = sorted({(b.mesh, b.index) for e in exprs for b in e.binds})
        column = {key: j for j, key in enumerate(keys)}
        binds = np.zeros((len(keys), len(exprs)))
        for k, e in enumerate(exprs):
            for b in e.binds:
                binds[column[(b.mesh, b.index)], k] += b.weight
        self.targets = tuple(keys)
        self._binds = binds

    def solve(self, face: Face) -> tuple[FloatArray, FloatArray | None]:
        """Weights (one per ``targets``, 0..1) and, with ``eye_mode`` "bone", (2, 4) local
        rotations of the left and right eye in the normalized convention (else None)."""
        eyes = self._eyes(face.gaze) if self.eye_mode == "bone" else None
        if self.mode == "arkit":
            return np.clip(face.weights[self._source], 0.0, 1.0), eyes
        if self.mode == "still":
            return np.zeros(0), eyes
        e = np.clip(self._preset_rows @ face.weights, 0.0, 1.0)
        if self._look:
            assert self.look_at is not None
            e[[k for k in self._look if k >= 0]] = self._look_weights(face.gaze)[
                [i for i, k in enumerate(self._look) if k >= 0]
            ]
        e = np.where(self._binary, (e > 0.5).astype(np.float64), e)
        for k, how, mask in self._overrides:
            w = e[k]
            if w > 0.0:
                e = e * (1.0 - mask * (1.0 if how == "block" else w))
        return np.clip(self._binds @ e, 0.0, 1.0), eyes

    def _look_weights(self, gaze: FloatArray) -> FloatArray:
        """lookUp, lookDown, lookLeft, lookRight weights from gaze (outer range for both
        directions, as VRM 1.0 has it for expressions)."""
        look = self.look_at
        assert look is not None
        yaw, pitch = np.degrees(gaze)
        out: FloatArray = np.minimum(
            np.array(
                [
                    look.vertical_up(pitch) if pitch > 0 else 0.0,
                    look.vertical_down(pitch) if pitch < 0 else 0.0,
                    look.horizontal_outer(yaw) if yaw > 0 else 0.0,
                    look.horizontal_outer(yaw) if yaw < 0 else 0.0,
                ]
            ),
            1.0,
        )
        return out

    def _eyes(self, gaze: FloatArray) -> FloatArray:
        """Each eye: yaw about +Y (toward +X, the avatar's left, when positive), then pitch
        (up when positive). Turning toward +X is outward for the left eye, inward for the right."""
        look = self.look_at
        assert look is not None
        yaw, pitch = np.degrees(gaze)
        vertical = look.vertical_up(pitch) if pitch > 0 else -look.vertical_down(pitch)
        out = np.empty((2, 4))
        for k, outward in enumerate((yaw > 0, yaw < 0)):
            horizontal = (look.horizontal_outer if outward else look.horizontal_inner)(yaw)
            y = math.radians(math.copysign(horizontal, yaw))
            out[k] = quat_multiply(
                axis_angle_quat([0.0, 1.0, 0.0], y),
                axis_angle_quat([1.0, 0.0, 0.0], -math.radians(vertical)),
            )
        return out


def eye_nodes(doc: dict[str, Any], name: str) -> tuple[str, str] | None:
    """The glTF node names of the humanoid's leftEye and rightEye (they are no capture
    :class:`~capture.skeleton.Bone`: gaze turns them), or None unless both are mapped."""
    nodes = _list(doc.get("nodes", []), f"{name}: nodes")
    ext = doc.get("extensions", {})
    ext = ext if isinstance(ext, dict) else {}
    found: dict[str, Any] = {}
    field: dict[str, str] = {}  # where each was found, for errors
    if "VRMC_vrm" in ext:
        where = f"{name}: extensions.VRMC_vrm.humanoid.humanBones"
        vrm = _obj(ext["VRMC_vrm"], f"{name}: extensions.VRMC_vrm")
        human = _obj(_obj(vrm.get("humanoid", {}), where).get("humanBones", {}), where)
        for key in ("leftEye", "rightEye"):
            if key in human:
                found[key] = _obj(human[key], f"{where}.{key}").get("node")
                field[key] = f"{where}.{key}.node"
    elif "VRM" in ext:
        where = f"{name}: extensions.VRM.humanoid.humanBones"
        vrm = _obj(ext["VRM"], f"{name}: extensions.VRM")
        listed = _list(_obj(vrm.get("humanoid", {}), where).get("humanBones", []), where)
        for i, hb in enumerate(listed):
            hb = _obj(hb, f"{where}[{i}]")
            if hb.get("bone") in ("leftEye", "rightEye"):
                found[hb["bone"]] = hb.get("node")
                field[hb["bone"]] = f"{where}[{i}].node"
    if len(found) != 2:
        return None
    out = []
    for key in ("leftEye", "rightEye"):
        node = _obj(nodes[_index(found[key], len(nodes), field[key], "node")], field[key])
        node_name = node.get("name")
        if not isinstance(node_name, str) or not node_name:
            raise AvatarError(f"{field[key]}: node {found[key]} has no name")
        out.append(node_name)
    return out[0], out[1]

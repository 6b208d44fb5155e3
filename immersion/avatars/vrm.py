"""What an avatar file says about itself: humanoid bone mapping, facing and licence (VRM meta).

Pure JSON inspection, no engine. VRM 1.0 (``VRMC_vrm``) faces +Z like the capture contract;
VRM 0.x (``VRM``) faces -Z and is turned round. A plain glTF humanoid needs a bone map
(VRM bone name → glTF node name); joints already named with VRM names are found by themselves.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from capture.skeleton import Bone
from immersion.avatars.expressions import _obj, _short, eye_nodes, read_expressions
from immersion.errors import AssetError, AvatarError, LicenceError
from immersion.gltf_guard import GltfDocument, character_joints, inspect_gltf
from immersion.safe_files import read_bounded

REQUIRED = (
    Bone.HIPS, Bone.SPINE, Bone.HEAD, Bone.NECK,
    Bone.LEFT_UPPER_ARM, Bone.LEFT_LOWER_ARM, Bone.LEFT_HAND,
    Bone.RIGHT_UPPER_ARM, Bone.RIGHT_LOWER_ARM, Bone.RIGHT_HAND,
    Bone.LEFT_UPPER_LEG, Bone.LEFT_LOWER_LEG, Bone.LEFT_FOOT,
    Bone.RIGHT_UPPER_LEG, Bone.RIGHT_LOWER_LEG, Bone.RIGHT_FOOT,
)  # fmt: skip

# How an audition uses an avatar: an actor other than its author performs it for a production.
USES = ("personal-non-profit", "personal-profit", "corporation")


NOT_STATED = "not stated"


@dataclass(frozen=True)
class AvatarLicence:
    """The VRM ``meta`` fields that decide whether an audition may use the avatar.

    A plain glTF states no terms: ``licence``, ``performers``, ``commercial`` and ``credit`` are
    None, said as "licence: not stated" rather than guessed; :func:`check_use` lets it through
    (nothing to enforce) and the room, ``render`` and ``avatars show`` say so."""

    title: str
    authors: str
    licence: str | None  # the licence's name or URL ("" when VRM meta leaves it empty)
    performers: str | None  # everyone | licensed | author
    commercial: str | None  # one of USES: the widest commercial use allowed
    credit: str | None

    @property
    def stated(self) -> bool:
        return self.performers is not None

    def summary(self) -> str:
        by = f"{self.title} by {self.authors or 'unknown'}"
        if not self.stated:
            return f"{by}; licence: {NOT_STATED} (no licence metadata: check its rights yourself)"
        return (
            f"{by}; licence: {self.licence or 'none stated'}; "
            f"performers: {self.performers}; commercial use: {self.commercial}"
        )


@dataclass(frozen=True)
class AvatarSpec:
    version: str  # "1.0", "0.x" or "gltf"
    bones: dict[Bone, str]  # humanoid bone → glTF node name (the engine joint's name)
    faces_minus_z: bool
    licence: AvatarLicence


def read_spec(doc: dict[str, Any], name: str, bone_map: dict[str, str] | None = None) -> AvatarSpec:
    """Humanoid mapping and licence from a glTF JSON document; ``name`` is used in errors.

    Every field read is type-checked: the document comes from outside."""
    nodes = doc.get("nodes", [])
    if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
        raise AvatarError(f"{name}: nodes: not a list of objects")
    ext = doc.get("extensions", {}) if isinstance(doc.get("extensions"), dict) else {}

    def node_name(index: Any, where: str) -> str:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(nodes):
            raise AvatarError(f"{name}: {where}: node {_short(index)} does not exist")
        n = nodes[index].get("name")
        if not isinstance(n, str) or not n:
            raise AvatarError(f"{name}: {where}: node {index} has no name")
        return n

    if "VRMC_vrm" in ext:
        vrm = _obj(ext["VRMC_vrm"], f"{name}: extensions.VRMC_vrm")
        where = f"{name}: extensions.VRMC_vrm"
        human = _obj(
            _obj(vrm.get("humanoid", {}), f"{where}.humanoid").get("humanBones", {}),
            f"{where}.humanoid.humanBones",
        )
        bones = {
            Bone.from_vrm_name(k): node_name(
                _obj(v, f"{where}.humanoid.humanBones.{k}").get("node"),
                f"humanoid.humanBones.{k}.node",
            )
            for k, v in human.items()
            if k in _KNOWN
        }
        spec = AvatarSpec(
            "1.0", bones, False, _meta1(_obj(vrm.get("meta", {}), f"{where}.meta"), f"{where}.meta")
        )
    elif "VRM" in ext:
        vrm = _obj(ext["VRM"], f"{name}: extensions.VRM")
        where = f"{name}: extensions.VRM"
        listed = _obj(vrm.get("humanoid", {}), f"{where}.humanoid").get("humanBones", [])
        if not isinstance(listed, list):
            raise AvatarError(f"{where}.humanoid.humanBones: {_short(listed)} is not a list")
        bones = {}
        for i, hb in enumerate(listed):
            hb = _obj(hb, f"{where}.humanoid.humanBones[{i}]")
            bone = hb.get("bone")
            bone = _THUMB_0X.get(bone, bone) if isinstance(bone, str) else bone
            if isinstance(bone, str) and bone in _KNOWN:
                bones[Bone.from_vrm_name(bone)] = node_name(
                    hb.get("node"), f"humanoid.humanBones[{i}].node"
                )
        spec = AvatarSpec(
            "0.x", bones, True, _meta0(_obj(vrm.get("meta", {}), f"{where}.meta"), f"{where}.meta")
        )
    else:
        names = {n.get("name") for n in nodes}
        if bone_map is None:
            bone_map = {b.vrm_name: b.vrm_name for b in Bone if b.vrm_name in names}
            if not bone_map:
                bone_map = mixamo_bone_map(names)
        bones = {}
        for k, v in bone_map.items():
            if k not in _KNOWN:
                raise AvatarError(f"{name}: bone map: {k!r} is not a VRM humanoid bone name")
            if v not in names:
                raise AvatarError(f"{name}: bone map: {k} → {v!r}, no node of that name")
            bones[Bone.from_vrm_name(k)] = v
        # No VRM meta: nothing to enforce, and `avatars show` says so rather than inventing terms.
        asset = doc.get("asset", {})
        copyright_ = asset.get("copyright", "") if isinstance(asset, dict) else ""
        unknown = AvatarLicence(
            name, copyright_ if isinstance(copyright_, str) else "", None, None, None, None
        )
        spec = AvatarSpec("gltf", bones, False, unknown)
    missing = [b.vrm_name for b in REQUIRED if b not in spec.bones]
    if missing:
        raise AvatarError(f"{name}: not a usable humanoid, missing bones: {', '.join(missing)}")
    seen: dict[str, Bone] = {}
    for bone, node in spec.bones.items():
        if node in seen:
            raise AvatarError(
                f"{name}: humanoid bones {seen[node].vrm_name} and {bone.vrm_name} are both node {node!r}"
            )
        seen[node] = bone
    return spec


_KNOWN = {b.vrm_name for b in Bone}
# VRM 0.x names the thumb's segments proximal, intermediate, distal; 1.0 metacarpal,
# proximal, distal (the same joints).
_THUMB_0X = {
    f"{side}Thumb{old}": f"{side}Thumb{new}"
    for side in ("left", "right")
    for old, new in (("Proximal", "Metacarpal"), ("Intermediate", "Proximal"))
}

# Mixamo's joint names (as Mixamo, MakeHuman and most DCC exports spell them) → VRM bone names.
_MIXAMO = {
    "Hips": "hips", "Spine": "spine", "Spine1": "chest", "Spine2": "upperChest",
    "Neck": "neck", "Head": "head",
}  # fmt: skip
for _side, _s in (("Left", "left"), ("Right", "right")):
    _MIXAMO.update(
        {
            f"{_side}Shoulder": f"{_s}Shoulder", f"{_side}Arm": f"{_s}UpperArm",
            f"{_side}ForeArm": f"{_s}LowerArm", f"{_side}Hand": f"{_s}Hand",
            f"{_side}UpLeg": f"{_s}UpperLeg", f"{_side}Leg": f"{_s}LowerLeg",
            f"{_side}Foot": f"{_s}Foot", f"{_side}ToeBase": f"{_s}Toes",
            f"{_side}HandThumb1": f"{_s}ThumbMetacarpal", f"{_side}HandThumb2": f"{_s}ThumbProximal",
            f"{_side}HandThumb3": f"{_s}ThumbDistal",
        }
    )  # fmt: skip
    for _finger, _f in (
        ("Index", "Index"),
        ("Middle", "Middle"),
        ("Ring", "Ring"),
        ("Pinky", "Little"),
    ):
        for _n, _seg in ((1, "Proximal"), (2, "Intermediate"), (3, "Distal")):
            _MIXAMO[f"{_side}Hand{_finger}{_n}"] = f"{_s}{_f}{_seg}"


def mixamo_bone_map(names: set[Any]) -> dict[str, str]:
    """VRM bone name → node name for a skeleton with Mixamo's joint names (``mixamorig:Hips``,
    any ``mixamorigN:`` prefix or none), limited to the bones this skeleton knows; {} if the
    nodes are not named so."""
    hips = [n for n in names if isinstance(n, str) and re.fullmatch(r"(mixamorig\d*[:_])?Hips", n)]
    if len(hips) != 1:
        return {}
    prefix = hips[0][: -len("Hips")]
    return {
        vrm: prefix + mixamo
        for mixamo, vrm in _MIXAMO.items()
        if vrm in _KNOWN and prefix + mixamo in names
    }


MAX_BONE_MAP_BYTES = 64 << 10


def inspect_avatar(
    path: Path, bone_map: dict[str, str] | None = None
) -> tuple[GltfDocument, AvatarSpec]:
    """An avatar file checked as glTF (nothing it names may leave its folder) and read as a
    humanoid; its expressions and eyes are read too, so that what this accepts the stage loads
    (their errors name the field, like the rest)."""
    doc = inspect_gltf(path, path.parent)
    spec = read_spec(doc.json, path.name, bone_map)
    read_expressions(doc.json, path.name)
    eye_nodes(doc.json, path.name)
    joints = character_joints(doc.json)
    for bone, node in spec.bones.items():
        if node not in joints:
            raise AvatarError(
                f"{path.name}: humanoid bone {bone.vrm_name} (node {node!r}) is not a joint of "
                "the skinned character the loader builds"
                + ("" if joints else " (the scene has none: no skin, or one no mesh uses)")
            )
    return doc, spec


def load_bone_map(path: Path) -> dict[str, str]:
    """A bone map file: a JSON object from VRM humanoid bone names (``"leftUpperArm"``) to the
    glTF node names of a plain humanoid (``"mixamorig:LeftArm"``). Unknown bone names are
    refused here; node names are checked against the avatar by :func:`read_spec`."""
    if not path.is_file():
        raise AvatarError(f"{path}: no such bone map file")
    try:
        raw = json.loads(read_bounded(path, MAX_BONE_MAP_BYTES, str(path)))
    except AssetError as exc:
        raise AvatarError(str(exc)) from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise AvatarError(f"{path}: not JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise AvatarError(f"{path}: a bone map is a JSON object of bone name → node name")
    for key, value in raw.items():
        if key not in _KNOWN:
            raise AvatarError(f"{path}: {key!r} is not a VRM humanoid bone name")
        if not isinstance(value, str) or not value:
            raise AvatarError(f"{path}: {key}: the node name must be a non-empty string")
    return raw


def _text(meta: dict[str, Any], key: str, default: str, where: str) -> str:
    value = meta.get(key, default)
    if not isinstance(value, str):
        raise AvatarError(f"{where}.{key}: {_short(value)} is not a string")
    return value


def _meta1(meta: dict[str, Any], where: str) -> AvatarLicence:
    perm = {
        "everyone": "everyone",
        "onlySeparatelyLicensedPerson": "licensed",
        "onlyAuthor": "author",
    }
    use = {"personalNonProfit": USES[0], "personalProfit": USES[1], "corporation": USES[2]}
    authors = meta.get("authors", [])
    if not isinstance(authors, list) or not all(isinstance(a, str) for a in authors):
        raise AvatarError(f"{where}.authors: {_short(authors)} is not a list of names")
    # Unknown permission values fall back to the most restrictive reading.
    return AvatarLicence(
        _text(meta, "name", "untitled", where),
        ", ".join(authors),
        _text(meta, "licenseUrl", "", where),
        perm.get(_text(meta, "avatarPermission", "onlyAuthor", where), "author"),
        use.get(_text(meta, "commercialUsage", "personalNonProfit", where), USES[0]),
        _text(meta, "creditNotation", "required", where),
    )


def _meta0(meta: dict[str, Any], where: str) -> AvatarLicence:
    perm = {"Everyone": "everyone", "ExplicitlyLicensedPerson": "licensed", "OnlyAuthor": "author"}
    allowed = _text(meta, "commercialUssageName", "Disallow", where) == "Allow"
    return AvatarLicence(
        _text(meta, "title", "untitled", where),
        _text(meta, "author", "", where),
        _text(meta, "licenseName", "", where),
        perm.get(_text(meta, "allowedUserName", "OnlyAuthor", where), "author"),
        USES[2] if allowed else USES[0],
        "required",
    )


def check_use(lic: AvatarLicence, use: str, licensed: bool, name: str) -> None:
    """Refuse what the avatar's meta forbids. An audition has someone other than the author
    perform the avatar (``performers``), for the commercial ``use`` given (one of USES);
    ``licensed`` says the room holds a separate licence from the author. A licence not stated
    (a plain glTF) is no refusal: there is nothing to enforce, and callers show that it is
    not stated."""
    if not lic.stated:
        return
    if lic.performers == "author":
        raise LicenceError(f"{name}: meta allows only its author to perform this avatar")
    if lic.performers == "licensed" and not licensed:
        raise LicenceError(
            f"{name}: meta allows only separately licensed performers (pass --avatar-licensed if you hold a licence)"
        )
    if lic.commercial is None or USES.index(use) > USES.index(lic.commercial):
        raise LicenceError(f"{name}: meta allows commercial use up to {lic.commercial}, not {use}")

"""Build the default avatars: skinned VRM 1.0 characters in the capture contract's T-pose.

    .venv/bin/python scripts/build_avatars.py      # writes assets/avatars/*.vrm

Each character is modelled from coloured primitives (a stylised, toy-like look suited to an
animated role) and rigidly skinned part by part to the VRM 1.0 humanoid bones, with limb parts
blended into their parent bone near the joint so elbows and knees bend smoothly. Detective Sam
has identity joint rest rotations (the normalized T-pose itself); Captain Nova's joints point
their Y axis down each bone, as Blender exports do, so the stage's rest-frame conversion is
exercised by a shipped avatar too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
from meshkit import box, capsule, cone, cylinder, ellipsoid, srgb, torus
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from capture.rotations import matrix_to_quat
from capture.skeleton import BODY_BONES, Bone
from immersion.avatars.glb_writer import SkinJoint, SkinnedMesh, write_skinned_glb

OUT = Path(__file__).resolve().parents[1] / "assets" / "avatars"
F = NDArray[np.float64]

# Joint positions in the T-pose: metres, Y up, floor at 0, facing +Z, the left hand on +X.
JOINTS: dict[Bone, tuple[float, float, float]] = {
    Bone.HIPS: (0.0, 0.95, 0.0),
    Bone.SPINE: (0.0, 1.04, 0.0),
    Bone.CHEST: (0.0, 1.16, 0.0),
    Bone.UPPER_CHEST: (0.0, 1.28, 0.0),
    Bone.NECK: (0.0, 1.44, 0.0),
    Bone.HEAD: (0.0, 1.52, 0.0),
    Bone.LEFT_SHOULDER: (0.04, 1.40, 0.0),
    Bone.LEFT_UPPER_ARM: (0.18, 1.40, 0.0),
    Bone.LEFT_LOWER_ARM: (0.45, 1.40, 0.0),
    Bone.LEFT_HAND: (0.69, 1.40, 0.0),
    Bone.LEFT_UPPER_LEG: (0.095, 0.91, 0.0),
    Bone.LEFT_LOWER_LEG: (0.095, 0.50, 0.0),
    Bone.LEFT_FOOT: (0.095, 0.09, 0.0),
    Bone.LEFT_TOES: (0.095, 0.03, 0.13),
}
for _b, _p in list(JOINTS.items()):
    if _b.name.startswith("LEFT_"):
        JOINTS[Bone[_b.name.replace("LEFT_", "RIGHT_")]] = (-_p[0], _p[1], _p[2])

# Where each bone ends, for the "Y down the bone" rest frames; hands, head and toes point on.
_TIPS = {
    Bone.HEAD: (0.0, 1.75, 0.0),
    Bone.LEFT_HAND: (0.86, 1.40, 0.0),
    Bone.LEFT_TOES: (0.095, 0.02, 0.20),
}
_TIPS[Bone.RIGHT_HAND] = (-0.86, 1.40, 0.0)
_TIPS[Bone.RIGHT_TOES] = (-0.095, 0.02, 0.20)
_NEXT = {
    Bone.HIPS: Bone.SPINE,
    Bone.SPINE: Bone.CHEST,
    Bone.CHEST: Bone.UPPER_CHEST,
    Bone.UPPER_CHEST: Bone.NECK,
    Bone.NECK: Bone.HEAD,
}
for _s in ("LEFT", "RIGHT"):
    for _a, _b2 in (
        ("SHOULDER", "UPPER_ARM"),
        ("UPPER_ARM", "LOWER_ARM"),
        ("LOWER_ARM", "HAND"),
        ("UPPER_LEG", "LOWER_LEG"),
        ("LOWER_LEG", "FOOT"),
        ("FOOT", "TOES"),
    ):
        _NEXT[Bone[f"{_s}_{_a}"]] = Bone[f"{_s}_{_b2}"]


@dataclass
class Part:
    mesh: trimesh.Trimesh
    bone: Bone
    blend_from: tuple[float, float, float] | None = None  # joint where it eases into the parent


def P(b: Bone) -> F:
    return np.array(JOINTS[b])


def mirror(parts: list[Part]) -> list[Part]:
    """The right side's parts from the left side's (mirrored in X)."""
    out = []
    for part in parts:
        m = part.mesh.copy()
        m.apply_transform(np.diag([-1.0, 1.0, 1.0, 1.0]))
        m.invert()  # mirroring flips the winding; turn the faces back outward
        blend = None if part.blend_from is None else (-part.blend_from[0], *part.blend_from[1:])
        out.append(Part(m, Bone[part.bone.name.replace("LEFT_", "RIGHT_")], blend))  # type: ignore[arg-type]
    return out


def limb(a: Bone, b: Bone, radius: float, colour: str, tip: F | None = None) -> Part:
    end = P(b) if tip is None else tip
    return Part(capsule(P(a), end, radius, colour), a, JOINTS[a])


def face(skin: str, eye: str, brow: str, hair: str) -> list[Part]:
    h = P(Bone.HEAD)
    c = h + [0.0, 0.12, 0.0]
    parts = [
        Part(ellipsoid(c, (0.105, 0.125, 0.11), skin, 3), Bone.HEAD),
        Part(ellipsoid(c + [0, -0.015, 0.105], (0.018, 0.024, 0.02), skin), Bone.HEAD),  # nose
        Part(box(c + [0, -0.065, 0.095], (0.045, 0.008, 0.01), "#8a3b3b"), Bone.HEAD),  # mouth
    ]
    for s in (1.0, -1.0):
        parts += [
            Part(
                ellipsoid(c + [0.04 * s, 0.025, 0.09], (0.022, 0.026, 0.014), "#f4f4f0"), Bone.HEAD
            ),
            Part(ellipsoid(c + [0.04 * s, 0.022, 0.102], (0.011, 0.013, 0.006), eye), Bone.HEAD),
            Part(box(c + [0.042 * s, 0.062, 0.098], (0.04, 0.009, 0.01), brow), Bone.HEAD),
            Part(
                ellipsoid(c + [0.105 * s, 0.0, 0.0], (0.015, 0.028, 0.02), skin), Bone.HEAD
            ),  # ear
        ]
    parts.append(Part(ellipsoid(c + [0, 0.045, -0.01], (0.112, 0.095, 0.115), hair, 3), Bone.HEAD))
    return parts


def detective() -> list[Part]:
    """Sam Marlowe, a 1940s private eye: trench coat, fedora, tie, wing-tip shoes."""
    coat, trousers, skin, shoe = "#b39a6b", "#33302e", "#e0b48f", "#4a2c1a"
    parts = face(skin, "#3b2a1a", "#3b2a1a", "#2d211a")
    c = P(Bone.HEAD) + [0.0, 0.12, 0.0]
    parts += [
        Part(cylinder(c + [0, 0.07, -0.01], c + [0, 0.17, -0.01], 0.1, "#3a3530"), Bone.HEAD),
        Part(cylinder(c + [0, 0.065, -0.01], c + [0, 0.08, -0.01], 0.19, "#3a3530"), Bone.HEAD),
        Part(
            cylinder(c + [0, 0.08, -0.01], c + [0, 0.10, -0.01], 0.103, "#7a2f2a"), Bone.HEAD
        ),  # band
        Part(capsule(P(Bone.NECK), P(Bone.HEAD) + [0, 0.02, 0], 0.05, skin), Bone.NECK),
        # Coat torso, lapels, tie, belt and the coat's skirt.
        Part(
            ellipsoid(P(Bone.UPPER_CHEST) + [0, 0.03, 0], (0.20, 0.14, 0.12), coat),
            Bone.UPPER_CHEST,
        ),
        Part(ellipsoid(P(Bone.CHEST), (0.175, 0.13, 0.11), coat), Bone.CHEST),
        Part(ellipsoid(P(Bone.SPINE) + [0, 0.02, 0], (0.16, 0.11, 0.10), coat), Bone.SPINE),
        Part(
            box(P(Bone.UPPER_CHEST) + [0, 0.02, 0.112], (0.07, 0.16, 0.02), "#f1ede4"),
            Bone.UPPER_CHEST,
        ),
        Part(
            box(P(Bone.UPPER_CHEST) + [0, 0.0, 0.124], (0.03, 0.15, 0.012), "#8c1c1c"),
            Bone.UPPER_CHEST,
        ),
        Part(box(P(Bone.CHEST) + [0, -0.01, 0.11], (0.035, 0.14, 0.012), "#8c1c1c"), Bone.CHEST),
        Part(
            cylinder(
                P(Bone.SPINE) + [0, -0.05, 0], P(Bone.SPINE) + [0, -0.01, 0], 0.165, "#5a4630"
            ),
            Bone.SPINE,
        ),
        Part(
            cone(P(Bone.HIPS) + [0, 0.05, 0], P(Bone.HIPS) + [0, -0.25, 0], 0.17, 0.22, coat),
            Bone.HIPS,
        ),
    ]
    for s in (1.0, -1.0):
        parts.append(
            Part(
                box(
                    P(Bone.UPPER_CHEST) + [0.065 * s, 0.04, 0.118],
                    (0.05, 0.14, 0.015),
                    "#9c8459",
                    12 * s,
                ),
                Bone.UPPER_CHEST,
            )
        )
    left = [
        Part(
            ellipsoid(P(Bone.LEFT_UPPER_ARM) + [-0.02, 0.0, 0], (0.09, 0.07, 0.08), coat),
            Bone.LEFT_SHOULDER,
        ),
        limb(Bone.LEFT_UPPER_ARM, Bone.LEFT_LOWER_ARM, 0.058, coat),
        limb(Bone.LEFT_LOWER_ARM, Bone.LEFT_HAND, 0.05, coat),
        Part(
            cylinder(
                P(Bone.LEFT_HAND) - [0.03, 0, 0],
                P(Bone.LEFT_HAND) - [0.005, 0, 0],
                0.056,
                "#9c8459",
            ),
            Bone.LEFT_LOWER_ARM,
        ),
        Part(
            ellipsoid(P(Bone.LEFT_HAND) + [0.07, 0, 0], (0.075, 0.028, 0.045), skin), Bone.LEFT_HAND
        ),
        Part(
            capsule(
                P(Bone.LEFT_HAND) + [0.03, 0, 0.04],
                P(Bone.LEFT_HAND) + [0.07, -0.01, 0.07],
                0.015,
                skin,
            ),
            Bone.LEFT_HAND,
        ),
        limb(Bone.LEFT_UPPER_LEG, Bone.LEFT_LOWER_LEG, 0.08, trousers),
        limb(Bone.LEFT_LOWER_LEG, Bone.LEFT_FOOT, 0.062, trousers),
        Part(
            ellipsoid(P(Bone.LEFT_FOOT) + [0, -0.045, 0.03], (0.055, 0.045, 0.1), shoe),
            Bone.LEFT_FOOT,
        ),
        Part(
            ellipsoid(P(Bone.LEFT_TOES) + [0, -0.005, 0.02], (0.052, 0.035, 0.06), shoe),
            Bone.LEFT_TOES,
        ),
    ]
    return parts + left + mirror(left)


def captain() -> list[Part]:
    """Captain Nova, a starship officer: two-tone flight suit, collar ring, boots, gloves."""
    suit, trim, skin, boot = "#e8ecf0", "#1f7a8c", "#8d5a3b", "#2b2f36"
    parts = face(skin, "#1c1410", "#1c1410", "#14100e")
    c = P(Bone.HEAD) + [0.0, 0.12, 0.0]
    parts += [
        Part(ellipsoid(c + [0, 0.05, -0.13], (0.06, 0.06, 0.06), "#14100e"), Bone.HEAD),  # hair bun
        Part(capsule(P(Bone.NECK), P(Bone.HEAD) + [0, 0.02, 0], 0.048, skin), Bone.NECK),
        Part(torus(P(Bone.NECK) + [0, -0.005, 0], 0.075, 0.022, "#c9a227"), Bone.UPPER_CHEST),
        Part(
            ellipsoid(P(Bone.UPPER_CHEST) + [0, 0.03, 0], (0.19, 0.13, 0.115), trim),
            Bone.UPPER_CHEST,
        ),
        Part(ellipsoid(P(Bone.CHEST), (0.165, 0.125, 0.105), suit), Bone.CHEST),
        Part(ellipsoid(P(Bone.SPINE) + [0, 0.01, 0], (0.15, 0.11, 0.095), suit), Bone.SPINE),
        Part(
            cylinder(
                P(Bone.SPINE) + [0, -0.06, 0], P(Bone.SPINE) + [0, -0.025, 0], 0.152, "#2b2f36"
            ),
            Bone.SPINE,
        ),
        Part(box(P(Bone.SPINE) + [0, -0.043, 0.152], (0.06, 0.04, 0.01), "#c9a227"), Bone.SPINE),
        Part(ellipsoid(P(Bone.HIPS) + [0, -0.02, 0], (0.16, 0.12, 0.11), suit), Bone.HIPS),
        # Chevron badge and a stripe down the front.
        Part(
            cone(
                P(Bone.UPPER_CHEST) + [0.08, 0.06, 0.115],
                P(Bone.UPPER_CHEST) + [0.08, 0.06, 0.135],
                0.035,
                0.03,
                "#c9a227",
                3,
            ),
            Bone.UPPER_CHEST,
        ),
        Part(box(P(Bone.CHEST) + [0, 0, 0.103], (0.05, 0.22, 0.01), trim), Bone.CHEST),
    ]
    left = [
        Part(
            ellipsoid(P(Bone.LEFT_UPPER_ARM) + [-0.015, 0.01, 0], (0.085, 0.065, 0.075), trim),
            Bone.LEFT_SHOULDER,
        ),
        limb(Bone.LEFT_UPPER_ARM, Bone.LEFT_LOWER_ARM, 0.052, suit),
        limb(Bone.LEFT_LOWER_ARM, Bone.LEFT_HAND, 0.045, suit),
        Part(
            cylinder(
                P(Bone.LEFT_LOWER_ARM) + [0.12, 0, 0],
                P(Bone.LEFT_LOWER_ARM) + [0.15, 0, 0],
                0.05,
                trim,
            ),
            Bone.LEFT_LOWER_ARM,
        ),
        Part(
            ellipsoid(P(Bone.LEFT_HAND) + [0.07, 0, 0], (0.075, 0.028, 0.045), "#2b2f36"),
            Bone.LEFT_HAND,
        ),
        Part(
            capsule(
                P(Bone.LEFT_HAND) + [0.03, 0, 0.04],
                P(Bone.LEFT_HAND) + [0.07, -0.01, 0.07],
                0.015,
                "#2b2f36",
            ),
            Bone.LEFT_HAND,
        ),
        limb(Bone.LEFT_UPPER_LEG, Bone.LEFT_LOWER_LEG, 0.075, suit),
        limb(Bone.LEFT_LOWER_LEG, Bone.LEFT_FOOT, 0.058, boot),
        Part(
            cylinder(
                P(Bone.LEFT_LOWER_LEG) - [0, 0.02, 0],
                P(Bone.LEFT_LOWER_LEG) + [0, 0.02, 0],
                0.066,
                "#c9a227",
            ),
            Bone.LEFT_LOWER_LEG,
        ),
        Part(
            ellipsoid(P(Bone.LEFT_FOOT) + [0, -0.045, 0.03], (0.058, 0.045, 0.1), boot),
            Bone.LEFT_FOOT,
        ),
        Part(
            ellipsoid(P(Bone.LEFT_TOES) + [0, -0.005, 0.02], (0.055, 0.035, 0.06), boot),
            Bone.LEFT_TOES,
        ),
    ]
    return parts + left + mirror(left)


def skin_parts(parts: list[Part]) -> SkinnedMesh:
    """Merge the parts into one mesh; each vertex follows its part's bone, easing into the
    parent bone over the first 8 cm of a limb so joints bend without a crease."""
    pos, nrm, col, jnt, wgt, tri = [], [], [], [], [], []
    offset = 0
    for part in parts:
        m = part.mesh
        v = np.asarray(m.vertices)
        n = len(v)
        j = np.zeros((n, 4), np.uint16)
        w = np.zeros((n, 4), np.float32)
        j[:, 0] = part.bone
        w[:, 0] = 1.0
        parent = part.bone.parent
        if part.blend_from is not None and parent is not None:
            start = np.asarray(part.blend_from)
            axis = P(_NEXT[part.bone]) - start
            along = (v - start) @ (axis / np.linalg.norm(axis))
            own = np.clip(0.5 + along / 0.16, 0.5, 1.0)
            j[:, 1] = parent
            w[:, 0], w[:, 1] = own, 1.0 - own
        pos.append(v)
        nrm.append(np.asarray(m.vertex_normals))
        col.append(np.asarray(m.visual.vertex_colors, float) / 255.0)
        jnt.append(j)
        wgt.append(w)
        tri.append(np.asarray(m.faces) + offset)
        offset += n
    return SkinnedMesh(
        np.concatenate(pos).astype(np.float32),
        np.concatenate(nrm).astype(np.float32),
        np.concatenate(col).astype(np.float32),
        np.concatenate(jnt),
        np.concatenate(wgt),
        np.concatenate(tri).astype(np.uint32),
    )


def skeleton(bone_axes: str) -> list[SkinJoint]:
    """Joints in Bone order. ``identity``: rest rotations are the identity (the normalized
    T-pose). ``along``: each joint's Y axis points down its bone, as Blender exports do."""
    glob = {}
    for b in BODY_BONES:
        if bone_axes == "identity":
            glob[b] = np.eye(3)
            continue
        tip = np.array(_TIPS[b]) if b in _TIPS else P(_NEXT[b])
        y = tip - P(b)
        y /= np.linalg.norm(y)
        ref = np.array([0.0, 0.0, 1.0]) if abs(y[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
        x = np.cross(y, ref)
        x /= np.linalg.norm(x)
        glob[b] = np.column_stack([x, y, np.cross(x, y)])
    joints = []
    for b in BODY_BONES:
        parent = b.parent
        if parent is None:
            t, r = P(b), glob[b]
        else:
            t = glob[parent].T @ (P(b) - P(parent))
            r = glob[parent].T @ glob[b]
        q = matrix_to_quat(r)
        joints.append(
            SkinJoint(
                b.vrm_name,
                None if parent is None else int(parent),
                (float(t[0]), float(t[1]), float(t[2])),
                (float(q[0]), float(q[1]), float(q[2]), float(q[3])),
            )
        )
    return joints


def vrm_extension(title: str, author: str) -> dict[str, object]:
    return {
        "VRMC_vrm": {
            "specVersion": "1.0",
            "meta": {
                "name": title,
                "version": "1",
                "authors": [author],
                "copyrightInformation": "Immersion contributors",
                "licenseUrl": "https://vrm.dev/licenses/1.0/",
                "avatarPermission": "everyone",
                "commercialUsage": "corporation",
                "creditNotation": "unnecessary",
                "allowRedistribution": True,
                "modification": "allowModificationRedistribution",
                "allowExcessivelyViolentUsage": False,
                "allowExcessivelySexualUsage": False,
                "allowPoliticalOrReligiousUsage": False,
                "allowAntisocialOrHateUsage": False,
                "otherLicenseUrl": "https://www.apache.org/licenses/LICENSE-2.0",
            },
            # Joint i is glTF node i + 2 (node 0 is the root, node 1 the mesh).
            "humanoid": {"humanBones": {b.vrm_name: {"node": int(b) + 2} for b in BODY_BONES}},
        }
    }


AVATARS: dict[str, tuple[str, Callable[[], list[Part]], str]] = {
    "detective": ("Sam Marlowe, private eye", detective, "identity"),
    "captain": ("Captain Nova", captain, "along"),
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for key, (title, build, axes) in AVATARS.items():
        mesh = skin_parts(build())
        path = OUT / f"{key}.vrm"
        write_skinned_glb(
            path, mesh, skeleton(axes), name=key, extensions=vrm_extension(title, "Immersion")
        )
        print(
            f"{path.relative_to(OUT.parents[1])}: {len(mesh.triangles)} triangles, {len(mesh.positions)} vertices"
        )


if __name__ == "__main__":
    _ = srgb  # re-exported for generators that colour by hand
    main()

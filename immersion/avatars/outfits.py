"""Dressing a posed MakeHuman body: skin, eyes, mouth, lashes, hair and clothes as primitives.

Clothes are cut from MakeHuman's helper surfaces (the tights, the skirt, the hair cap), offset
outward along their normals and coloured per character; each vertex keeps the rig's weights,
so they move with the body. Body faces under opaque clothes are dropped (fewer triangles,
nothing pokes through), all but the last ring under a garment's edge. The skin is one
generated texture on MakeHuman's UV layout: the character's tone, with lips, eyelids, nails
and the inside of the mouth from the MPFB2 region masks, and painted eyebrows.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from immersion.avatars import makehuman as mh
from immersion.avatars.glb_writer import Material

if TYPE_CHECKING:
    from immersion.avatars.cast import BodyData, Character

BODY_END = 13380  # the base mesh's body vertices are 0..13379; helpers follow
TEXTURE_SIDE = 2048
EYE_SIDE = 256


def srgb(hex_colour: str) -> np.ndarray:
    """``#rrggbb`` as sRGB 0..1."""
    h = hex_colour.lstrip("#")
    return np.array([int(h[i : i + 2], 16) / 255.0 for i in (0, 2, 4)])


def linear(c: np.ndarray) -> np.ndarray:
    """sRGB 0..1 → linear (glTF's colour factors and vertex colours are linear)."""
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


@dataclass(frozen=True)
class Skin:
    colour: str  # sRGB hex
    lips: str
    ethnic: dict[str, float]


SKINS: dict[str, Skin] = {
    "light": Skin("#e8c4ae", "#c0706a", {"caucasian": 0.9, "asian": 0.05, "african": 0.05}),
    "fair": Skin("#f0cdb4", "#c8746e", {"caucasian": 0.85, "asian": 0.1, "african": 0.05}),
    "medium": Skin("#d4a07e", "#a9605a", {"caucasian": 0.4, "asian": 0.3, "african": 0.3}),
    "olive": Skin("#c89a6c", "#a05a50", {"caucasian": 0.5, "asian": 0.4, "african": 0.1}),
    "tan": Skin("#b98058", "#935046", {"caucasian": 0.6, "asian": 0.1, "african": 0.3}),
    "brown": Skin("#8d5a3b", "#6e3a30", {"african": 0.7, "caucasian": 0.2, "asian": 0.1}),
    "deep": Skin("#5e3a26", "#4a2620", {"african": 0.9, "caucasian": 0.05, "asian": 0.05}),
}
HAIR = {
    "black": "#1c1714",
    "dark-brown": "#3b2619",
    "brown": "#5a3a22",
    "auburn": "#7a3520",
    "blonde": "#c9a464",
    "grey": "#9a9590",
}
EYES = {"brown": "#5b3a1e", "hazel": "#7a6030", "green": "#4f7040", "blue": "#4a6f9a",
        "grey": "#6f7880"}  # fmt: skip


@dataclass(frozen=True)
class Region:
    """Where on the body: vertices whose strongest joint is one of ``joints`` and whose place
    along that joint's bone (0 at the joint, 1 at the next) is within ``t``."""

    joints: frozenset[str]
    t: tuple[float, float] = (-9.0, 9.0)


@dataclass(frozen=True)
class Garment:
    """``source``: "tights" (cut by ``regions``), "skirt" (its top ``length`` fraction) or
    "hair"; ``offset`` outward in decimetres; ``hides``: body faces under it are dropped."""

    name: str
    source: str
    colour: str
    regions: tuple[Region, ...] = ()
    offset: float = 0.06
    length: float = 1.0
    hides: bool = True


def _sided(*names: str) -> frozenset[str]:
    return frozenset(f"{s}{n}" for n in names for s in ("left", "right"))


TORSO = frozenset({"hips", "spine", "chest", "upperChest"}) | _sided("Shoulder")
UPPER_TORSO = frozenset({"spine", "chest", "upperChest"}) | _sided("Shoulder")
ARMS = _sided("UpperArm")
FOREARMS = _sided("LowerArm")
THIGHS = _sided("UpperLeg")
SHINS = _sided("LowerLeg")
FEET = _sided("Foot", "Toes")


def _top(colour: str, *, sleeves: float, offset: float = 0.07, name: str = "top") -> Garment:
    """A shirt/jacket: torso and arms; ``sleeves`` 0..1 of the arm's length (upper, fore)."""
    regions = [
        Region(TORSO - {"hips"}),
        Region(ARMS, (-9.0, min(sleeves * 2, 1.0) if sleeves < 0.5 else 9.0)),
    ]
    if sleeves > 0.5:
        regions.append(Region(FOREARMS, (-9.0, (sleeves - 0.5) * 2)))
    return Garment(name, "tights", colour, tuple(regions), offset)


def _legs(colour: str, *, length: float, offset: float = 0.05, name: str = "trousers") -> Garment:
    """Trousers/shorts: the thighs and ``length`` 0..1 of the legs (thigh then shin)."""
    regions = [Region(frozenset({"hips"})), Region(THIGHS, (-9.0, min(length * 2, 1.0)))]
    if length > 0.5:
        regions.append(Region(SHINS, (-9.0, (length - 0.5) * 2)))
    return Garment(name, "tights", colour, tuple(regions), offset)


def _shoes(colour: str, *, shaft: float = 0.08, offset: float = 0.07) -> Garment:
    """Shoes or boots: the feet and the last ``shaft`` fraction of the shin."""
    return Garment(
        "shoes", "tights", colour, (Region(FEET), Region(SHINS, (1 - shaft, 9.0))), offset
    )


@dataclass(frozen=True)
class Outfit:
    garments: tuple[Garment, ...]  # earlier ones win a contested patch of the tights
    hair_offset: float = 0.05


OUTFITS: dict[str, Outfit] = {
    "trench-coat": Outfit(
        (
            _shoes("#2a211c"),
            _top("#8a7352", sleeves=0.97, offset=0.12, name="coat"),
            _legs("#34343a", length=0.97),
            Garment("coat-tail", "skirt", "#8a7352", offset=0.16, length=0.62, hides=False),
        )
    ),
    "suit": Outfit(
        (
            _shoes("#1d1a18"),
            _top("#3b3f4a", sleeves=0.97, offset=0.09, name="jacket"),
            _legs("#3b3f4a", length=0.97),
        )
    ),
    "starship-uniform": Outfit(
        (
            _shoes("#15161a", shaft=0.55),
            Garment(
                "yoke",
                "tights",
                "#b8322c",
                (Region(frozenset({"upperChest"}) | _sided("Shoulder")),),
                0.08,
            ),
            _top("#1f3554", sleeves=0.97, offset=0.07, name="tunic"),
            _legs("#191b22", length=0.97),
        )
    ),
    "saloon-dress": Outfit(
        (
            _shoes("#1a1414"),
            _top("#7c1f2a", sleeves=0.3, offset=0.06, name="bodice"),
            Garment("skirt", "skirt", "#7c1f2a", offset=0.1, length=0.92, hides=False),
            _legs("#2a2024", length=0.95, offset=0.02, name="stockings"),
        )
    ),
    "sheriff": Outfit(
        (
            _shoes("#4a2e1c", shaft=0.5),
            Garment(
                "vest",
                "tights",
                "#5b3b26",
                (Region(UPPER_TORSO - _sided("Shoulder"), (-9.0, 9.0)),),
                0.11,
            ),
            _top("#c9b48f", sleeves=0.97, offset=0.07, name="shirt"),
            _legs("#4b5366", length=0.97),
        )
    ),
    "ranger": Outfit(
        (
            _shoes("#3a2818", shaft=0.55),
            _top("#3f5b35", sleeves=0.97, offset=0.09, name="tunic"),
            _legs("#5e4a35", length=0.97),
            Garment("tunic-tail", "skirt", "#3f5b35", offset=0.12, length=0.3, hides=False),
        )
    ),
    "kid": Outfit(
        (
            _shoes("#a8322b", shaft=0.1),
            _top("#d9b03c", sleeves=0.3, offset=0.06, name="t-shirt"),
            _legs("#3d5f8f", length=0.38, name="shorts"),
        )
    ),
}

# The next joint along each bone, for "how far along it" (t) ----------------------------------
_NEXT = {"hips": "spine", "spine": "chest", "chest": "upperChest", "upperChest": "neck",
         "neck": "head"}  # fmt: skip
for _s in ("left", "right"):
    _NEXT |= {
        f"{_s}Shoulder": f"{_s}UpperArm",
        f"{_s}UpperArm": f"{_s}LowerArm",
        f"{_s}LowerArm": f"{_s}Hand",
        f"{_s}Hand": f"{_s}MiddleProximal",
        f"{_s}UpperLeg": f"{_s}LowerLeg",
        f"{_s}LowerLeg": f"{_s}Foot",
        f"{_s}Foot": f"{_s}Toes",
    }


def _labels(
    points: np.ndarray, weights: np.ndarray, names: list[str], joints: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each point's strongest joint (index) and its place t along that joint's bone."""
    strongest = np.argmax(weights, axis=1)
    t = np.full(len(points), 0.5)
    for j, n in enumerate(names):
        nxt = _NEXT.get(n)
        pick = strongest == j
        if nxt is None or nxt not in names or not pick.any():
            continue
        a, b = joints[j], joints[names.index(nxt)]
        d = b - a
        t[pick] = (points[pick] - a) @ d / float(d @ d)
    return strongest, t


def _covered(region: Region, strongest: np.ndarray, t: np.ndarray, names: list[str]) -> np.ndarray:
    ids = [i for i, n in enumerate(names) if n in region.joints]
    return np.isin(strongest, ids) & (t >= region.t[0]) & (t <= region.t[1])


@dataclass
class Piece:
    """Triangles of one material over mesh vertices ``vids`` (rows of the rig's weights)."""

    material: int
    vids: np.ndarray
    positions: np.ndarray  # decimetres, posed
    normals: np.ndarray
    triangles: np.ndarray
    uvs: np.ndarray | None = None
    colors: np.ndarray | None = None
    morphs: np.ndarray | None = None  # (52, n, 3) decimetres


@dataclass
class Dressed:
    pieces: list[Piece]
    materials: list[Material]
    min_y: float


def _triangles(quads: np.ndarray) -> np.ndarray:
    """Quads (a, b, c, d) → triangles; a triangle written as a quad with d == c gives one."""
    first = quads[:, [0, 1, 2]]
    second = quads[:, [0, 2, 3]]
    keep = quads[:, 3] != quads[:, 2]
    return np.concatenate([first, second[keep]])


def _piece(
    material: int,
    tris: np.ndarray,
    positions: np.ndarray,
    normals: np.ndarray,
    tri_uvs: np.ndarray | None = None,
    uv_table: np.ndarray | None = None,
) -> Piece:
    """A piece from triangles over global vertex ids (and per-corner UV ids, if textured)."""
    if tri_uvs is not None and uv_table is not None:
        keys = tris.reshape(-1).astype(np.int64) * 1_000_000 + tri_uvs.reshape(-1)
        uniq, inverse = np.unique(keys, return_inverse=True)
        vids = uniq // 1_000_000
        uvs = uv_table[uniq % 1_000_000]
        uvs = np.c_[uvs[:, 0], 1.0 - uvs[:, 1]]  # OBJ's v runs up, glTF's down
    else:
        vids, inverse = np.unique(tris.reshape(-1), return_inverse=True)
        uvs = None
    return Piece(
        material,
        vids,
        positions[vids],
        normals[vids],
        inverse.reshape(-1, 3).astype(np.uint32),
        uvs,
    )


def _outward(
    normals: np.ndarray, points: np.ndarray, centre_of: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Flip ``normals`` if most point inward (towards the local bone axis ``centre_of``)."""
    facing = np.einsum("ij,ij->i", normals, points - centre_of(points))
    return -normals if np.median(facing) < 0 else normals


def dress(
    spec: Character,
    mesh: mh.BaseMesh,
    posed: np.ndarray,
    weights: np.ndarray,
    names: list[str],
    joints: np.ndarray,
    body: BodyData,
    head_scale: float,
) -> Dressed:
    """The character's primitives (posed, decimetres) and materials; ``weights`` (V, J) over
    the VRM joints ``names`` at ``joints`` decide where clothes go."""
    outfit = OUTFITS[spec.outfit]
    strongest, t = _labels(posed, weights, names, joints)

    def axis_centre(points: np.ndarray) -> np.ndarray:
        # The nearest point on each point's strongest bone (the limb's axis).
        idx = np.argmin(np.linalg.norm(points[:, None, :] - joints[None, :, :], axis=2), axis=1)
        return np.asarray(joints[idx])

    # Face Units on this body: offsets scaled with the head (they are on the base mesh).
    morph_all = np.zeros((len(body.faceunits), len(posed), 3))
    for k, (_, idx, delta) in enumerate(body.faceunits):
        morph_all[k, idx] = delta * head_scale
    touched = np.flatnonzero(np.abs(morph_all[:, :BODY_END]).max(axis=(0, 2)) > 0)

    quads = mesh.faces
    body_faces = mesh.groups["body"]
    body_tris_all = _triangles(quads[body_faces])
    normals = mh.vertex_normals(posed, body_tris_all)

    # Clothes from the tights: each face to the first garment covering all its corners.
    tights_faces = mesh.groups["helper-tights"]
    tights_tris = _triangles(quads[tights_faces])
    t_normals = mh.vertex_normals(posed, tights_tris)
    tv = np.unique(quads[tights_faces])
    t_normals[tv] = _outward(t_normals[tv], posed[tv], axis_centre)
    taken = np.zeros(len(tights_faces), bool)
    pieces: list[Piece] = []
    hidden_vertex = np.zeros(len(posed), bool)
    cloth_colours: list[tuple[Piece, np.ndarray]] = []
    covers = {}
    for g in outfit.garments:
        if g.source == "tights":
            cover = np.zeros(len(posed), bool)
            for r in g.regions:
                cover |= _covered(r, strongest, t, names)
            covers[g.name] = cover
    # A patch where two garments meet (every corner under one or the other) goes to the one
    # holding its first corner, so no skin shows between them.
    owner = np.full(len(tights_faces), -1)
    union = np.zeros(len(posed), bool)
    for k, g in enumerate(outfit.garments):
        if g.name in covers:
            whole = covers[g.name][quads[tights_faces]].all(axis=1) & (owner < 0)
            owner[whole] = k
            union |= covers[g.name]
    seam = (owner < 0) & union[quads[tights_faces]].all(axis=1)
    for k, g in enumerate(outfit.garments):
        if g.name in covers:
            first = covers[g.name][quads[tights_faces[:, None]][:, 0, 0]]
            owner[seam & first & (owner < 0)] = k
    for k, g in enumerate(outfit.garments):
        if g.source == "tights":
            cover = covers[g.name]
            mine = owner == k
            taken |= mine
            if not mine.any():
                continue
            tris = _triangles(quads[tights_faces[mine]])
            pos = posed + t_normals * g.offset
            pieces.append(_piece(6, tris, pos, t_normals))
            cloth_colours.append((pieces[-1], srgb(g.colour)))
            if g.hides:
                hidden_vertex[:BODY_END] |= cover[:BODY_END]
        elif g.source == "skirt":
            sf = mesh.groups["helper-skirt"]
            sv = np.unique(quads[sf])
            top, bottom = posed[sv, 1].max(), posed[sv, 1].min()
            cut = top - g.length * (top - bottom)
            keep = (posed[quads[sf], 1] >= cut - 1e-9).all(axis=1)
            tris = _triangles(quads[sf[keep]])
            s_normals = mh.vertex_normals(posed, tris)
            s_normals[sv] = _outward(s_normals[sv], posed[sv], axis_centre)
            pos = posed + s_normals * g.offset
            pieces.append(_piece(6, tris, pos, s_normals))
            cloth_colours.append((pieces[-1], srgb(g.colour)))

    # Body faces: hidden under clothes (but the last ring under a garment's edge stays).
    edge = hidden_vertex.copy()
    body_quads = quads[body_faces]
    open_face = ~hidden_vertex[body_quads].all(axis=1)
    edge[np.unique(body_quads[open_face])] = False
    drop = edge[body_quads].all(axis=1)
    kept = body_faces[~drop]
    # The face (all the Face Units move, and a ring round it) is its own primitive.
    near = np.zeros(len(posed), bool)
    near[touched] = True
    ring = near[quads[kept]].any(axis=1)
    near[np.unique(quads[kept[ring]])] = True
    is_face = near[quads[kept]].any(axis=1)
    for material, faces in ((0, kept[~is_face]), (1, kept[is_face])):
        pieces.append(
            _piece(
                material,
                _triangles(quads[faces]),
                posed,
                normals,
                _triangles(mesh.face_uvs[faces]),
                mesh.uvs,
            )
        )
        if material == 1:
            pieces[-1].morphs = morph_all[:, pieces[-1].vids]

    # Eyes, mouth, lashes, hair.
    eye_tris = []
    for side in ("l", "r"):
        eye_tris.append(_triangles(quads[mesh.groups[f"helper-{side}-eye"]]))
    eyes = _piece(
        2, np.concatenate(eye_tris), posed, mh.vertex_normals(posed, np.concatenate(eye_tris))
    )
    eyes.uvs = _eye_uvs(mesh, eyes.vids)
    eyes.morphs = morph_all[:, eyes.vids]
    pieces.append(eyes)

    mouth_groups = ["helper-upper-teeth", "helper-lower-teeth", "helper-tongue"]
    mouth_tris = np.concatenate([_triangles(quads[mesh.groups[g]]) for g in mouth_groups])
    mouth = _piece(3, mouth_tris, posed, mh.vertex_normals(posed, mouth_tris))
    tongue = np.isin(mouth.vids, mesh.group_vertices("helper-tongue"))
    mouth.colors = np.where(tongue[:, None], linear(srgb("#b8645f")), linear(srgb("#e6ddc8")))
    mouth.morphs = morph_all[:, mouth.vids]
    pieces.append(mouth)

    lash_groups = [g for g in mesh.groups if "eyelashes" in g]
    lash_tris = np.concatenate([_triangles(quads[mesh.groups[g]]) for g in lash_groups])
    lashes = _piece(4, lash_tris, posed, mh.vertex_normals(posed, lash_tris))
    lashes.morphs = morph_all[:, lashes.vids]
    pieces.append(lashes)

    hf = mesh.groups["helper-hair"]
    eyes_at = (joints[names.index("leftEye")] + joints[names.index("rightEye")]) / 2
    hf = hf[_hair_kept(posed[quads[hf]], eyes_at, spec.hair_style)]
    hair_tris = _triangles(quads[hf])
    h_normals = mh.vertex_normals(posed, hair_tris)
    hv = np.unique(quads[hf])
    head = joints[names.index("head")] if "head" in names else posed[hv].mean(axis=0)
    h_normals[hv] = _outward(h_normals[hv], posed[hv], lambda p: np.broadcast_to(head, p.shape))
    pieces.append(_piece(5, hair_tris, posed + h_normals * outfit.hair_offset, h_normals))

    for piece, colour in cloth_colours:
        piece.colors = np.tile(linear(colour), (len(piece.vids), 1))
    for p in pieces:
        if p.colors is not None:
            p.colors = np.c_[p.colors, np.ones(len(p.colors))]

    skin_png = skin_texture(spec, mesh, posed, body, names, joints)
    materials = [
        Material("skin", texture=skin_png, roughness=0.7),
        Material("face", texture=skin_png, roughness=0.6),
        Material("eyes", texture=eye_texture(spec.eyes), roughness=0.2),
        Material("mouth", roughness=0.4),
        Material("eyelashes", color=(*linear(srgb("#201814")), 1.0), double_sided=True),
        Material("hair", color=(*linear(srgb(HAIR[spec.hair])), 1.0), roughness=0.6,
                 double_sided=True),
        Material("clothes", roughness=0.85, double_sided=True),
    ]  # fmt: skip
    min_y = min(float(p.positions[:, 1].min()) for p in pieces)
    return Dressed(pieces, materials, min_y)


HAIR_STYLES = ("short", "long")


def _hair_kept(corners: np.ndarray, eyes: np.ndarray, style: str) -> np.ndarray:
    """Which of MakeHuman's long-hair strands a style keeps: the crown always; at the back down
    to the nape (short) or the shoulder blades (long); nothing over the face or the chest."""
    dy = corners[..., 1] - eyes[1]
    dz = corners[..., 2] - eyes[2]
    crown = dy > 0.3
    back = dz < (-0.7 if style == "short" else -0.55)
    reach = -0.9 if style == "short" else -2.3
    fringe = 0.6 if style == "short" else 0.45
    kept = (crown | (back & (dy > reach))) & ~((dz > -0.2) & (dy < fringe))
    return np.asarray(kept.all(axis=-1))


def _scalp(centre: np.ndarray, eyes: np.ndarray, head_top: float) -> np.ndarray:
    """Body faces (centres on the base mesh) under the hair: above a hairline that runs from
    the forehead down behind the ears to the nape."""
    dy = centre[:, 1] - eyes[1]
    dz = centre[:, 2] - eyes[2]
    line = np.interp(dz, [-1.4, -1.0, -0.55, -0.25], [-0.95, -0.75, 0.25, 0.58])
    ears = (np.abs(centre[:, 0]) > 0.62) & (dy < 0.25)
    return np.asarray((dy > line) & ~ears & (centre[:, 1] < head_top + 1) & (dy > -1.2))


def _eye_uvs(mesh: mh.BaseMesh, vids: np.ndarray) -> np.ndarray:
    """Planar UVs for the eyeballs (the base mesh looks down +Z): the iris painted on the
    front is then round whatever the eye's few faces."""
    uv = np.zeros((len(vids), 2))
    for side in ("l", "r"):
        members = np.isin(vids, mesh.group_vertices(f"helper-{side}-eye"))
        p = mesh.vertices[vids[members]]
        centre = (p.max(axis=0) + p.min(axis=0)) / 2
        radius = float((p.max(axis=0) - p.min(axis=0))[:2].max() / 2)
        d = (p - centre) / radius
        front = d[:, 2] > 0
        uv[members] = np.where(
            front[:, None], np.c_[0.5 + d[:, 0] * 0.5, 0.5 - d[:, 1] * 0.5], [[0.02, 0.02]]
        )
    return uv


def _png(img: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _jpeg(img: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=88)
    return buf.getvalue()


def image_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return (int(img.size[0]), int(img.size[1]))


def eye_texture(colour: str) -> bytes:
    """Sclera, an iris with radial streaks and a darker rim, a pupil: 256² PNG."""
    from PIL import Image

    n = EYE_SIDE
    y, x = np.mgrid[0:n, 0:n]
    d = np.hypot(x - n / 2 + 0.5, y - n / 2 + 0.5) / (n / 2)  # 0 centre, 1 at the eye's rim
    ang = np.arctan2(y - n / 2, x - n / 2)
    iris_r, pupil_r = 0.56, 0.22
    sclera = np.array([0.93, 0.91, 0.88])
    iris = srgb(EYES[colour])
    streak = 0.85 + 0.15 * np.sin(ang * 23) * np.sin(ang * 7 + 1.0)
    shade = (0.75 + 0.5 * (d / iris_r))[..., None] * streak[..., None]
    rgb = np.where((d < iris_r)[..., None], iris * shade, sclera)
    rim = np.clip(1 - np.abs(d - iris_r) / 0.05, 0, 1)[..., None]
    rgb = rgb * (1 - 0.6 * rim)
    rgb = np.where((d < pupil_r)[..., None], np.array([0.03, 0.03, 0.03]), rgb)
    glint = np.hypot(x - n * 0.42, y - n * 0.40) < n * 0.04
    rgb[glint] = 0.95
    return _png(Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8)))


def skin_texture(
    spec: Character,
    mesh: mh.BaseMesh,
    posed: np.ndarray,
    body: BodyData,
    names: list[str],
    joints: np.ndarray,
) -> bytes:
    """The skin on MakeHuman's UV layout: tone, lips, eyelids, nails, mouth, eyebrows (JPEG)."""
    from PIL import Image, ImageDraw, ImageFilter

    n = TEXTURE_SIDE
    skin = SKINS[spec.skin]
    base = srgb(skin.colour)

    def mask(name: str) -> np.ndarray:
        with Image.open(body.textures / f"mpfb_{name}.jpg") as img:
            m = img.convert("L").resize((n, n), Image.Resampling.BILINEAR)
            return np.asarray(m, dtype=np.float64)[..., None] / 255.0

    rgb = np.broadcast_to(base, (n, n, 3)).copy()
    # A little warmth in the face (cheeks, nose) and darker lids, as make-up artists see skin.
    rgb = rgb * (1 - 0.06 * mask("face")) + np.array([0.05, -0.01, -0.01]) * mask("face")
    rgb = rgb * (1 - 0.18 * mask("eyelids"))
    lips = mask("lips")
    rgb = rgb * (1 - lips) + srgb(skin.lips) * lips
    mouth = mask("inside-mouth")
    rgb = rgb * (1 - mouth) + srgb("#6a2a2a") * mouth
    for nails in ("fingernails", "toenails"):
        m = mask(nails)
        rgb = rgb * (1 - 0.5 * m) + np.clip(base * 1.1 + 0.06, 0, 1) * 0.5 * m

    img = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8))
    # Eyebrows: the body faces in a band above each eye, painted in UV space, softened.
    brows = Image.new("L", (n, n), 0)
    draw = ImageDraw.Draw(brows)
    v = mesh.vertices  # the base mesh, where the brow band is the same for every body
    faces = mesh.groups["body"]
    quads = mesh.faces[faces]
    centre = v[quads].mean(axis=1)
    for side, sx in (("l", 1.0), ("r", -1.0)):
        eye = v[mesh.group_vertices(f"helper-{side}-eye")]
        c = (eye.max(axis=0) + eye.min(axis=0)) / 2
        r = float((eye.max(axis=0) - eye.min(axis=0))[0] / 2)
        dx = (centre[:, 0] - c[0]) * sx / r
        dy = (centre[:, 1] - c[1]) / r
        # An arch: highest a little outside the eye's middle, thinning outward.
        arch = 1.45 + 0.25 * np.cos((dx - 0.2) * 1.3)
        thick = 0.32 - 0.06 * np.clip(dx, 0, 2)
        band = (dx > -1.05) & (dx < 1.55) & (np.abs(dy - arch) < thick) & (centre[:, 2] > c[2])
        for f in np.flatnonzero(band):
            uv = mesh.uvs[mesh.face_uvs[faces[f]]]
            draw.polygon([(float(a) * n, (1 - float(b)) * n) for a, b in uv], fill=230)
    eyes = np.mean(
        [v[mesh.group_vertices(f"helper-{side}-eye")].mean(axis=0) for side in ("l", "r")], axis=0
    )
    for f in np.flatnonzero(_scalp(centre, eyes, float(v[:BODY_END, 1].max()))):
        uv = mesh.uvs[mesh.face_uvs[faces[f]]]
        draw.polygon([(float(a) * n, (1 - float(b)) * n) for a, b in uv], fill=255)
    brows = brows.filter(ImageFilter.GaussianBlur(n / 400))
    hair = Image.new(
        "RGB", (n, n), tuple(int(c * 255) for c in srgb(HAIR[spec.hair]) * 0.8 + base * 0.2)
    )
    img = Image.composite(hair, img, brows)
    return _jpeg(img)

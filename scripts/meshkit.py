"""Small helpers the asset generators share: coloured trimesh primitives placed by endpoints.

Colours are given as sRGB hex (what a designer picks) and stored linear, as glTF requires.
"""

from __future__ import annotations

import numpy as np
import trimesh
from numpy.typing import NDArray

Vec = tuple[float, float, float] | list[float] | NDArray[np.float64]


def srgb(hex_colour: str, alpha: float = 1.0) -> NDArray[np.float64]:
    """'#rrggbb' → linear RGBA floats."""
    c = np.array([int(hex_colour.lstrip("#")[i : i + 2], 16) / 255.0 for i in (0, 2, 4)])
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return np.append(lin, alpha)


def paint(mesh: trimesh.Trimesh, hex_colour: str) -> trimesh.Trimesh:
    mesh.visual.vertex_colors = np.round(srgb(hex_colour) * 255).astype(np.uint8)
    return mesh


def _align(mesh: trimesh.Trimesh, a: Vec, b: Vec) -> trimesh.Trimesh:
    """Turn a mesh built along +Z (centred) so it spans a → b."""
    a_, b_ = np.asarray(a, float), np.asarray(b, float)
    axis = b_ - a_
    m = trimesh.geometry.align_vectors([0.0, 0.0, 1.0], axis / np.linalg.norm(axis))
    m[:3, 3] = (a_ + b_) / 2
    mesh.apply_transform(m)
    return mesh


def capsule(a: Vec, b: Vec, radius: float, colour: str, count: int = 14) -> trimesh.Trimesh:
    length = float(np.linalg.norm(np.asarray(b, float) - np.asarray(a, float)))
    mesh = trimesh.creation.capsule(height=length, radius=radius, count=[count, count])
    return paint(_align(mesh, a, b), colour)


def cylinder(a: Vec, b: Vec, radius: float, colour: str, sections: int = 24) -> trimesh.Trimesh:
    mesh = trimesh.creation.cylinder(radius=radius, segment=[a, b], sections=sections)
    return paint(mesh, colour)


def cone(
    a: Vec, b: Vec, r_a: float, r_b: float, colour: str, sections: int = 24
) -> trimesh.Trimesh:
    """A frustum from radius ``r_a`` at ``a`` to ``r_b`` at ``b`` (both ends capped)."""
    length = float(np.linalg.norm(np.asarray(b, float) - np.asarray(a, float)))
    ang = np.linspace(0, 2 * np.pi, sections, endpoint=False)
    ring = np.stack([np.cos(ang), np.sin(ang)], axis=1)
    verts = np.concatenate(
        [
            np.column_stack([ring * r_a, np.full(sections, -length / 2)]),
            np.column_stack([ring * r_b, np.full(sections, length / 2)]),
            [[0, 0, -length / 2], [0, 0, length / 2]],
        ]
    )
    faces = []
    for i in range(sections):
        j = (i + 1) % sections
        faces += [[i, sections + j, j], [i, sections + i, sections + j]]
        faces += [[2 * sections, i, j], [2 * sections + 1, sections + j, sections + i]]
    mesh = trimesh.Trimesh(verts, faces, process=True)
    return paint(_align(mesh, a, b), colour)


def ellipsoid(centre: Vec, radii: Vec, colour: str, subdivisions: int = 2) -> trimesh.Trimesh:
    mesh = trimesh.creation.icosphere(subdivisions=subdivisions)
    mesh.apply_scale(np.asarray(radii, float))
    mesh.apply_translation(np.asarray(centre, float))
    return paint(mesh, colour)


def box(centre: Vec, size: Vec, colour: str, yaw_deg: float = 0.0) -> trimesh.Trimesh:
    mesh = trimesh.creation.box(extents=np.asarray(size, float))
    if yaw_deg:
        mesh.apply_transform(
            trimesh.transformations.rotation_matrix(np.radians(yaw_deg), [0, 1, 0])
        )
    mesh.apply_translation(np.asarray(centre, float))
    return paint(mesh, colour)


def torus(
    centre: Vec, major: float, minor: float, colour: str, axis: Vec = (0, 1, 0)
) -> trimesh.Trimesh:
    mesh = trimesh.creation.torus(
        major_radius=major, minor_radius=minor, major_sections=32, minor_sections=12
    )
    m = trimesh.geometry.align_vectors([0.0, 0.0, 1.0], np.asarray(axis, float))
    mesh.apply_transform(m)
    mesh.apply_translation(np.asarray(centre, float))
    return paint(mesh, colour)

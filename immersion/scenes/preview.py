"""What the designer's preview shows of a pack, without the engine: the top view (floor, marks,
camera frustums, lights) as SVG, the actor's eye height and field of view (the actor's views,
:mod:`immersion.stage.actor_view`, use them), and a pack's version (a signature of its files, so
a change anywhere in the folder is seen).
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

from immersion.scenes.manifest import ScenePack

EYE_HEIGHT = 1.6  # metres: where an actor's eyes are, standing on a mark
# A headset's vertical field of view is about 90-100°; the preview shows a little less, as a
# designer judges a view by its middle.
EYE_FOV = 90.0
_ASPECT = 16 / 9  # the preview's pictures


def pack_version(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, size and modification time of every file in the pack's folder (a file that
    changes, appears or goes changes this)."""
    out = []
    for path in sorted(folder.rglob("*")):
        try:
            if path.is_file():
                st = path.stat()
                out.append((str(path.relative_to(folder)), st.st_size, st.st_mtime_ns))
        except OSError:
            continue  # gone between listing and looking: the next look sees it
    return tuple(out)


def top_view_svg(pack: ScenePack, size: int = 480) -> str:
    """The pack seen from above: the floor, each mark with the way it faces, each camera preset
    with its field of view, each light with a position. +X right, +Z (the audience) down."""
    points: list[tuple[float, float]] = []
    fx, fz = pack.floor_centre
    w, d = pack.floor_size
    points += [(fx - w / 2, fz - d / 2), (fx + w / 2, fz + d / 2)]
    points += [m.position for m in pack.marks]
    points += [(c.position[0], c.position[2]) for c in pack.cameras]
    xs, zs = [p[0] for p in points], [p[1] for p in points]
    span = max(max(xs) - min(xs), max(zs) - min(zs), 1.0) * 1.15
    cx, cz = (max(xs) + min(xs)) / 2, (max(zs) + min(zs)) / 2
    scale = size / span

    def at(x: float, z: float) -> tuple[float, float]:
        return (size / 2 + (x - cx) * scale, size / 2 + (z - cz) * scale)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'width="{size}" height="{size}" role="img" aria-label="Top view of {escape(pack.title)}">',
        f'<rect width="{size}" height="{size}" fill="#0c0e12"/>',
    ]
    x0, z0 = at(fx - w / 2, fz - d / 2)
    parts.append(
        f'<rect x="{x0:.1f}" y="{z0:.1f}" width="{w * scale:.1f}" height="{d * scale:.1f}" '
        'fill="#232833" stroke="#4a5263"/>'
    )
    reach = 0.6 * scale * 3
    for cam in pack.cameras:
        px, pz = at(cam.position[0], cam.position[2])
        heading = math.atan2(cam.look_at[0] - cam.position[0], cam.look_at[2] - cam.position[2])
        half = math.atan(math.tan(math.radians(cam.fov) / 2) * _ASPECT)
        ends = [
            (px + reach * math.sin(heading + s * half), pz + reach * math.cos(heading + s * half))
            for s in (-1, 1)
        ]
        parts.append(
            f'<polygon class="camera" points="{px:.1f},{pz:.1f} '
            + " ".join(f"{x:.1f},{z:.1f}" for x, z in ends)
            + '" fill="#e0a84a33" stroke="#e0a84a"/>'
        )
        parts.append(
            f'<text x="{px:.1f}" y="{pz - 6:.1f}" fill="#e0a84a" font-size="12" '
            f'text-anchor="middle">{escape(cam.name)}</text>'
        )
    for light in pack.lights:
        if light.position is not None:
            lx, lz = at(light.position[0], light.position[2])
            parts.append(
                f'<circle class="light" cx="{lx:.1f}" cy="{lz:.1f}" r="4" fill="#fff6c0"/>'
            )
    for mark in pack.marks:
        mx, mz = at(*mark.position)
        a = math.radians(mark.facing)
        tip = (mx + 22 * math.sin(a), mz + 22 * math.cos(a))
        parts.append(
            f'<g class="mark"><circle cx="{mx:.1f}" cy="{mz:.1f}" r="8" fill="#4ac08a"/>'
            f'<line x1="{mx:.1f}" y1="{mz:.1f}" x2="{tip[0]:.1f}" y2="{tip[1]:.1f}" '
            'stroke="#4ac08a" stroke-width="3"/>'
            f'<text x="{mx + 11:.1f}" y="{mz + 4:.1f}" fill="#d6f5e6" font-size="12">'
            f"{escape(mark.name)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)

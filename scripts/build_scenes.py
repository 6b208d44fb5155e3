"""Build the shipped scene packs' geometry: scenes/<pack>/set.glb (the manifests are by hand).

    .venv/bin/python scripts/build_scenes.py

Units are metres, Y up, the audience at +Z. Each set is a room or clearing about 8 x 6 m with
the actor's floor in the middle; colours are sRGB hex, stored linear.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import trimesh
from meshkit import box, capsule, cone, cylinder, ellipsoid, paint, torus

ROOT = Path(__file__).resolve().parents[1] / "scenes"
Mesh = trimesh.Trimesh
rng = np.random.default_rng(7)


def planks(
    width: float, depth: float, board: float, colours: list[str], y: float = 0.0
) -> list[Mesh]:
    """A floor of boards running along Z, each a slightly different tone."""
    out = []
    n = int(width / board)
    for i in range(n):
        x = -width / 2 + (i + 0.5) * board
        z0 = -depth / 2
        while z0 < depth / 2:
            length = min(float(rng.uniform(1.2, 2.4)), depth / 2 - z0)
            out.append(
                box(
                    (x, y - 0.01, z0 + length / 2),
                    (board - 0.006, 0.02, length - 0.006),
                    colours[int(rng.integers(len(colours)))],
                )
            )
            z0 += length
    return out


def walls(width: float, depth: float, height: float, colour: str, sides: bool = True) -> list[Mesh]:
    out = [box((0, height / 2, -depth / 2 - 0.05), (width, height, 0.1), colour)]
    if sides:
        out += [
            box((s * (width / 2 + 0.05), height / 2, 0), (0.1, height, depth), colour)
            for s in (-1, 1)
        ]
    return out


def noir() -> list[Mesh]:
    m: list[Mesh] = planks(8, 6, 0.14, ["#3b2618", "#442c1c", "#33210f"])
    m += walls(8, 6, 3.2, "#2f3a34")
    m += [box((0, 0.6, -2.94), (8, 1.2, 0.04), "#3d2b1d")]  # wainscot
    # Window with venetian blinds on the back wall, moonlight behind.
    m += [box((1.6, 1.9, -2.96), (2.0, 1.6, 0.02), "#7d93b8")]
    m += [box((1.6, 1.05 + i * 0.055, -2.9), (1.9, 0.012, 0.06), "#c8c2a8") for i in range(30)]
    m += [
        box((1.6, 1.05 + 0.8, -2.92), (0.05, 1.7, 0.05), "#2a1d12"),
        box((1.6, 1.9, -2.92), (2.1, 0.05, 0.05), "#2a1d12"),
    ]
    # Desk, chair, lamp, telephone, typewriter, papers, bottle.
    m += [box((-1.2, 0.76, -1.6), (1.8, 0.06, 0.9), "#4b2e1c")]
    m += [box((-1.2 + s * 0.75, 0.38, -1.6), (0.3, 0.74, 0.8), "#3f2616") for s in (-1, 1)]
    m += [
        cylinder((-1.6, 0.79, -1.75), (-1.6, 0.8, -1.75), 0.1, "#b08d3c"),
        cylinder((-1.6, 0.8, -1.75), (-1.6, 1.15, -1.75), 0.012, "#b08d3c"),
    ]
    m += [cone((-1.6, 1.12, -1.75), (-1.6, 1.22, -1.75), 0.16, 0.05, "#1e5e3a")]
    m += [
        cylinder((-0.7, 0.79, -1.5), (-0.7, 0.86, -1.5), 0.09, "#121212"),
        torus((-0.7, 0.87, -1.5), 0.06, 0.012, "#121212"),
    ]
    m += [box((-0.7, 0.9, -1.55), (0.22, 0.03, 0.05), "#121212")]
    m += [
        box((-1.05, 0.84, -1.45), (0.4, 0.12, 0.3), "#1a1a1a"),
        box((-1.05, 0.93, -1.55), (0.42, 0.05, 0.05), "#2a2a2a"),
    ]
    m += [
        box(
            (-1.4 + 0.03 * i, 0.8 + 0.004 * i, -1.35),
            (0.21, 0.003, 0.29),
            "#e8e2cf",
            yaw_deg=float(rng.uniform(-15, 15)),
        )
        for i in range(8)
    ]
    m += [
        cylinder((-0.45, 0.79, -1.8), (-0.45, 1.05, -1.8), 0.04, "#7a4a12"),
        cylinder((-0.45, 1.05, -1.8), (-0.45, 1.12, -1.8), 0.015, "#7a4a12"),
    ]
    m += [cylinder((-0.35, 0.79, -1.72), (-0.35, 0.87, -1.72), 0.03, "#c9d6d8")]
    m += [
        box((-1.2, 0.48, -2.35), (0.55, 0.06, 0.5), "#5a1e1e"),
        box((-1.2, 0.85, -2.57), (0.55, 0.7, 0.08), "#5a1e1e"),
    ]
    m += [
        cylinder(
            (-1.2 + sx * 0.22, 0, -2.35 + sz * 0.2),
            (-1.2 + sx * 0.22, 0.46, -2.35 + sz * 0.2),
            0.025,
            "#2a1a10",
        )
        for sx in (-1, 1)
        for sz in (-1, 1)
    ]
    # Filing cabinets and a bookcase full of books.
    for i in range(3):
        x = -3.6 + i * 0.55
        m += [box((x, 0.7, -2.65), (0.5, 1.4, 0.6), "#56605a")]
        m += [box((x, 0.25 + d * 0.35, -2.34), (0.18, 0.03, 0.03), "#c0b48a") for d in range(4)]
    m += [box((3.55, 1.1, -1.0), (0.35, 2.2, 1.6), "#3a2415")]
    for shelf in range(5):
        y = 0.15 + shelf * 0.42
        m += [box((3.4, y, -1.0), (0.34, 0.03, 1.55), "#2e1c10")]
        z = -1.75
        while z < -0.3:
            w = float(rng.uniform(0.03, 0.07))
            h = float(rng.uniform(0.22, 0.34))
            m += [
                box(
                    (3.42, y + 0.015 + h / 2, z + w / 2),
                    (0.24, h, w - 0.004),
                    ["#6b1f1f", "#1f3b5a", "#4a4a2a", "#5a3a1a", "#2a4a3a"][int(rng.integers(5))],
                )
            ]
            z += w
    # Coat rack with a hat, a door with frosted glass, a ceiling fan, a rug.
    m += [
        cylinder((-3.3, 0, 1.8), (-3.3, 1.8, 1.8), 0.025, "#2a1a10"),
        ellipsoid((-3.2, 1.72, 1.8), (0.14, 0.05, 0.14), "#2b2622"),
    ]
    m += [capsule((-3.3, 1.6, 1.8), (-3.1, 1.3, 1.8), 0.09, "#6e5a3c")]
    m += [
        box((-2.2, 1.05, -2.92), (0.95, 2.1, 0.06), "#4a2f1c"),
        box((-2.2, 1.45, -2.88), (0.6, 0.7, 0.02), "#c9d3c8"),
    ]
    m += [
        cylinder((0, 3.2, 0), (0, 2.9, 0), 0.02, "#5a4a30"),
        cylinder((0, 2.9, 0), (0, 2.82, 0), 0.09, "#5a4a30"),
    ]
    m += [
        box(
            (np.cos(a) * 0.45, 2.86, np.sin(a) * 0.45),
            (0.7, 0.01, 0.16),
            "#4a3420",
            yaw_deg=float(-np.degrees(a)),
        )
        for a in np.linspace(0, 2 * np.pi, 4, endpoint=False)
    ]
    m += [
        box((0, 0.005, 0.2), (3.2, 0.01, 2.2), "#5a1a22"),
        box((0, 0.007, 0.2), (2.9, 0.01, 1.9), "#7a2a30"),
    ]
    m += [
        cylinder(
            (0.5 + k * 0.05, 0.12, -2.85),
            (0.5 + k * 0.05, 0.85, -2.85),
            0.018,
            "#8a8f88",
            sections=24,
        )
        for k in range(40)
    ]
    m += [
        ellipsoid((-2.2, 0.95, -2.4), (0.16, 0.16, 0.16), "#3a6a8a", subdivisions=4),
        torus((-2.2, 0.95, -2.4), 0.18, 0.01, "#b08d3c", axis=(0.4, 0, 1)),
    ]
    m += [cylinder((-2.2, 0, -2.4), (-2.2, 0.78, -2.4), 0.02, "#2a1a10")]
    for cx in (-1.6, -0.8):
        m += [
            capsule((cx - 0.22, 0.45, -0.75), (cx + 0.22, 0.45, -0.75), 0.14, "#6a2a2a", count=24),
            capsule((cx - 0.22, 0.8, -0.95), (cx + 0.22, 0.8, -0.95), 0.12, "#6a2a2a", count=24),
        ]
        m += [
            cylinder((cx + dx, 0, -0.85 + dz), (cx + dx, 0.35, -0.85 + dz), 0.025, "#2a1a10")
            for dx in (-0.25, 0.25)
            for dz in (-0.15, 0.15)
        ]
    for k, (x, y) in enumerate(((-3.2, 2.0), (-2.6, 2.2), (3.0, 2.5))):
        m += [
            box((x, y, -2.96), (0.5, 0.38, 0.03), "#6a4a1a"),
            box((x, y, -2.94), (0.42, 0.3, 0.02), ["#9a9080", "#7a8a90", "#a09a70"][k]),
        ]
    return m


def bridge() -> list[Mesh]:
    m: list[Mesh] = [cylinder((0, -0.05, 0), (0, 0, 0), 4.6, "#2a2f38", sections=64)]
    m += [torus((0, 0.0, 0), r, 0.02, "#37c5e8") for r in (1.4, 2.6, 3.8)]  # floor light rings
    # Hull: a faceted dome of panels round the room.
    for i in range(28):
        a = np.pi * 2 * i / 28
        if -np.cos(a) > 0.45:
            continue  # the audience's side stays open
        for k in range(4):
            y = 0.4 + k * 0.8
            r = 4.6 - k * 0.35
            m += [
                box(
                    (np.sin(a) * r, y, -np.cos(a) * r),
                    (1.0, 0.76, 0.08),
                    ["#3b4350", "#343b47"][(i + k) % 2],
                    yaw_deg=float(-np.degrees(a)),
                )
            ]
    # Viewscreen with stars and a planet at the front (the -Z wall).
    m += [box((0, 1.9, -4.2), (5.0, 2.4, 0.05), "#03040a")]
    for _ in range(260):
        x, y = float(rng.uniform(-2.4, 2.4)), float(rng.uniform(0.8, 3.0))
        s = float(rng.uniform(0.006, 0.02))
        m += [ellipsoid((x, y, -4.16), (s, s, 0.004), "#f4f7ff", subdivisions=1)]
    m += [
        ellipsoid((1.2, 2.2, -4.15), (0.55, 0.55, 0.02), "#d0733b", subdivisions=4),
        torus((1.2, 2.2, -4.14), 0.8, 0.015, "#e0c8a0", axis=(0.2, 0.3, 1)),
    ]
    m += [
        box((0, 0.7, -4.15), (5.2, 0.12, 0.1), "#8a95a8"),
        box((0, 3.12, -4.15), (5.2, 0.12, 0.1), "#8a95a8"),
    ]
    # Console arc ahead, with glowing panels and buttons.
    for i in range(9):
        a = np.radians(-50 + i * 12.5)
        cx, cz = np.sin(a) * 2.8, -np.cos(a) * 2.8
        m += [box((cx, 0.45, cz), (0.58, 0.9, 0.5), "#4b5566", yaw_deg=float(-np.degrees(a)))]
        m += [
            box((cx, 0.92, cz + 0.0), (0.56, 0.04, 0.52), "#1b2029", yaw_deg=float(-np.degrees(a)))
        ]
        for b in range(6):
            bx = cx + np.cos(a) * (b - 2.5) * 0.08
            bz = cz + np.sin(a) * (b - 2.5) * 0.08
            m += [
                box(
                    (bx, 0.95, bz + 0.05),
                    (0.05, 0.02, 0.05),
                    ["#ff5a4f", "#3fe0a0", "#ffd447", "#37c5e8"][(i + b) % 4],
                )
            ]
    # Captain's chair at the centre, two side stations, ceiling ring.
    m += [
        cylinder((0, 0, -1.1), (0, 0.35, -1.1), 0.22, "#8a95a8"),
        box((0, 0.45, -1.1), (0.7, 0.12, 0.6), "#7a1f2b"),
    ]
    m += [
        box((0, 0.95, -1.38), (0.7, 0.9, 0.12), "#7a1f2b"),
        box((-0.38, 0.62, -1.1), (0.08, 0.08, 0.6), "#8a95a8"),
        box((0.38, 0.62, -1.1), (0.08, 0.08, 0.6), "#8a95a8"),
    ]
    for s in (-1, 1):
        m += [
            box((s * 3.2, 0.6, 0.8), (0.6, 1.2, 1.4), "#4b5566"),
            box((s * 2.92, 1.35, 0.8), (0.04, 0.6, 1.2), "#1d6f8a"),
        ]
    m += [torus((0, 3.4, 0), 2.2, 0.12, "#59647a"), torus((0, 3.38, 0), 2.2, 0.03, "#37c5e8")]
    m += [
        cylinder(
            (np.sin(a) * 3.6, 0, -np.cos(a) * 3.6),
            (np.sin(a) * 3.0, 3.6, -np.cos(a) * 3.0),
            0.09,
            "#59647a",
        )
        for a in np.linspace(0, 2 * np.pi, 8, endpoint=False)
        if -np.cos(a) < 0.45
    ]
    return m


def saloon() -> list[Mesh]:
    m: list[Mesh] = planks(9, 7, 0.18, ["#7a4e2a", "#6b4224", "#85572f"])
    m += walls(9, 7, 3.6, "#8b5a33")
    m += [box((0, 1.2 + i * 0.2, -3.44), (9, 0.02, 0.02), "#5e3a1e") for i in range(12)]
    # Bar counter along the back with a brass foot rail, shelves of bottles and a mirror.
    m += [
        box((-1.0, 0.55, -2.4), (4.6, 1.1, 0.6), "#5a3418"),
        box((-1.0, 1.12, -2.4), (4.8, 0.06, 0.75), "#3b2010"),
    ]
    m += [cylinder((-3.3, 0.18, -2.0), (1.3, 0.18, -2.0), 0.025, "#c9a227")]
    m += [
        box((-1.0, 1.9, -3.42), (2.6, 1.1, 0.02), "#b9c4c9"),
        box((-1.0, 1.9, -3.44), (2.8, 1.3, 0.03), "#4a2a12"),
    ]
    for shelf in range(3):
        y = 1.4 + shelf * 0.38
        for side in (-1, 1):
            x0 = -1.0 + side * 2.0
            m += [box((x0, y, -3.3), (1.3, 0.03, 0.25), "#4a2a12")]
            for k in range(9):
                x = x0 - 0.55 + k * 0.135
                colour = ["#2f5a2a", "#6b2a14", "#a8741c", "#3a2a5a", "#d8d0b0"][
                    int(rng.integers(5))
                ]
                h = float(rng.uniform(0.18, 0.3))
                m += [
                    cylinder(
                        (x, y + 0.015, -3.3), (x, y + 0.015 + h, -3.3), 0.035, colour, sections=24
                    ),
                    cylinder((x, y + h, -3.3), (x, y + h + 0.08, -3.3), 0.012, colour, sections=12),
                ]
    # Round tables with chairs, cards and glasses; a piano; swinging doors; oil lamps.
    for tx, tz in ((-2.8, 0.6), (2.6, 0.4), (2.9, -1.6), (-3.2, 2.4)):
        m += [
            cylinder((tx, 0.72, tz), (tx, 0.76, tz), 0.5, "#6b3e1c", sections=32),
            cylinder((tx, 0, tz), (tx, 0.72, tz), 0.05, "#4a2a12"),
        ]
        m += [cylinder((tx, 0, tz), (tx, 0.03, tz), 0.25, "#4a2a12")]
        m += [
            box(
                (tx + float(rng.uniform(-0.2, 0.2)), 0.765, tz + float(rng.uniform(-0.2, 0.2))),
                (0.06, 0.003, 0.09),
                "#f0ece0",
                yaw_deg=float(rng.uniform(0, 90)),
            )
            for _ in range(6)
        ]
        m += [
            cylinder(
                (tx + 0.2, 0.76, tz - 0.1), (tx + 0.2, 0.86, tz - 0.1), 0.03, "#c8b070", sections=12
            )
        ]
        for a in np.linspace(0, 2 * np.pi, 4, endpoint=False) + 0.4:
            cx, cz = tx + np.cos(a) * 0.75, tz + np.sin(a) * 0.75
            m += [box((cx, 0.45, cz), (0.42, 0.05, 0.42), "#7a4a22", yaw_deg=float(-np.degrees(a)))]
            m += [
                cylinder(
                    (cx + dx, 0, cz + dz), (cx + dx, 0.45, cz + dz), 0.02, "#4a2a12", sections=8
                )
                for dx in (-0.17, 0.17)
                for dz in (-0.17, 0.17)
            ]
            m += [
                box(
                    (cx + np.cos(a) * 0.2, 0.75, cz + np.sin(a) * 0.2),
                    (0.42, 0.55, 0.04),
                    "#7a4a22",
                    yaw_deg=float(90 - np.degrees(a)),
                )
            ]
    m += [
        box((3.9, 0.75, -2.6), (0.7, 1.5, 1.6), "#2a1a10"),
        box((3.55, 0.8, -2.6), (0.12, 0.06, 1.4), "#f0ece0"),
    ]
    m += [
        box((3.53, 0.83, -3.3 + k * 0.05), (0.1, 0.03, 0.025), "#101010")
        for k in range(28)
        if k % 7 not in (0, 3)
    ]
    m += [
        box((4.47, 1.2, 1.5 + s * 0.33), (0.04, 1.0, 0.6), "#8b5a2b") for s in (-1, 1)
    ]  # batwing doors
    for bx, bz in ((-3.9, -2.9), (-3.3, -3.0), (-3.6, -2.4), (3.9, 2.8), (3.3, 3.0)):
        m += [cylinder((bx, 0, bz), (bx, 0.85, bz), 0.27, "#7a4a22", sections=40)]
        m += [torus((bx, y, bz), 0.275, 0.012, "#3a3a3a") for y in (0.12, 0.42, 0.73)]
    for lx in (-2.5, 0.0, 2.5):
        m += [
            cylinder((lx, 3.6, 0.5), (lx, 2.7, 0.5), 0.01, "#222222", sections=6),
            cylinder((lx, 2.55, 0.5), (lx, 2.7, 0.5), 0.07, "#f5c26b", sections=16),
        ]
        m += [cone((lx, 2.7, 0.5), (lx, 2.78, 0.5), 0.14, 0.02, "#3a2a1a")]
    m += [
        box((x, 1.8, -3.43), (0.4, 0.55, 0.01), "#e0cfa0") for x in (2.2, 2.8, 3.4)
    ]  # wanted posters
    m += [box((x, 1.75, -3.42), (0.25, 0.25, 0.01), "#5a4a3a") for x in (2.2, 2.8, 3.4)]
    m += [cylinder((1.6, 0, -1.8), (1.6, 0.25, -1.8), 0.12, "#b08d3c")]
    m += [
        box((-4.0, 0.1 + k * 0.2, -0.4 + k * 0.25), (0.9, 0.04, 0.3), "#6b4224") for k in range(12)
    ]  # stairs
    return m


def tree(x: float, z: float, h: float) -> list[Mesh]:
    """A fir ``h`` metres tall: a trunk and four tiers of branches."""
    m = [cone((x, 0, z), (x, h * 0.55, z), 0.28, 0.16, "#4a3220", sections=14)]
    for k in range(4):
        y0 = h * (0.3 + k * 0.17)
        m += [
            cone(
                (x, y0, z),
                (x, y0 + h * 0.3, z),
                1.5 - k * 0.3,
                0.02,
                ["#1e4a2e", "#24583a", "#1a4030"][k % 3],
                sections=18,
            )
        ]
    return m


def forest() -> list[Mesh]:
    disc = cylinder((0, -0.04, 0), (0, 0, 0), 9.0, "#2f5a2c", sections=96)
    m: list[Mesh] = [disc, cylinder((0, -0.035, 0), (0, 0.002, 0), 2.6, "#4a7a3a", sections=64)]
    # A ring of trees round the clearing.
    for i in range(34):
        a = 2 * np.pi * i / 34 + float(rng.uniform(-0.05, 0.05))
        r = float(rng.uniform(4.2, 7.5))
        x, z = np.sin(a) * r, -np.cos(a) * r
        if z > 3.0 and abs(x) < 3.0:
            continue  # keep the audience's view open
        m += tree(x, z, float(rng.uniform(4.0, 6.5)))
    # Giant glowing mushrooms, standing stones, a fallen log, flowers, fireflies.
    for x, z, s in (
        (-2.4, -1.9, 1.0),
        (-2.9, -1.2, 0.6),
        (2.6, -2.2, 0.8),
        (3.0, -1.5, 0.5),
        (-1.6, -2.8, 0.45),
    ):
        m += [cylinder((x, 0, z), (x, 0.7 * s, z), 0.08 * s, "#e8e0c8", sections=16)]
        m += [
            ellipsoid((x, 0.72 * s, z), (0.45 * s, 0.22 * s, 0.45 * s), "#b0309a", subdivisions=3)
        ]
        m += [
            ellipsoid(
                (x + dx * s, 0.86 * s, z + dz * s),
                (0.05 * s, 0.03 * s, 0.05 * s),
                "#f5e8ff",
                subdivisions=1,
            )
            for dx, dz in ((0.15, 0.1), (-0.12, 0.18), (0.05, -0.2), (-0.2, -0.05))
        ]
    for i in range(7):
        a = np.pi * (0.15 + 0.7 * i / 6) + np.pi
        x, z = np.cos(a) * 3.3, np.sin(a) * 3.3
        stone = ellipsoid((x, 0.6, z), (0.3, 0.7, 0.22), "#6f7478", subdivisions=3)
        stone.vertices += rng.normal(0, 0.02, stone.vertices.shape)
        m += [stone]
    m += [
        capsule((1.0, 0.22, -3.0), (3.4, 0.3, -2.6), 0.24, "#5a3d26"),
        cylinder((3.55, 0.3, -2.58), (3.6, 0.3, -2.57), 0.2, "#a88a5a"),
    ]
    for _ in range(140):
        r, a = float(rng.uniform(0.8, 4.0)), float(rng.uniform(0, 2 * np.pi))
        x, z = np.sin(a) * r, -np.cos(a) * r
        m += [
            cylinder((x, 0, z), (x, 0.18, z), 0.006, "#3f7a3a", sections=5),
            ellipsoid(
                (x, 0.19, z),
                (0.035, 0.02, 0.035),
                ["#f2e94e", "#f7f7f7", "#9b6bff", "#ff8fb1"][int(rng.integers(4))],
                subdivisions=1,
            ),
        ]
    for _ in range(320):  # grass tufts
        r, a = float(rng.uniform(0.3, 7.0)), float(rng.uniform(0, 2 * np.pi))
        x, z = np.sin(a) * r, -np.cos(a) * r
        m += [
            cone((x, 0, z), (x, float(rng.uniform(0.12, 0.3)), z), 0.05, 0.0, "#3d6e30", sections=5)
        ]
    for _ in range(60):
        m += [
            ellipsoid(
                (
                    float(rng.uniform(-4, 4)),
                    float(rng.uniform(0.5, 2.6)),
                    float(rng.uniform(-4, 1.5)),
                ),
                (0.02, 0.02, 0.02),
                "#fff2a0",
                subdivisions=1,
            )
        ]
    return m


# The audience's side of each set, seen by the actor's eyes only (seen_by = "eyes" in the
# manifest): the casting cameras stand there and look through it. A generator of its own, so
# the sets' models stay as they were.
audience_rng = np.random.default_rng(16)


def noir_audience() -> list[Mesh]:
    m = [box((0, 1.6, 3.05), (8, 3.2, 0.1), "#2f3a34")]
    m += [box((0, 0.6, 2.98), (8, 1.2, 0.04), "#3d2b1d")]  # wainscot
    # The office door: frame, panel, a frosted pane with the agency's gilt band, a brass knob.
    m += [
        box((-1.4, 1.1, 2.96), (1.1, 2.3, 0.06), "#2a1a10"),
        box((-1.4, 1.05, 2.93), (0.9, 2.1, 0.04), "#4a3020"),
        box((-1.4, 1.55, 2.9), (0.62, 0.7, 0.02), "#c9c2a0"),
        box((-1.4, 1.62, 2.885), (0.46, 0.06, 0.01), "#a8741c"),
        ellipsoid((-1.05, 1.0, 2.88), (0.035, 0.035, 0.035), "#c9a227"),
    ]
    # A coat stand with a trench coat and a fedora.
    x, z = 1.9, 2.55
    m += [
        cone((x, 0, z), (x, 0.05, z), 0.28, 0.24, "#2a1a10"),
        cylinder((x, 0.05, z), (x, 1.8, z), 0.025, "#3b2618"),
        cone((x, 1.05, z - 0.12), (x, 1.55, z - 0.12), 0.3, 0.1, "#8a7550"),  # the coat
        cylinder((x, 1.8, z), (x, 1.93, z), 0.1, "#222326"),
        cylinder((x, 1.8, z), (x, 1.815, z), 0.17, "#222326"),
    ]
    m += [
        capsule((x, 1.72, z), (x + 0.18 * np.sin(a), 1.78, z + 0.18 * np.cos(a)), 0.012, "#c9a227")
        for a in np.radians([45, 135, 225, 315])
    ]
    # A framed map and a light switch.
    m += [
        box((0.4, 1.9, 2.98), (1.0, 0.7, 0.03), "#2a1a10"),
        box((0.4, 1.9, 2.96), (0.9, 0.6, 0.02), "#a89a78"),
        box((-0.7, 1.3, 2.98), (0.08, 0.12, 0.02), "#c9c2a0"),
    ]
    return m


def saloon_audience() -> list[Mesh]:
    # The front wall with the doorway (1.6 m) in the middle, and windows either side.
    m = [
        box((-2.65, 1.8, 3.55), (3.7, 3.6, 0.1), "#8b5a33"),
        box((2.65, 1.8, 3.55), (3.7, 3.6, 0.1), "#8b5a33"),
        box((0, 3.1, 3.55), (1.6, 1.0, 0.1), "#8b5a33"),
    ]
    m += [  # the boards' seams, either side of the doorway
        box((s * 2.65, 1.2 + i * 0.2, 3.49), (3.7, 0.02, 0.02), "#5e3a1e")
        for i in range(12)
        for s in (-1, 1)
    ]
    for x in (-2.6, 2.6):  # windows, in front of the seams
        m += [
            box((x, 1.8, 3.465), (1.6, 1.3, 0.02), "#4a2a12"),
            box((x, 1.8, 3.45), (1.4, 1.1, 0.02), "#e0c890"),
        ]
    # Swinging doors, a little ajar.
    m += [
        box((-0.4, 1.35, 3.5), (0.76, 1.1, 0.05), "#6b4224", yaw_deg=12),
        box((0.4, 1.35, 3.5), (0.76, 1.1, 0.05), "#6b4224", yaw_deg=-12),
    ]
    # The street: dust, a boardwalk, a hitching rail, and the far side's false fronts.
    m += [box((0, -0.02, 8.0), (24, 0.02, 9.0), "#b08a5a")]
    m += [box((0, 0.1, 4.3), (12, 0.2, 1.4), "#7a4e2a")]
    m += [
        cylinder((-1.8, 0, 5.6), (-1.8, 1.0, 5.6), 0.05, "#5a3418"),
        cylinder((1.8, 0, 5.6), (1.8, 1.0, 5.6), 0.05, "#5a3418"),
        cylinder((-1.9, 0.95, 5.6), (1.9, 0.95, 5.6), 0.04, "#5a3418"),
    ]
    for k, x in enumerate(np.arange(-9, 10, 4.5)):
        h = float(audience_rng.uniform(4.0, 6.0))
        colour = ["#9a7048", "#8a6a50", "#a07a52", "#7a5a3a", "#94704c"][k % 5]
        m += [box((x, h / 2, 12.0), (4.3, h, 0.3), colour)]
        m += [box((x, 1.2, 11.84), (1.0, 2.2, 0.04), "#3b2010")]
        m += [box((x + dx, 3.0, 11.84), (0.8, 1.0, 0.04), "#e0c890") for dx in (-1.2, 1.2)]
    return m


def bridge_audience() -> list[Mesh]:
    m: list[Mesh] = []
    for i in range(28):  # the hull panels the set leaves out, but for the turbolift's bay
        a = np.pi * 2 * i / 28
        if -np.cos(a) <= 0.45 or i == 14:
            continue
        for k in range(4):
            y, r = 0.4 + k * 0.8, 4.6 - k * 0.35
            m += [
                box(
                    (np.sin(a) * r, y, -np.cos(a) * r),
                    (1.0, 0.76, 0.08),
                    ["#3b4350", "#343b47"][(i + k) % 2],
                    yaw_deg=float(-np.degrees(a)),
                )
            ]
    # The turbolift: a recessed bay, two doors, a lit frame.
    m += [
        box((0, 1.5, 4.75), (1.3, 3.0, 0.1), "#20252d"),
        box((-0.31, 1.2, 4.55), (0.6, 2.4, 0.06), "#596273"),
        box((0.31, 1.2, 4.55), (0.6, 2.4, 0.06), "#596273"),
        box((0, 2.45, 4.52), (1.3, 0.06, 0.04), "#37c5e8"),
        box((-0.66, 1.2, 4.52), (0.05, 2.4, 0.04), "#37c5e8"),
        box((0.66, 1.2, 4.52), (0.05, 2.4, 0.04), "#37c5e8"),
    ]
    # A rear station either side: a console with its screen.
    for x in (-2.4, 2.4):
        m += [
            box((x, 0.5, 3.3), (1.4, 1.0, 0.6), "#2a2f38"),
            box((x, 1.02, 3.3), (1.4, 0.04, 0.6), "#37c5e8"),
            box((x, 1.5, 3.75), (1.2, 0.7, 0.04), "#0c2a3a"),
        ]
    return m


def forest_audience() -> list[Mesh]:
    """The clearing's edge where the set keeps the audience's view open."""
    m: list[Mesh] = []
    for i in range(14):
        x = -3.2 + 6.4 * i / 13 + float(audience_rng.uniform(-0.2, 0.2))
        z = float(audience_rng.uniform(3.8, 6.5))
        m += tree(x, z, float(audience_rng.uniform(4.0, 6.5)))
    for i in range(12):  # a second row behind, closing the gaps to the disc's edge
        x = -4.5 + 9.0 * i / 11 + float(audience_rng.uniform(-0.3, 0.3))
        z = float(audience_rng.uniform(6.8, 8.6))
        m += tree(x, z, float(audience_rng.uniform(4.5, 7.0)))
    # The forest going on all round: the ground past the set's disc, and an outer ring of firs.
    m += [cylinder((0, -0.06, 0), (0, -0.045, 0), 30.0, "#24402a", sections=96)]
    for i in range(44):
        a = 2 * np.pi * i / 44 + float(audience_rng.uniform(-0.04, 0.04))
        r = float(audience_rng.uniform(8.2, 10.5))
        m += tree(np.sin(a) * r, -np.cos(a) * r, float(audience_rng.uniform(5.0, 7.5)))
    for x, z in ((-1.6, 3.4), (0.4, 3.6), (2.1, 3.3)):  # undergrowth
        m += [ellipsoid((x, 0.25, z), (0.7, 0.4, 0.5), "#24583a")]
    return m


PACKS: dict[str, Callable[[], list[Mesh]]] = {
    "noir-office": noir,
    "starship-bridge": bridge,
    "western-saloon": saloon,
    "enchanted-forest": forest,
}


AUDIENCE: dict[str, Callable[[], list[Mesh]]] = {
    "noir-office": noir_audience,
    "starship-bridge": bridge_audience,
    "western-saloon": saloon_audience,
    "enchanted-forest": forest_audience,
}


def export(meshes: list[Mesh], path: Path) -> None:
    merged = trimesh.util.concatenate(meshes)
    merged.visual.vertex_colors = np.concatenate(
        [np.asarray(mm.visual.vertex_colors) for mm in meshes]
    )
    # Zero-area faces (cone tips) draw nothing; the glTF validator flags them.
    merged.update_faces(merged.nondegenerate_faces())
    path.parent.mkdir(parents=True, exist_ok=True)
    merged.export(path)
    print(f"scenes/{path.parent.name}/{path.name}: {len(merged.faces)} triangles")


def main() -> None:
    for name, build in PACKS.items():
        export(build(), ROOT / name / "set.glb")
    for name, build in AUDIENCE.items():  # after the sets, which keep their random draws
        export(build(), ROOT / name / "audience.glb")


if __name__ == "__main__":
    _ = paint
    main()

"""The pack's backdrop, around the actor instead of behind the picture.

The mirror draws the backdrop as a flat card filling the frame; in a headset that card would
turn with the actor's head. Here the same shader paints a large sphere centred on the head
each frame (so it stays at infinity): the gradient runs from the ground below (v 0) to the
sky overhead (v 1), and a backdrop image wraps once around the horizon.
"""

from __future__ import annotations

import math
from typing import Any

from immersion.scenes.manifest import ScenePack
from immersion.stage.set_builder import paint_backdrop

RADIUS = 150.0  # metres: inside the eyes' far plane (200 m), beyond any set
_RINGS, _SEGMENTS = 16, 32


def sky_dome(pack: ScenePack, parent: Any, hidden_from: Any) -> Any:
    """A sphere seen from inside, under ``parent``, hidden from cameras with ``hidden_from``."""
    from panda3d.core import (
        Geom,
        GeomNode,
        GeomTriangles,
        GeomVertexData,
        GeomVertexFormat,
        GeomVertexWriter,
    )

    data = GeomVertexData("sky", GeomVertexFormat.getV3t2(), Geom.UHStatic)
    vertex, uv = GeomVertexWriter(data, "vertex"), GeomVertexWriter(data, "texcoord")
    for ring in range(_RINGS + 1):
        v = ring / _RINGS
        elevation = (v - 0.5) * math.pi
        for seg in range(_SEGMENTS + 1):
            u = seg / _SEGMENTS
            azimuth = u * 2 * math.pi
            x = math.cos(elevation) * math.sin(azimuth)
            y = math.cos(elevation) * math.cos(azimuth)
            vertex.addData3(RADIUS * x, RADIUS * y, RADIUS * math.sin(elevation))  # Panda, Z up
            uv.addData2(u, v)
    triangles = GeomTriangles(Geom.UHStatic)
    row = _SEGMENTS + 1
    for ring in range(_RINGS):
        for seg in range(_SEGMENTS):
            a, b = ring * row + seg, ring * row + seg + 1
            triangles.addVertices(a, b + row, b)  # wound to face the centre
            triangles.addVertices(a, a + row, b + row)
    geom = Geom(data)
    geom.addPrimitive(triangles)
    node = GeomNode("sky")
    node.addGeom(geom)
    sky = parent.attachNewNode(node)
    paint_backdrop(sky, pack, priority=20)  # over the set's lit shader
    sky.setBin("background", 0)
    sky.setDepthWrite(False)
    sky.setTwoSided(True)
    sky.hide(hidden_from)
    return sky

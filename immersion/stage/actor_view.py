"""What the actor sees from a mark, without a headset: one eye's view, or a panorama.

The stage is dressed as the headset dresses it (the sky round the eye, the camera on the
eyes' mask so what only the headset shows is drawn, the avatar's head cut away) and its own
camera is moved to the avatar's eyes. The panorama is six 90° cube faces rendered in turn,
resampled into an equirectangular picture by :func:`equirect_from_cube` (pure numpy).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from capture.skeleton import Bone
from immersion.scenes.preview import EYE_FOV, EYE_HEIGHT
from immersion.stage import space
from immersion.stage.stage import Stage

# The headset's eyes take their field of view from the runtime each frame; there is no fixed
# number to reuse. The designer's preview has one for the actor's eyes (90° vertical), and
# the eye height when there is no avatar to take it from.
EYE_FOV_DEG = EYE_FOV

F = NDArray[np.float64]
Image = NDArray[np.uint8]


def heading(facing_deg: float) -> float:
    """Panda's H for a camera looking where a mark's ``facing`` points (0: +Z, the audience;
    90: +X), as :func:`immersion.xr.maths.stage_to_pack` turns the headset."""
    return facing_deg + 180.0


@dataclass
class ActorView:
    """``stage``'s camera turned into the actor's eye on the stage's mark."""

    stage: Stage
    eye: tuple[float, float, float]  # pack space
    sky: Any

    @classmethod
    def open(cls, stage: Stage) -> ActorView:
        """Dress ``stage`` for the eye (its mirror picture is not wanted afterwards): call
        after the avatar's pose is applied, since the eyes are the avatar's."""
        from immersion.headset.eyes import masks
        from immersion.headset.headset import HEAD_CUTAWAY
        from immersion.headset.sky import sky_dome

        mirror, eyes = masks()
        target = stage.target
        target.camera.node().setCameraMask(eyes)
        for card in target.backdrop.findAllMatches("=backdrop-card"):
            card.hide()  # the sky dome replaces the mirror's flat card
        mark = stage.mark
        up, radius = HEAD_CUTAWAY
        if stage.avatar is not None:
            head = stage.avatar.joint_positions()[Bone.HEAD]
            eye = (float(head[0]), float(head[1]) + up, float(head[2]))
            stage.root.setShaderInput("u_cutaway", (*space.point(eye), radius))
        else:
            eye = (mark.position[0], EYE_HEIGHT, mark.position[1])
        sky = sky_dome(stage.pack, stage.root, mirror)
        sky.setPos(*space.point(eye))
        target.camera.setPos(*space.point(eye))
        return cls(stage, eye, sky)

    def look(self, facing_deg: float, pitch_deg: float = 0.0) -> None:
        cam = self.stage.target.camera
        cam.setHpr(heading(facing_deg), pitch_deg, 0.0)

    def render(self, facing_deg: float, vertical_fov: float = EYE_FOV_DEG) -> Image:
        """One eye's picture, (height, width, 3) RGB top row first."""
        self.stage.target.set_fov(vertical_fov)
        self.look(facing_deg)
        self.stage.target.render()
        return self.stage.target.rgb()

    def cube_faces(self, facing_deg: float) -> tuple[list[Image], list[F]]:
        """Six square 90° pictures round the eye (the target must be square) and each face
        camera's rotation (columns: right, forward, up) in the frame of the first face."""
        target = self.stage.target
        if target.width != target.height:
            raise ValueError(f"cube faces need a square target, not {target.width}x{target.height}")
        target.set_fov(90.0)
        cam = target.camera
        base = cam.getParent().attachNewNode("panorama-base")
        base.setPos(cam.getPos())
        base.setHpr(heading(facing_deg), 0.0, 0.0)
        images, rotations = [], []
        for h, p in CUBE_FACES:
            cam.setHpr(base, h, p, 0.0)
            target.render()
            images.append(target.rgb())
            rotations.append(space.from_panda_matrix(cam.getMat(base))[0])
        base.removeNode()
        return images, rotations

    def close(self) -> None:
        """Give the stage back to the mirror: its mask, its backdrop card, no cut-away."""
        from immersion.headset.eyes import masks

        self.sky.removeNode()
        target = self.stage.target
        target.camera.node().setCameraMask(masks()[0])
        for card in target.backdrop.findAllMatches("=backdrop-card"):
            card.show()
        self.stage.root.setShaderInput("u_cutaway", (0.0, 0.0, 0.0, 0.0))


# (H, P) of the six faces relative to the panorama's centre: ahead, right, behind, left, up, down.
CUBE_FACES = ((0.0, 0.0), (-90.0, 0.0), (180.0, 0.0), (90.0, 0.0), (0.0, 90.0), (0.0, -90.0))


def equirect_directions(width: int, height: int) -> F:
    """(height, width, 3) unit directions in the panorama's frame (x right, y ahead, z up) for
    each pixel's centre: longitude -180°..180° left to right (0 ahead, in the middle), latitude
    90° (top) to -90°; so the left and right edges meet behind the eye."""
    lon = (np.arange(width) + 0.5) / width * 2 * math.pi - math.pi
    lat = math.pi / 2 - (np.arange(height) + 0.5) / height * math.pi
    lon_g, lat_g = np.meshgrid(lon, lat)
    c = np.cos(lat_g)
    return np.stack([c * np.sin(lon_g), c * np.cos(lon_g), np.sin(lat_g)], axis=-1)


def equirect_from_cube(
    faces: Sequence[Image], rotations: Sequence[F], width: int, height: int
) -> Image:
    """Resample square 90° faces (RGB, top row first; ``rotations`` columns: the face
    camera's right, forward, up) into a ``width`` x ``height`` equirectangular picture,
    bilinearly within the face each direction falls in."""
    if len(faces) != len(rotations) or not faces:
        raise ValueError("one rotation per face, and at least one face")
    size = faces[0].shape[0]
    if any(f.shape[:2] != (size, size) for f in faces):
        raise ValueError("cube faces must be square and of one size")
    d = equirect_directions(width, height).reshape(-1, 3)
    local = np.stack([d @ np.asarray(r, dtype=np.float64) for r in rotations])  # (faces, n, 3)
    which = np.argmax(local[:, :, 1], axis=0)
    picked = local[which, np.arange(d.shape[0])]
    u = picked[:, 0] / picked[:, 1]  # -1..1, left to right
    v = picked[:, 2] / picked[:, 1]  # -1..1, bottom to top
    col = np.clip((u + 1) / 2 * size - 0.5, 0, size - 1)
    row = np.clip((1 - v) / 2 * size - 0.5, 0, size - 1)
    c0, r0 = np.floor(col).astype(np.intp), np.floor(row).astype(np.intp)
    c1, r1 = np.minimum(c0 + 1, size - 1), np.minimum(r0 + 1, size - 1)
    fc, fr = (col - c0)[:, None], (row - r0)[:, None]
    stack = np.stack([np.asarray(f, dtype=np.float64) for f in faces])
    out = (
        stack[which, r0, c0] * (1 - fc) * (1 - fr)
        + stack[which, r0, c1] * fc * (1 - fr)
        + stack[which, r1, c0] * (1 - fc) * fr
        + stack[which, r1, c1] * fc * fr
    )
    picture: Image = np.clip(np.rint(out), 0, 255).astype(np.uint8).reshape(height, width, -1)
    return picture


def face_size(width: int) -> int:
    """A cube face about as fine as the panorama round the equator (a quarter of its width)."""
    return max(16, min(2048, math.ceil(width / 4)))

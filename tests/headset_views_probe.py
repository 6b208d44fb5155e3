"""What the actor sees, the runtime turning their head: set, tally camera, teleprompter.

Run as ``python -m tests.headset_views_probe PACK [PACK ...] --port P --eye WxH`` with
``XR_RUNTIME_JSON`` set and Monado's remote driver listening on ``P`` (one runtime per
process; the packs follow one another as a director's scene switches do). The head is turned
by writing its pose into the remote driver's socket, as a tracker would; every picture
measured is the swapchain image the runtime was handed, read back. Prints one JSON report.

For each pack, at headings 0/90/180/270° from the mark: the share of the left eye's pixels
where the set is drawn in front of the sky (the set painted one flat colour no set or sky
has, for one frame), the actor's own avatar left out. Then, facing the active camera preset: the tally
lamp's place in the eye and its red pixels while rolling and cut. On the first pack, the
teleprompter's region with no sides, sides from line 0, and sides scrolled to line 3.
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import struct
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from immersion.render_cmd import parse_size

REMOTE_DATA_SIZE = 376  # r_remote_data (drivers/remote/r_interface.h, 25.0.0)
HEAD_CENTER = 8 + 96  # header, two views of 48 bytes; then the centre's quaternion x y z w
SAVE: list[Path | None] = [None]  # --save
MAX_FRAMES = 300
SETTLE = 4  # frames after a head turn or a change before its picture is taken
GEOMETRY_STEP = 24  # a pixel differing this much (0-255, any channel) is the set's
SIDES = "\n".join(
    ["# INT. MARLOWE'S OFFICE - NIGHT", "", "**MARLOWE** (at the window)"]
    + [f"Line {n}: the rain had not let up since Tuesday, and neither had she." for n in range(30)]
)


class RemoteHead:
    """The remote driver's socket: the head's orientation is ours to set."""

    def __init__(self, port: int) -> None:
        self.conn = socket.create_connection(("127.0.0.1", port), timeout=10)
        data = b""
        while len(data) < 2 * REMOTE_DATA_SIZE:  # the hub sends its reset and latest states
            data += self.conn.recv(2 * REMOTE_DATA_SIZE - len(data))
        self.state = bytearray(data[REMOTE_DATA_SIZE:])

    def turn(self, yaw_deg: float, pitch_deg: float = 0.0) -> None:
        """Yaw about the runtime's up (+Y; positive turns left), then pitch (positive up)."""
        y, p = math.radians(yaw_deg) / 2, math.radians(pitch_deg) / 2
        qy = np.array([0.0, math.sin(y), 0.0, math.cos(y)])
        qp = np.array([math.sin(p), 0.0, 0.0, math.cos(p)])
        q = _quat_mul(qy, qp)
        struct.pack_into("<4f", self.state, HEAD_CENTER, *q)
        self.conn.sendall(bytes(self.state))

    def close(self) -> None:
        self.conn.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("packs", nargs="+")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--eye", type=parse_size, default=(160, 160))
    parser.add_argument("--save", type=Path, help="a folder for the pictures measured")
    args = parser.parse_args()
    SAVE[0] = args.save

    from immersion.catalogue import find_avatar, find_pack
    from immersion.config import HeadsetSettings
    from immersion.headset.headset import Headset
    from immersion.room.messages import SidesState
    from immersion.scenes.manifest import load_pack
    from immersion.stage.stage import Stage

    stage = Stage.open(
        load_pack(find_pack(args.packs[0])), find_avatar("detective"), width=160, height=90
    )
    stage.show(None)
    rolling = [False]
    headset = Headset(HeadsetSettings(eye_size=args.eye), lambda press: None, lambda: rolling[0])
    headset.open(stage)
    eyes = headset.eyes
    assert eyes is not None and headset.tally is not None and headset.prompter is not None
    eyes.keep_images = True
    head = RemoteHead(args.port)
    frames = headset.frames(1 / 30)
    next(frames)

    def settle(n: int = SETTLE) -> Any:
        """Draw frames until ``n`` have reached the runtime; the last one's left eye, RGB."""
        image = None
        for _ in range(MAX_FRAMES):
            stage.show(None, mirror=False)
            eyes.last_images = ()
            next(frames)  # submits the frame drawn above, and begins the next
            if eyes.last_images:
                image = np.asarray(eyes.last_images[0][:, :, :3])
                n -= 1
                if n <= 0:
                    return image
        raise RuntimeError(f"the runtime took no frames for {MAX_FRAMES} frames")

    report: dict[str, Any] = {"eye": [eyes.targets[0].width, eyes.targets[0].height], "packs": {}}
    for n, name in enumerate(args.packs):
        if n:
            headset.detach()  # as the render loop switches scenes
            stage = stage.reopen(load_pack(find_pack(name)))
            headset.attach(stage)
        avatar = stage.avatar.node if stage.avatar is not None else None
        entry: dict[str, Any] = {"geometry": {}}
        with _hidden(avatar):
            for heading in (0, 90, 180, 270):
                head.turn(heading)
                full = settle()
                with _flat(stage.set_node):
                    painted = settle(2)
                _save(f"{name}-{heading}", full, painted)
                entry["geometry"][str(heading)] = round(float(_magenta(painted).mean()), 3)
            entry["tally"] = _tally(stage, headset, head, settle, rolling)
            if n == 0:
                entry["prompter"] = _prompter(headset, head, settle, SidesState(SIDES, 0))
            entry["mirrorDiff"] = _mirror_without(stage, headset, SidesState(SIDES, 0))
            entry["followsCamera"] = _follows(stage, headset, settle)
        report["packs"][name] = entry
    head.close()
    headset.request_exit()
    for _ in frames:
        stage.show(None, mirror=False)
    headset.close()
    stage.close()
    print(json.dumps(report))
    return 0


def _tally(
    stage: Any, headset: Any, head: RemoteHead, settle: Callable[..., Any], rolling: list[bool]
) -> dict[str, Any]:
    """Face the tally camera; where its lamp falls in the left eye, red pixels near it."""
    eyes = headset.eyes
    tally = headset.tally
    assert tally.preset == stage.camera_preset  # it stands on the active preset
    lamp = tally.lamp.getPos(eyes.origin)  # Panda, in the STAGE space on the mark
    head_at = np.array([0.0, 1.6, 0.0])
    d = np.array([lamp[0], lamp[2], -lamp[1]]) - head_at  # the runtime's (Y up, -Z forward)
    yaw = math.degrees(math.atan2(-d[0], -d[2]))
    pitch = math.degrees(math.atan2(d[1], math.hypot(d[0], d[2])))
    head.turn(yaw, pitch)
    rolling[0] = False
    cut = settle()
    where = _project(eyes.targets[0], tally.lamp)
    rolling[0] = True
    rolled = settle()
    rolling[0] = False
    _save(f"{stage.pack.name}-tally", cut, rolled)
    out: dict[str, Any] = {"yaw": round(yaw, 1), "pitch": round(pitch, 1), "lamp": where}
    h, w = cut.shape[:2]
    if where is not None:
        x, y = where
        r = max(w // 8, 6)  # the lamp, its label above it, and some set around them
        box = (slice(max(y - 3 * r, 0), min(y + r, h)), slice(max(x - 2 * r, 0), min(x + 2 * r, w)))
        out["redCut"] = int(_red(cut[box]).sum())
        out["redRolling"] = int(_red(rolled[box]).sum())
        out["redAtLamp"] = bool(_red(rolled[max(y - 2, 0) : y + 3, max(x - 2, 0) : x + 3]).any())
    return out


def _prompter(
    headset: Any, head: RemoteHead, settle: Callable[..., Any], sides: Any
) -> dict[str, Any]:
    """The panel's region with no sides, sides from the top, and scrolled by three lines."""
    from dataclasses import replace

    head.turn(0, -30)  # a glance down to the floor monitor
    headset.show_sides(None)
    off = settle()
    headset.show_sides(sides)
    top = settle()
    headset.show_sides(replace(sides, line=3))
    scrolled = settle()
    headset.show_sides(None)
    _save("prompter", off, top, scrolled)
    changed = np.abs(top.astype(np.int16) - off).max(axis=2) > GEOMETRY_STEP
    ys, xs = np.nonzero(changed)
    out: dict[str, Any] = {"shownShare": round(float(changed.mean()), 3)}
    if len(ys):
        region = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
        out["box"] = [int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())]
        moved = np.abs(scrolled[region].astype(np.int16) - top[region]).max(axis=2)
        out["scrolledShare"] = round(float((moved > GEOMETRY_STEP).mean()), 3)
    return out


def _follows(stage: Any, headset: Any, settle: Callable[..., Any]) -> bool:
    """The director switches preset: within a frame the tally stands on the new one."""
    first = stage.camera_preset
    other = next(c for c in stage.pack.cameras if c.name != first.name)
    was = headset.tally.node.getPos(stage.root)
    stage.set_camera(other)  # as the render loop's SwitchCamera does
    settle(1)
    moved = (headset.tally.node.getPos(stage.root) - was).length() > 0.05
    follows = bool(moved and headset.tally.preset == other)
    stage.set_camera(first)
    settle(1)
    return follows and headset.tally.preset == first


def _mirror_without(stage: Any, headset: Any, sides: Any) -> float:
    """How far the mirror's picture changes when the tally (rolling) and the teleprompter
    are taken off the set: they are the eyes' alone, so not at all."""
    tally = headset.tally
    tally.show_rolling(True)
    headset.show_sides(sides)
    stage.show(None)
    shown = stage.target.rgb().astype(np.int16)
    tally.node.stash()
    headset.prompter.node.stash()
    stage.show(None)
    bare = stage.target.rgb()
    tally.node.unstash()
    headset.show_sides(None)
    tally.show_rolling(False)
    return float(np.abs(shown - bare).mean())


def _save(stem: str, *images: Any) -> None:
    folder = SAVE[0]
    if folder is not None:
        from PIL import Image

        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.concatenate(images, axis=1)).save(folder / f"{stem}.png")


def _project(target: Any, node: Any) -> list[int] | None:
    """Where ``node``'s origin falls in ``target``'s picture (x, y from the top left)."""
    from panda3d.core import Point2

    lens = target.camera.node().getLens()
    film = Point2()
    if not lens.project(node.getPos(target.camera), film):
        return None
    x = round((film[0] + 1) / 2 * (target.width - 1))
    y = round((1 - film[1]) / 2 * (target.height - 1))
    return [x, y] if 0 <= x < target.width and 0 <= y < target.height else None


def _red(rgb: Any) -> Any:
    r, g, b = (rgb[..., k].astype(np.int16) for k in range(3))
    return (r > 150) & (g < 90) & (b < 90)


def _magenta(rgb: Any) -> Any:
    r, g, b = (rgb[..., k].astype(np.int16) for k in range(3))
    return (r > 200) & (g < 60) & (b > 200)


class _flat:  # noqa: N801 - a context manager read as a phrase
    """Paint a node and all under it flat magenta for the block: a mask of where it is
    drawn, through the same runtime, eyes and depth as the picture."""

    def __init__(self, node: Any) -> None:
        self.node = node

    def __enter__(self) -> None:
        n = self.node
        n.setShaderOff(1000)
        n.setLightOff(1000)
        n.setTextureOff(1000)
        n.setMaterialOff(1000)
        n.setColor(1.0, 0.0, 1.0, 1.0, 1000)
        n.setColorScale(1.0, 1.0, 1.0, 1.0, 1000)

    def __exit__(self, *exc: object) -> None:
        n = self.node
        for clear in (n.clearShader, n.clearLight, n.clearTexture, n.clearMaterial):
            clear()
        n.clearColor()
        n.clearColorScale()


class _hidden:  # noqa: N801 - a context manager read as a phrase
    """Stash a node (None: nothing) for the block."""

    def __init__(self, node: Any) -> None:
        self.node = node

    def __enter__(self) -> None:
        if self.node is not None:
            self.node.stash()

    def __exit__(self, *exc: object) -> None:
        if self.node is not None:
            self.node.unstash()


def _quat_mul(a: Any, b: Any) -> Any:
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return np.array(
        [
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz,
        ]
    )


if __name__ == "__main__":
    sys.exit(main())

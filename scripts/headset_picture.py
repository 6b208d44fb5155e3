"""The README's headset pictures: what the actor sees, read back from a real OpenXR runtime.

    .venv/bin/python scripts/headset_picture.py [--pack western-saloon] [--out docs/screenshots]

Runs Monado (built by the test set-up: simulated HMD, null compositor, its remote driver to
turn the head) and the room's own headset code on a pack, with a take rolling, sides on the
teleprompter and a reader on the pack's second mark. Saves the left eye twice, side by side:
facing the tally camera on the active preset (its lamp lit, "● ROLLING"), glancing a little
down so the teleprompter shows; then turned to the reader. Writes ``headset-partner.jpg``.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.headset_views_probe import RemoteHead  # noqa: E402
from tests.test_headset import _remote_config, monado_env  # noqa: E402

EYE = (960, 1080)  # Monado's null compositor gives at most 1920x1080 a view
SIDES = """# INT. SALOON - NIGHT

**KATE** (wiping the bar, not looking up)
You came back.

**SHERIFF**
Said I would.

**KATE**
Folks say a lot of things in this town. Most of 'em end up on a stone out back.

**SHERIFF**
Then I'll have to be the exception."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pack", default="western-saloon")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)  # the child's
    args = parser.parse_args()
    if args.port is not None:
        return shoot(args.pack, args.out, args.port)
    with tempfile.TemporaryDirectory() as tmp:
        env = monado_env(**_remote_config(Path(tmp)))
        command = [sys.executable, __file__, "--pack", args.pack, "--out", str(args.out)]
        done = subprocess.run([*command, "--port", env["REMOTE_PORT"]], env=env, cwd=ROOT)
    return done.returncode


def relaxed(turn: float = 0.0) -> Any:
    """Standing easy: arms down from the rest pose's T, elbows a little bent, the head turned
    ``turn`` degrees (left positive)."""
    from capture.pose import Pose
    from capture.rotations import axis_angle_quat
    from capture.skeleton import Bone

    pose = Pose.rest(hips_height=0.92)
    rot = pose.rotations.copy()
    for bone, side in ((Bone.LEFT_UPPER_ARM, -1), (Bone.RIGHT_UPPER_ARM, 1)):
        rot[bone] = axis_angle_quat([0, 0, 1], side * math.radians(72))
    for bone, side in ((Bone.LEFT_LOWER_ARM, 1), (Bone.RIGHT_LOWER_ARM, -1)):
        rot[bone] = axis_angle_quat([0, 1, 0], side * math.radians(25))
    rot[Bone.HEAD] = axis_angle_quat([0, 1, 0], math.radians(turn))
    return Pose(0.0, pose.hips, rot, np.ones(len(rot)), None)


def shoot(pack_name: str, out: Path, port: int) -> int:
    from PIL import Image

    from immersion.catalogue import find_avatar, find_pack
    from immersion.config import HeadsetSettings
    from immersion.headset.headset import Headset
    from immersion.room.messages import SidesState
    from immersion.room.reader import READER
    from immersion.scenes.manifest import load_pack
    from immersion.stage.avatar_actor import AvatarActor
    from immersion.stage.stage import Stage

    stage = Stage.open(
        load_pack(find_pack(pack_name)), find_avatar("sheriff"), width=320, height=180
    )
    stage.place_extra(READER, AvatarActor.load(find_avatar("saloon-owner")), 1)
    stage.show(relaxed(), extras={READER: relaxed(turn=20)})
    headset = Headset(HeadsetSettings(eye_size=EYE), lambda press: None, lambda: True)
    headset.open(stage)
    eyes, tally = headset.eyes, headset.tally
    assert eyes is not None and tally is not None
    eyes.keep_images = True
    headset.cue("rolling", "● ROLLING")
    headset.show_sides(SidesState(SIDES, 0))
    head = RemoteHead(port)
    frames = headset.frames(1 / 30)
    next(frames)

    def look(target: Any, below: float) -> Any:
        """Turn the head towards ``target`` (Panda, on the mark) through the runtime, the eyes
        ``below`` degrees lower; the body stays facing the mark's way, as a look over the
        shoulder does."""
        d = np.array([target[0], target[2] - 1.6, -target[1]])  # the runtime's: Y up, -Z ahead
        yaw = math.degrees(math.atan2(-d[0], -d[2]))
        head.turn(yaw, math.degrees(math.atan2(d[1], math.hypot(d[0], d[2]))) - below)
        image = None
        for _ in range(8):  # a few frames for the runtime to take the new pose
            stage.show(None, mirror=False)
            eyes.last_images = ()
            next(frames)
            if eyes.last_images:
                image = np.asarray(eyes.last_images[0][:, :, :3])
        assert image is not None, "the runtime took no frames"
        return image

    to_camera = look(tally.lamp.getPos(eyes.origin), below=14)
    partner = stage.extras[READER].actor.node.getPos(eyes.origin)
    to_partner = look((partner[0], partner[1], partner[2] + 1.45), below=6)
    head.close()
    headset.request_exit()
    for _ in frames:
        stage.show(None, mirror=False)
    headset.close()
    stage.close()
    out.mkdir(parents=True, exist_ok=True)
    gap = np.full((EYE[1], 12, 3), 255, np.uint8)
    picture = Image.fromarray(np.concatenate([to_camera, gap, to_partner], axis=1))
    picture.thumbnail((1400, 800))
    path = out / "headset-partner.jpg"
    picture.save(path, quality=85)
    print(path)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())

"""The README's cast pictures, rendered by the project's own stage (headless, EGL).

    .venv/bin/python scripts/render_cast.py [--out docs/screenshots] [--shading auto|fast|rich]

cast.jpg: every shipped character full length on the set it is dressed for, in a grid with
their names. cast-faces.jpg: each face close up, at rest and with the VRM expressions the
room drives from an actor's face (happy, surprised, aa, blink), from the 52 ARKit weights.
packs.jpg: the four packs from their own first camera, each with its character on its mark.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from capture.face import Face  # noqa: E402
from capture.pose import Pose  # noqa: E402
from capture.rotations import axis_angle_quat  # noqa: E402
from capture.skeleton import Bone  # noqa: E402
from immersion.avatars.cast import CAST  # noqa: E402
from immersion.catalogue import avatars_dir, find_pack  # noqa: E402
from immersion.scenes.manifest import load_pack  # noqa: E402
from immersion.stage import space  # noqa: E402
from immersion.stage.stage import SHADINGS, Stage  # noqa: E402

FONT = Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf")
# Expressions shown close up, as the 52 ARKit weights an actor's face would give.
FACES: dict[str, dict[str, float]] = {
    "at rest": {},
    "smile": {"mouthSmileLeft": 0.9, "mouthSmileRight": 0.9, "cheekSquintLeft": 0.5,
              "cheekSquintRight": 0.5},
    "surprise": {"browInnerUp": 0.9, "browOuterUpLeft": 0.9, "browOuterUpRight": 0.9,
                 "eyeWideLeft": 0.8, "eyeWideRight": 0.8, "jawOpen": 0.45},
    "speaking 'ah'": {"jawOpen": 0.7},
    "blink": {"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0},
}  # fmt: skip


def standing() -> Pose:
    """Arms relaxed at the sides rather than the T of the rest pose: a portrait stance."""
    rest = Pose.rest()
    rot = rest.rotations.copy()
    rot[Bone.LEFT_UPPER_ARM] = axis_angle_quat([0, 0, 1], np.radians(-72))
    rot[Bone.RIGHT_UPPER_ARM] = axis_angle_quat([0, 0, 1], np.radians(72))
    rot[Bone.LEFT_LOWER_ARM] = axis_angle_quat([0, 1, 0], np.radians(12))
    rot[Bone.RIGHT_LOWER_ARM] = axis_angle_quat([0, 1, 0], np.radians(-12))
    return Pose(0.0, rest.hips, rot, np.ones(len(Bone)))


def frame(stage: Stage, distance: float, height: float, target: float, fov: float) -> None:
    """Put the camera ``distance`` m in front of the avatar, looking at its ``target`` height."""
    assert stage.avatar is not None
    cam, node = stage.target.camera, stage.avatar.node
    cam.setPos(node, *space.point((0.0, height, distance)))
    cam.lookAt(node, *space.point((0.0, target, 0.0)))
    stage.target.set_fov(fov)
    stage.root.setShaderInput("u_eye", cam.getPos(stage.root))


def snap(stage: Stage, pose: Pose) -> Image.Image:
    stage.show(pose)
    stage.show(pose)  # the second frame has the skin and morphs of the first applied
    return Image.fromarray(stage.target.rgb())


def caption(img: Image.Image, text: str, size: int) -> Image.Image:
    out = img.copy()
    draw = ImageDraw.Draw(out)
    font = ImageFont.truetype(str(FONT), size) if FONT.is_file() else ImageFont.load_default()
    box = draw.textbbox((0, 0), text, font=font)
    pad = size // 3
    y = out.height - (box[3] - box[1]) - 3 * pad
    draw.rectangle((0, y - pad, out.width, out.height), fill=(16, 16, 20))
    draw.text(((out.width - (box[2] - box[0])) // 2, y), text, font=font, fill=(235, 235, 235))
    return out


def grid(tiles: list[Image.Image], columns: int) -> Image.Image:
    w, h = tiles[0].size
    rows = (len(tiles) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * w, rows * h), (16, 16, 20))
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * w, (i // columns) * h))
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--shading", choices=SHADINGS, default="auto")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    full, faces, packs = [], [], []
    for character in CAST:
        pack = load_pack(find_pack(character.role))
        path = avatars_dir() / f"{character.name}.vrm"
        stage = Stage.open(pack, path, width=480, height=720, shading=args.shading)
        frame(stage, 3.4, 1.05, 0.9, 40)
        full.append(caption(snap(stage, standing()), character.title, 20))
        row = []
        stage.close()
        stage = Stage.open(pack, path, width=360, height=400, shading=args.shading)
        assert stage.avatar is not None
        head = stage.avatar.joint_positions()[Bone.HEAD][1] - stage.avatar.node.getZ()
        frame(stage, 0.75, head + 0.1, head + 0.06, 28)
        for label, weights in FACES.items():
            pose = standing()
            pose = Pose(pose.t, pose.hips, pose.rotations, pose.confidence,
                        Face.from_named(weights))  # fmt: skip
            row.append(caption(snap(stage, pose), f"{character.name}: {label}", 16))
        faces.append(grid(row, len(row)))
        stage.close()
        if not any(c.role == character.role for c in CAST[: CAST.index(character)]):
            stage = Stage.open(pack, path, width=960, height=540, shading=args.shading)
            packs.append(caption(snap(stage, standing()), f"{pack.title}: {character.title}", 22))
            stage.close()
        print(f"rendered {character.name} on {pack.name}")

    grid(full, 3).save(args.out / "cast.jpg", quality=88)
    grid(faces, 1).save(args.out / "cast-faces.jpg", quality=88)
    grid(packs, 2).save(args.out / "packs.jpg", quality=88)
    print(f"wrote {args.out / 'cast.jpg'}, cast-faces.jpg and packs.jpg")


if __name__ == "__main__":
    main()

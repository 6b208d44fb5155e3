"""Drive the room's headset against the OpenXR runtime in the environment; print a JSON report.

Run as ``python -m tests.headset_probe PACK [--seconds S] [--save DIR]`` with
``XR_RUNTIME_JSON`` set, from the headset tests (a subprocess each: a runtime is loaded once
per process, and a crash at exit must show as a failed test, not a dead test run).

For every visible frame it reads both swapchain images back, and renders the left eye's camera
a second time into an ordinary read-back buffer; the report says how far the two differ, so a
test can tell "the runtime's image holds the set" from "the image holds whatever was there".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from immersion.render_cmd import parse_size


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("pack")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--save", type=Path)
    parser.add_argument("--eye", type=parse_size, help="WxH per eye (default: the runtime's)")
    args = parser.parse_args()

    from immersion.catalogue import find_avatar, find_pack
    from immersion.config import HeadsetSettings
    from immersion.headset.eyes import masks
    from immersion.headset.headset import Headset
    from immersion.scenes.manifest import load_pack
    from immersion.stage.stage import Stage
    from immersion.stage.target import RenderTarget
    from immersion.xr.controls import Press

    stage = Stage.open(
        load_pack(find_pack(args.pack)), find_avatar("detective"), width=320, height=180
    )
    stage.show(None)
    presses: list[Press] = []
    headset = Headset(HeadsetSettings(eye_size=args.eye), presses.append)
    headset.open(stage)
    assert headset.eyes is not None
    headset.cue("note", "Probe: look down at your hands")
    eyes = headset.eyes
    eyes.keep_images = True
    left = eyes.targets[0]
    reference = RenderTarget(stage.engine, left.width, left.height, "reference", host=stage.target)
    reference.camera.node().setCameraMask(masks()[1])
    reference.camera.reparentTo(eyes.origin)
    report: dict[str, Any] = {
        "runtime": headset.session.runtime_name,
        "system": headset.session.system_name,
        "space": headset.session.space_type,
        "binding": headset.session.binding_kind,
        "format": headset.session.image_format,
        "eye": [left.width, left.height],
        "ipd": [],
        "eyeHeight": [],
        "diffToReference": [],
        "eyeMeans": [],
        "eyeStd": [],
        "leftRightDiff": [],
    }
    deadline = time.monotonic() + args.seconds
    pending: Any = None  # the reference picture for the frame whose images come back next
    last: tuple[Any, ...] = ()
    for frame in headset.frames(1 / 30):
        if eyes.last_images:  # the previous frame's swapchain images, read back after the copy
            last = eyes.last_images
            _compare(report, last, pending)
            eyes.last_images = ()
        if frame.views:
            l_pos, r_pos = (np.array(v.position) for v in frame.views)
            report["ipd"].append(float(np.linalg.norm(r_pos - l_pos)))
            report["eyeHeight"].append(float((l_pos[1] + r_pos[1]) / 2))
            reference.camera.setMat(left.camera.getMat())
            reference.camera.node().setLens(left.camera.node().getLens().makeCopy())
            reference.camera.node().setInitialState(left.camera.node().getInitialState())
        stage.show(None)  # the mirror, both eyes and the reference, in one pass
        pending = reference.rgb() if frame.views else None
        if time.monotonic() > deadline:
            headset.request_exit()
    if eyes.last_images:
        last = eyes.last_images
        _compare(report, last, pending)
    report["states"] = sorted(s.name for s in headset.session.lifecycle.reached)
    report["presses"] = [[p.button, p.hand] for p in presses]
    if args.save and last:
        from PIL import Image

        args.save.mkdir(parents=True, exist_ok=True)
        for side, image in zip(("left", "right"), last, strict=True):
            Image.fromarray(np.ascontiguousarray(image[:, :, :3])).save(
                args.save / f"eye-{side}.png"
            )
    headset.close()
    reference.close()
    stage.close()
    print(json.dumps(report))
    return 0


def _compare(report: dict[str, Any], images: tuple[Any, ...], reference_rgb: Any) -> None:
    left, right = (np.asarray(i[:, :, :3], np.float64) for i in images)
    if reference_rgb is not None:
        report["diffToReference"].append(float(np.abs(left - reference_rgb).mean()))
    report["eyeMeans"].append([float(left.mean()), float(right.mean())])
    report["eyeStd"].append([float(left.std()), float(right.std())])
    report["leftRightDiff"].append(float(np.abs(left - right).mean()))


if __name__ == "__main__":
    sys.exit(main())

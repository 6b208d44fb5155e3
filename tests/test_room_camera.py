"""The actor's camera picture reaches viewers only when the room was started with --show-camera."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray
from websockets.asyncio.client import connect

from immersion.feed.protocol import decode_video
from immersion.room.render_loop import draw_inset
from tests.support import served_room

MAGENTA_BGR = (255, 0, 255)


def test_the_inset_is_drawn_in_the_corner_and_nowhere_else() -> None:
    view = np.full((180, 320, 4), 40, np.uint8)
    camera = np.zeros((240, 320, 3), np.uint8)
    camera[..., 0] = 200  # red, in RGB
    draw_inset(view, camera)
    red = np.all(view == (0, 0, 200, 255), axis=-1)  # BGRA
    ys, xs = np.nonzero(red)
    assert (xs.max() - xs.min() + 1, ys.max() - ys.min() + 1) == (80, 60)  # a quarter wide, 4:3
    assert xs.max() > 300 and ys.max() > 160  # bottom right
    untouched = np.ones((180, 320), bool)
    untouched[ys.min() - 2 : ys.max() + 3, xs.min() - 2 : xs.max() + 3] = False
    assert np.all(view[untouched] == 40)


def _magenta_video(path: Path) -> Path:
    """Two seconds of a magenta wall: no person, a colour none of the sets has."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 30.0, (320, 240))
    frame = np.full((240, 320, 3), MAGENTA_BGR, np.uint8)
    for _ in range(60):
        writer.write(frame)
    writer.release()
    return path


async def _jpeg_frames(url: str, count: int) -> list[NDArray[np.uint8]]:
    pictures: list[NDArray[np.uint8]] = []
    async with connect(url) as ws:
        await ws.recv()  # welcome
        await ws.send(json.dumps({"type": "hello", "codecs": ["jpeg"]}))
        while len(pictures) < count:
            message = await asyncio.wait_for(ws.recv(), 20)
            if isinstance(message, bytes):
                header, payload = decode_video(message)
                await ws.send(json.dumps({"type": "ack", "frame": header.frame}))
                picture = cv2.imdecode(np.frombuffer(payload, np.uint8), cv2.IMREAD_COLOR)
                assert picture is not None, "not a JPEG"
                pictures.append(picture.astype(np.uint8))
    return pictures


def _magenta_share(picture: NDArray[np.uint8]) -> float:
    b, g, r = (picture[..., k].astype(int) for k in range(3))
    return float(np.mean((r > 200) & (b > 200) & (g < 60)))


@pytest.mark.model
@pytest.mark.parametrize("show", [False, True], ids=["private", "shown"])
def test_the_camera_picture_is_sent_only_with_the_flag(tmp_path: Path, show: bool) -> None:
    video = _magenta_video(tmp_path / "wall.mp4")
    args = ["--source", str(video), "--size", "320x180", "--fps", "15"]
    with served_room(tmp_path, args + (["--show-camera"] if show else [])) as room:
        pictures = asyncio.run(_jpeg_frames(room.url(room.observer), 15))
    share = _magenta_share(pictures[-1])
    if show:
        # The inset: a quarter of the width at 4:3, 80x60 of 320x180 = 1/12 of the picture.
        assert 0.07 < share < 0.095, share
        corner = pictures[-1][-40:-10, -70:-15]
        assert _magenta_share(corner) > 0.9
    else:
        assert all(_magenta_share(p) == 0.0 for p in pictures)

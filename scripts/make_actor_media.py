"""Make the actor page's test media, a fake webcam and a fake microphone for chromium
(``--use-file-for-fake-video-capture``, ``--use-file-for-fake-audio-capture``), into the cache.

    scripts/make_actor_media.py    writes what is missing; a file there is kept

- actor.y4m: Pose2Sim's camera 3 (fetched by scripts/fetch_fixtures.py), the one view with a
  single person, whole body in frame. The clip is 1.7 s at 60 fps, so every second frame is
  played forward then back (a loop with no jump, as chromium loops the file), three times:
  294 frames, 9.8 s at 30 fps, scaled to 480 lines and centred on a black 640x480 frame, raw
  yuv420p (``C420jpeg``), ~135 MB.
- face.y4m: the demo clip's first 80 frames (2.7 s at 30 fps: a man doing jumping jacks, face
  on), so the page's face landmarker has a face to find (in actor.y4m it is never clearly
  seen). Cropped around him at the clip's own scale (his whole body, arms out, fills a 640x480
  window; scaling up adds no detail for the face crop), forward then back once: 158 frames,
  5.3 s, ~73 MB.
- voice.wav: Debian's espeak-ng speaking a few lines with silence between them, so a level
  that follows the microphone has loud and quiet parts: 48 kHz mono 16-bit, ~10 s.

Needs PyAV (a runtime dependency) and espeak-ng (a test Debian package); no ffmpeg. Nothing
here runs at test time: tests read the cache (``capture.cache.actor_video``,
``actor_face_video``, ``actor_voice``).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from capture.cache import actor_face_video, actor_video, actor_voice, fixtures_dir

SOURCE = "pose2sim/cam03.mp4"
WIDTH, HEIGHT, FPS = 640, 480, 30
CYCLES = 3
FACE_SOURCE = "sports2d/demo.mp4"  # 1768x994, 30 fps
FACE_FRAMES = 80  # he faces the camera; later he looks down and the face is lost
FACE_LEFT, FACE_TOP = 370, 0  # the 640x480 window around him (arms out: x 460-930, y 10-475)
RATE = 48_000
GAP_S = 0.6  # silence before, between and after the lines
LINES = [
    "The name's Marlowe.",
    "I work alone.",
    "She walked in at ten past two.",
    "Trouble, with a capital T.",
]


def _actor_pictures(source: Path) -> list[np.ndarray]:
    """Pose2Sim's camera at 30 fps, scaled to the full height and centred on black."""
    with av.open(str(source)) as container:
        stream = container.streams.video[0]
        step = max(1, round(float(stream.average_rate or FPS) / FPS))
        pictures: list[np.ndarray] = []
        for k, frame in enumerate(container.decode(stream)):
            if k % step:
                continue
            # Scale to the full height (an even width, for 4:2:0), centre on black.
            width = 2 * round(frame.width * HEIGHT / frame.height / 2)
            small = frame.reformat(width, HEIGHT, "rgb24", interpolation="AREA").to_ndarray()
            canvas = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
            left = (WIDTH - width) // 2 & ~1
            canvas[:, left : left + width] = small
            pictures.append(canvas)
    return pictures


def _face_pictures(source: Path) -> list[np.ndarray]:
    """The demo clip's first frames, cropped around the man, unscaled."""
    pictures: list[np.ndarray] = []
    with av.open(str(source)) as container:
        for frame in container.decode(container.streams.video[0]):
            rgb = frame.to_ndarray(format="rgb24")
            window = rgb[FACE_TOP : FACE_TOP + HEIGHT, FACE_LEFT : FACE_LEFT + WIDTH]
            pictures.append(np.ascontiguousarray(window))
            if len(pictures) == FACE_FRAMES:
                break
    return pictures


def _looped(pictures: list[np.ndarray], cycles: int) -> Iterator[av.VideoFrame]:
    """Forward then back without repeating either end (chromium loops the file: no jump),
    ``cycles`` times."""
    cycle = pictures + pictures[-2:0:-1]
    for _ in range(cycles):
        for picture in cycle:
            yield av.VideoFrame.from_ndarray(picture, "rgb24").reformat(format="yuv420p")


def _need(name: str) -> Path:
    source = fixtures_dir() / name
    if not source.is_file():
        sys.exit(f"setup: error: {source} is missing; run scripts/fetch_fixtures.py test first")
    return source


def _write_y4m(dest: Path, frames: Iterator[av.VideoFrame]) -> None:
    with tempfile.NamedTemporaryFile(dir=dest.parent, suffix=".y4m", delete=False) as tmp:
        pass
    try:
        with av.open(tmp.name, "w", format="yuv4mpegpipe") as out:
            stream = out.add_stream("wrapped_avframe", rate=FPS)
            stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
            for frame in frames:
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        Path(tmp.name).chmod(0o644)
        Path(tmp.name).replace(dest)
    finally:
        Path(tmp.name).unlink(missing_ok=True)


def make_video(dest: Path) -> None:
    _write_y4m(dest, _looped(_actor_pictures(_need(SOURCE)), CYCLES))


def make_face_video(dest: Path) -> None:
    pictures = _face_pictures(_need(FACE_SOURCE))
    if len(pictures) < FACE_FRAMES or pictures[0].shape != (HEIGHT, WIDTH, 3):
        sys.exit(f"setup: error: {fixtures_dir() / FACE_SOURCE} is not the demo clip expected")
    _write_y4m(dest, _looped(pictures, 1))


def _speak(text: str, folder: Path) -> np.ndarray:
    """``text`` spoken by espeak-ng, as 48 kHz mono int16 samples."""
    wav = folder / "line.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), text], check=True)
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    chunks = []
    with av.open(str(wav)) as container:
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks)


def make_voice(dest: Path) -> None:
    gap = np.zeros(round(GAP_S * RATE), np.int16)
    with tempfile.TemporaryDirectory() as folder:
        parts = [gap]
        for line in LINES:
            parts += [_speak(line, Path(folder)), gap]
    samples = np.concatenate(parts).astype(np.int16)
    with tempfile.NamedTemporaryFile(dir=dest.parent, suffix=".wav", delete=False) as tmp:
        pass
    try:
        with av.open(tmp.name, "w", format="wav") as out:
            stream = out.add_stream("pcm_s16le", rate=RATE, layout="mono")
            frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), "s16", "mono")
            frame.rate = RATE
            out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        Path(tmp.name).chmod(0o644)
        Path(tmp.name).replace(dest)
    finally:
        Path(tmp.name).unlink(missing_ok=True)


def main() -> int:
    made = ((actor_video(), make_video), (actor_face_video(), make_face_video))
    for path, make in (*made, (actor_voice(), make_voice)):
        if path.is_file():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        make(path)
        print(f"setup: made {path} ({path.stat().st_size // 1000} kB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

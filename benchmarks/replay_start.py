"""Replay start time: from a director's Replay (or Side by side) to the first picture of it.

A room runs in this process on this CPU (its render thread, capture thread and all), its own
source a short still take. Synthetic takes of 10, 60 and 300 s at 30 fps (every bone swinging,
a face track, a voice file) wait in its takes folder. For each, a replay is started as the feed
starts it (``Room.replay_control``) and timed to two moments: the take read and playing (the
director's answer), and the first picture the render thread draws after that (what everyone
sees); first from the file, then again (the room keeps takes it has read: a restart or a
realignment). Side by side, two 60 s takes: the second strip's avatar is loaded on the render
thread before the clocks start, so a first start's time includes that load. Best of
``REPEATS``.

    .venv/bin/python benchmarks/replay_start.py [--size 1280x720] [--avatar NAME]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

from _table import print_table
from exports import write_take

from capture.opus import SILENCE
from capture.pose import Pose
from capture.take import TakeWriter
from capture.voice import VoiceWriter
from immersion.catalogue import DEFAULT_AVATAR
from immersion.config import RoomSettings
from immersion.room.messages import Picture
from immersion.room.room import Room

REPEATS = 3
LENGTHS = (10.0, 60.0, 300.0)


def _takes(folder: Path) -> dict[str, float]:
    """The takes, by file name, with their length; each with a voice file of its length."""
    out = {}
    for seconds in LENGTHS:
        name = f"take-{int(seconds):03d}s.jsonl"
        write_take(folder / name, seconds)
        with VoiceWriter(folder / name.replace(".jsonl", ".opus")) as voice:
            for k in range(int(seconds / 0.02)):
                voice.write(k * 0.02, SILENCE)
        out[name] = seconds
    return out


class Pictures:
    """The render thread's pictures, counted (the room's picture sink)."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def __call__(self, picture: Picture) -> None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()

    def next_after(self, count: int, timeout: float = 60.0) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self.count > count, timeout)


def _time_start(room: Room, pictures: Pictures, takes: tuple[str, ...]) -> tuple[float, float]:
    """(seconds to the answer, seconds to the first picture of the replay)."""
    t0 = time.perf_counter()
    refused = room.replay_control("start", takes).result(120)
    assert refused is None, refused
    while room.replay.state != "playing":  # side by side: once the strips' avatars stand
        time.sleep(0.002)
    answered = time.perf_counter() - t0
    pictures.next_after(pictures.count)
    return answered, time.perf_counter() - t0


def _copies(folder: Path, names: tuple[str, ...], run: int) -> tuple[str, ...]:
    """Fresh copies of the takes (and voices): a first start, read from the file."""
    out = []
    for name in names:
        copy = name.replace(".jsonl", f"-{run}.jsonl")
        (folder / copy).write_bytes((folder / name).read_bytes())
        voice = folder / name.replace(".jsonl", ".opus")
        if voice.exists():
            (folder / copy.replace(".jsonl", ".opus")).write_bytes(voice.read_bytes())
        out.append(copy)
    return tuple(out)


def _runs(room: Room, pictures: Pictures, folder: Path, names: tuple[str, ...]) -> list[str]:
    """Best first start (read from the file) and best start again (the take kept read; side by
    side, the strips' avatars standing already: a realignment), each to answer and picture."""
    first, again = [], []
    for run in range(REPEATS):
        copies = _copies(folder, names, run)
        first.append(_time_start(room, pictures, copies))
        again.append(_time_start(room, pictures, copies))
        assert room.replay_control("stop").result(5) is None
        time.sleep(0.5)  # back to one view before the next start
    return [f"{min(t[k] for t in times) * 1e3:.0f}" for times in (first, again) for k in (0, 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1280x720", help="the room's picture, WxH")
    parser.add_argument("--avatar", default=DEFAULT_AVATAR, help="the room's avatar")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        takes = folder / "takes"
        takes.mkdir()
        with TakeWriter(folder / "still.jsonl", {"fps": 30.0}) as w:
            for k in range(60):
                w.write(k / 30, Pose.rest(k / 30, 0.9))
        print("writing the takes …", flush=True)
        lengths = _takes(takes)
        settings = RoomSettings(
            str(folder / "still.jsonl"), "noir-office", args.avatar, takes_dir=takes,
            width=width, height=height,
        )  # fmt: skip
        room = Room(settings)
        pictures = Pictures()
        room.set_picture_sink(pictures)
        room.start()
        try:
            pictures.next_after(0)
            time.sleep(2.0)  # the room settled
            rows = []
            runs: list[tuple[tuple[str, ...], str]] = [
                ((name,), f"{seconds:.0f} s take") for name, seconds in lengths.items()
            ]
            sixty = next(name for name, s in lengths.items() if s == 60.0)
            other = "take-060s-b.jsonl"
            (takes / other).write_bytes((takes / sixty).read_bytes())
            runs.append(((sixty, other), "2 x 60 s side by side"))
            for names, label in runs:
                rows.append((label, *_runs(room, pictures, takes, names)))
        finally:
            room.stop()
    print_table(
        f"Replay start on this CPU, {width}x{height}, best of {REPEATS}",
        ("replay", "first: playing (ms)", "picture (ms)", "again: playing (ms)", "picture (ms)"),
        rows,
    )


if __name__ == "__main__":
    main()

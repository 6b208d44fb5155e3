"""The reader in a served room (a real process, real sockets): a take is rolled, then a director
starts a reader with it; the partner moves on the set, its voice reaches the director as its
own source, the next take records the reader's actions but not its voice."""

from __future__ import annotations

import asyncio
import io
import json
import math
import os
import shutil
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect

from capture.pose import Pose
from capture.take import TakeWriter, read_take
from capture.voice import VoiceWriter, read_voice
from immersion.catalogue import find_pack
from immersion.feed.protocol import AudioSource, decode_audio, decode_video, is_audio
from tests.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ServedRoom,
    hello,
    open_page,
    served_room,
    until,
)
from tests.test_stage_extras import _one_mark_pack
from tests.voice_helpers import tone_packets

SOURCE_S = 8.0  # the room's source: long enough for a 4 s take while it moves
ROLL_S = 4.0  # the take the reader then plays: longer than it plays, on a loaded machine too
PLAY_S = 2.0  # how long the reader plays: two of the arm's waves


def waving_take(folder: Path, seconds: float) -> Path:
    """A take whose left arm waves up and down once a second, with a tone as its voice."""
    path = folder / "waving.jsonl"
    with TakeWriter(path, {"fps": 20.0, "voice": "waving.opus"}) as w:
        for k in range(round(seconds * 20)):
            t = k / 20
            half = 0.6 * math.sin(2 * math.pi * t)  # half the arm's angle, radians
            bones = {"leftUpperArm": [0.0, 0.0, math.sin(half), math.cos(half)]}
            w.write(t, Pose.from_json({"t": t, "hips": [0.0, 0.9, 0.0], "bones": bones}))
    with VoiceWriter(folder / "waving.opus") as voice:
        for k, packet in enumerate(tone_packets(seconds)):
            voice.write(k * 0.02, packet)
    return path


def _picture(message: bytes) -> np.ndarray[Any, Any]:
    from PIL import Image

    _, payload = decode_video(message)
    return np.asarray(Image.open(io.BytesIO(payload)).convert("L"), dtype=np.int16)


class Director:
    """A director's socket that keeps every picture and every reader audio packet."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.pictures: list[tuple[float, np.ndarray[Any, Any]]] = []
        self.reader_audio: list[Any] = []
        self.texts: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def heard(self, packet: Any) -> None:
        """An audio packet came (kept: the reader's)."""
        if packet.source is AudioSource.READER:
            self.reader_audio.append(packet)

    async def run(self) -> None:
        async for message in self.ws:
            if isinstance(message, bytes) and is_audio(message):
                self.heard(decode_audio(message))
            elif isinstance(message, bytes):
                self.pictures.append((time.monotonic(), _picture(message)))
                frame = decode_video(message)[0].frame
                await self.ws.send(json.dumps({"type": "ack", "frame": frame}))
            else:
                await self.texts.put(json.loads(message))

    async def until(self, kind: str, check: Any = None, timeout: float = 15) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                data = await self.texts.get()
                if data["type"] == kind and (check is None or check(data)):
                    return data

    async def send(self, **message: Any) -> None:
        await self.ws.send(json.dumps(message))

    def pictures_between(self, t0: float, t1: float) -> list[np.ndarray[Any, Any]]:
        return [p for at, p in self.pictures if t0 <= at <= t1]

    async def picture_after(self, t: float) -> np.ndarray[Any, Any]:
        async with asyncio.timeout(10):
            while True:
                found = next((p for at, p in self.pictures if at >= t), None)
                if found is not None:
                    return found
                await asyncio.sleep(0.05)


def _moved(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Where two pictures differ by more than the JPEG's noise."""
    moved: np.ndarray[Any, Any] = np.abs(a - b) > 24
    return moved


def _args(source: Path) -> list[str]:
    return ["--source", str(source), "--once", "--scene", "western-saloon", "--camera", "wide",
            "--size", "320x180", "--fps", "20"]  # fmt: skip


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("reader-room")
    with served_room(tmp, _args(waving_take(tmp, SOURCE_S))) as served:
        yield served


def test_a_reader_plays_a_rolled_take_opposite_the_actor(room: ServedRoom) -> None:
    _reader_plays_opposite_the_actor(room)


def test_with_a_headset_the_reader_moves_and_is_heard_too(tmp_path: Path) -> None:
    """Against Monado (simulated HMD, core validation on): the headset paces the room."""
    from tests.test_headset import monado_env

    env = monado_env(XR_CORE_VALIDATION_EXPORT_TYPE="text",
                     XR_CORE_VALIDATION_FILE_NAME=str(tmp_path / "validation.txt"))  # fmt: skip
    source = waving_take(tmp_path, SOURCE_S)
    args = ["--headset", *_args(source)]
    with served_room(
        tmp_path, args, **{k: v for k, v in env.items() if k not in os.environ}
    ) as room:
        status = _reader_plays_opposite_the_actor(room)
    assert status["headset"]["state"] == "FOCUSED", status["headset"]
    assert status["headset"]["system"].startswith("Monado")
    validation = (tmp_path / "validation.txt").read_text()
    assert "Core Validation Layer is initialized" in validation
    assert "VALID_ERROR" not in validation + (tmp_path / "serve.log").read_text()


def _reader_plays_opposite_the_actor(room: ServedRoom) -> dict[str, Any]:
    """Roll a take of the room's source, start a reader with it in the next take and check
    what every part of the room did; the reader's status while it played."""

    async def go() -> tuple[Director, str, str, dict[str, Any], list[np.ndarray[Any, Any]]]:
        async with connect(room.url(room.director), max_queue=None) as ws:
            welcome = json.loads(await ws.recv())
            await ws.send(json.dumps({"type": "hello", "codecs": ["jpeg"], "audio": True}))
            director = Director(ws)
            listening = asyncio.create_task(director.run())
            # Take 1: the room's own source (an arm waving, a tone) while it plays.
            await director.send(type="take", action="start")
            await director.until("status", lambda m: m["take"]["rolling"])
            await asyncio.sleep(ROLL_S)
            await director.send(type="take", action="stop")
            first = (await director.until("take", lambda m: "duration" in m["take"]))["take"]
            # The source plays once: the main avatar then holds still.
            await director.until("status", lambda m: m["source"] == "ended", SOURCE_S + 10)
            await director.send(type="take", action="start")
            await director.until("status", lambda m: m["take"]["rolling"])
            await asyncio.sleep(0.5)
            still = await director.picture_after(time.monotonic())
            avatar = welcome["room"]["avatars"][0]
            await director.send(type="reader", action="start", take=first["file"], avatar=avatar)
            playing = await director.until(
                "status", lambda m: m.get("reader", {}).get("state") == "playing", 20
            )
            started = time.monotonic()
            await asyncio.sleep(PLAY_S)
            paused = time.monotonic()
            await director.send(type="reader", action="pause")
            await director.until("status", lambda m: m["reader"]["state"] == "paused")
            await director.send(type="reader", action="stop")
            await director.until("status", lambda m: m["reader"] == {"state": "stopped"})
            await director.send(type="take", action="stop")
            second = (await director.until("take", lambda m: "duration" in m["take"]))["take"]
            # Every picture while it played (a picture in transit at "playing" may predate it).
            pictures = [still, *director.pictures_between(started + 0.3, paused)]
            listening.cancel()
            return director, first["file"], second["file"], playing, pictures

    director, first, second, playing, (still, a, *later) = asyncio.run(go())
    assert playing["reader"]["take"] == first and playing["reader"]["duration"] > PLAY_S
    # The partner stands on the saloon's second mark (at the bar, left of and behind the actor
    # in the wide shot) and moves there (its shadow on the floor too); the actor holds still.
    # The arm waves: over 1.7 s of a 1 Hz wave, some picture differs from the first (any two
    # may be a whole wave apart, and look alike; three cannot all be). A loaded machine with a
    # headset may send the director few pictures.
    assert len(later) >= 3, len(later)
    appeared = _moved(still, a)
    waved = max((_moved(a, b) for b in later), key=lambda moved: int(moved.sum()))
    width = still.shape[1]
    assert appeared.sum() > 30 and waved.sum() > 10, (appeared.sum(), waved.sum())
    for changed in (appeared, waved):
        assert np.mean(np.nonzero(changed)[1] < width / 2 - 8) > 0.6
    # Its voice reached the director as the reader's, in order on the room clock.
    heard = director.reader_audio
    assert len(heard) >= 40, len(heard)  # 2 s at 50 packets a second, less the start
    times = [p.capture_t for p in heard]
    assert times == sorted(times) and np.median(np.diff(times)) == pytest.approx(0.02, abs=1e-3)
    recorded = {
        packet for _, packet in read_voice(room.takes / Path(first).with_suffix(".opus")).packets
    }
    assert {p.opus for p in heard} <= recorded
    # The take rolled meanwhile records what the actor played against, not the reader's voice.
    take = read_take(room.takes / second)
    events = [e for e in take.events if e["event"] == "event" and e["text"].startswith("reader")]
    said = [e["text"].split(":")[0] for e in events]
    assert said == ["reader start", "reader playing", "reader pause", "reader stop"], events
    assert events[0]["text"].startswith(f"reader start: take {first} as "), events
    # "playing" is when its clock started (after its avatar's load): a replay lines up there.
    assert events[1]["text"].endswith(", at 0.0 s") and events[1]["t"] > events[0]["t"]
    assert PLAY_S <= events[2]["t"] - events[1]["t"] < PLAY_S + 5.0, events
    voice = room.takes / take.header["voice"]
    assert not voice.exists() or not read_voice(voice).packets
    return playing


def test_the_room_refuses_what_a_reader_cannot_play_in_one_line(room: ServedRoom) -> None:
    async def go() -> list[str]:
        async with connect(room.url(room.director), max_queue=None) as ws:
            welcome = await hello(ws)
            avatar = welcome["room"]["avatars"][0]
            await ws.send(json.dumps({"type": "take", "action": "start"}))
            rolling = await until(ws, "status", lambda m: m["take"]["rolling"])
            replies = []
            for message in (
                {"action": "start", "take": "../serve.log", "avatar": avatar},
                {"action": "start", "take": "nothing.jsonl", "avatar": avatar},
                {"action": "start", "take": rolling["take"]["file"], "avatar": avatar},
                {"action": "start", "take": "waving.jsonl", "avatar": "nobody"},
                {"action": "resume"},
            ):
                await ws.send(json.dumps({"type": "reader", **message}))
                replies.append((await until(ws, "error"))["message"])
            await ws.send(json.dumps({"type": "take", "action": "stop"}))
            return replies

    assert asyncio.run(go()) == [
        "reader: take must be a take's file name from the room's list, not a path",
        "reader: reader take: 'nothing.jsonl' does not exist",
        f"take {_rolling_name(room)!r} is still rolling; stop it before a reader plays it",
        "no avatar 'nobody' in this room's catalogue",
        "the reader is stopped, not paused",
    ]


def _rolling_name(room: ServedRoom) -> str:
    return sorted(room.takes.glob("take-*.jsonl"))[-1].name


def _waving_in_the_takes(room: ServedRoom, tmp: Path) -> None:
    """``waving.jsonl`` (2 s) and its voice in the room's takes folder."""
    source = waving_take(tmp, 2.0)
    for made in (source, source.with_suffix(".opus")):
        shutil.copy(made, room.takes / made.name)


def test_the_directors_page_steers_the_reader_and_every_viewer_sees_it(
    room: ServedRoom, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    _waving_in_the_takes(room, tmp_path)  # before the pages open: the welcome lists it
    args = [*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=args)
        director = open_page(browser, room.page(room.director))
        observer = open_page(browser, room.page(room.observer))
        expect(director.locator("#role")).to_have_text("director")
        expect(observer.locator("#reader-form")).to_be_hidden()  # observers watch
        director.select_option("#reader-take", "waving.jsonl")
        director.select_option("#reader-avatar", index=1)
        avatar = director.locator("#reader-avatar").input_value()
        director.click("#reader-start")
        for page in (director, observer):
            expect(page.locator("#reader-state")).to_contain_text(
                f"{avatar} plays waving.jsonl", timeout=20_000
            )
        director.wait_for_timeout(1500)
        heard = director.evaluate("window.immersion.readerCounts()")
        assert heard["heard"] >= 40, heard  # 1.5 s at 50 packets a second
        levels = [x["db"] for x in director.evaluate("window.immersion.readerLevels()")]
        assert levels and max(levels) > -35, levels[-20:]  # the take's tone, played
        director.click("#reader-pause")
        expect(observer.locator("#reader-state")).to_contain_text("paused")
        expect(director.locator("#reader-pause")).to_have_text("Resume")
        director.click("#reader-pause")
        expect(director.locator("#reader-state")).to_contain_text("plays")
        director.click("#reader-stop")
        expect(observer.locator("#reader-state")).to_contain_text("No reader")
        assert director.errors == []
        browser.close()


def test_the_performing_actors_page_hears_the_reader(room: ServedRoom, tmp_path: Path) -> None:
    _waving_in_the_takes(room, tmp_path)

    async def go() -> list[Any]:
        async with (
            connect(room.url(room.director), max_queue=None) as director,
            connect(room.url(room.actor), max_queue=None) as actor,
        ):
            welcome = await hello(director)
            await hello(actor)
            await actor.send(json.dumps({"type": "consent", "version": 2}))
            await until(director, "status", lambda m: m["source"] == "actor")
            avatar = welcome["room"]["avatars"][0]
            await director.send(json.dumps(
                {"type": "reader", "action": "start", "take": "waving.jsonl", "avatar": avatar}
            ))  # fmt: skip
            heard: list[Any] = []
            deadline = time.monotonic() + 10
            while len(heard) < 30 and time.monotonic() < deadline:
                message = await asyncio.wait_for(actor.recv(), 5)
                if isinstance(message, bytes) and is_audio(message):
                    heard.append(decode_audio(message))
                elif isinstance(message, bytes):
                    frame = decode_video(message)[0].frame
                    await actor.send(json.dumps({"type": "ack", "frame": frame}))
            await director.send(json.dumps({"type": "reader", "action": "stop"}))
            await actor.send(json.dumps({"type": "leave"}))
            return heard

    heard = asyncio.run(go())
    assert len(heard) >= 30 and {p.source for p in heard} == {AudioSource.READER}
    times = [p.capture_t for p in heard]
    assert times == sorted(times)


def test_a_set_without_a_second_mark_stops_the_reader_and_refuses_it(tmp_path: Path) -> None:
    scenes = tmp_path / "scenes"
    shutil.copytree(find_pack("western-saloon"), scenes / "western-saloon")
    _one_mark_pack(scenes)
    (tmp_path / "room" / "takes").mkdir(parents=True)
    source = waving_take(tmp_path, 2.0)
    for made in (source, source.with_suffix(".opus")):
        shutil.copy(made, tmp_path / "room" / "takes" / made.name)

    async def go(room: ServedRoom) -> tuple[str, str, list[str]]:
        async with connect(room.url(room.director), max_queue=None) as ws:
            welcome = await hello(ws)
            await ws.send(json.dumps({"type": "take", "action": "start"}))
            await until(ws, "status", lambda m: m["take"]["rolling"])
            start = {"type": "reader", "action": "start", "take": "waving.jsonl",
                     "avatar": welcome["room"]["avatars"][0]}  # fmt: skip
            await ws.send(json.dumps(start))
            await until(ws, "status", lambda m: m["reader"]["state"] == "playing", 20)
            await ws.send(json.dumps({"type": "scene", "name": "one-mark"}))
            stopped = await until(ws, "error", lambda m: m["scope"] == "room", 20)
            await until(ws, "status", lambda m: m["scene"] == "one-mark")
            assert (await until(ws, "status"))["reader"] == {"state": "stopped"}
            await ws.send(json.dumps(start))
            refused = await until(ws, "error")
            await ws.send(json.dumps({"type": "take", "action": "stop"}))
            take = (await until(ws, "take", lambda m: "duration" in m["take"]))["take"]
            events = read_take(room.takes / take["file"]).events
            said = [e["text"] for e in events if e["event"] == "event"]
            return stopped["message"], refused["message"], said

    with served_room(tmp_path / "room", _args(source), IMMERSION_SCENES=str(scenes)) as room:
        stopped, refused, said = asyncio.run(go(room))
    assert stopped == "reader: stopped: 'one-mark' has no second mark"
    assert refused == "scene pack 'one-mark' has one mark; a reader needs a second"
    # The room's own stop is in the take too, with its reason.
    assert said[-1].startswith("reader stop: take waving.jsonl as "), said
    assert said[-1].endswith("('one-mark' has no second mark)"), said


def test_a_stop_while_the_take_is_read_wins_and_a_stopping_room_answers_every_start(
    tmp_path: Path,
) -> None:
    """The room's part of a start: loading at once, so a Stop is heard while the take is read;
    a read that ends after it asks for no avatar; a start still queued when the room stops is
    answered. (No threads of the room run: the take reader is held behind a gate.)"""
    from immersion.catalogue import avatar_names
    from immersion.config import RoomSettings
    from immersion.room.messages import SetReader
    from immersion.room.reader import STOPPING
    from immersion.room.room import Room
    from tests.support import perf_take

    takes = tmp_path / "takes"
    takes.mkdir()
    waving_take(takes, 2.0)
    still = perf_take(tmp_path / "still.jsonl")
    room = Room(RoomSettings(str(still), "noir-office", "detective", takes_dir=takes))
    avatar = avatar_names()[0]
    gate = threading.Event()

    def hold() -> None:
        busy: Future[str | None] = Future()
        room._reader_loads.submit(lambda: None if gate.wait(10) else "gate", busy)

    try:
        hold()
        started = room.reader_control("start", "waving.jsonl", avatar)
        assert room.status().reader == {"state": "loading", "take": "waving.jsonl",
                                        "avatar": avatar, "t": 0.0, "duration": 0.0,
                                        "ended": False}  # fmt: skip
        assert room.reader_control("stop").result(1) is None  # heard, not "stopped already"
        gate.set()
        assert started.result(10) is None
        assert room.reader.state == "stopped"
        assert room._commands.due(1e9) == [SetReader(None)]  # the late read asked for nothing
        gate.clear()
        hold()
        queued = room.reader_control("start", "waving.jsonl", avatar)
        room.stop()  # never started: its queued start is answered all the same
        assert queued.result(1) == STOPPING
    finally:
        gate.set()

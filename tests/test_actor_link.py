"""The actor's link without a browser: a real room process, and a page stand-in on a real socket
that speaks the actor's protocol (consent, clock, landmarks, voice) as ``web/actor.js`` does.
The browser itself is tested in test_actor_page.py."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from capture.cache import models_dir, tasks_vision_dir
from capture.landmarks import FaceLandmarks, HandLandmarks, Landmark, LandmarkFrame
from capture.opus import SILENCE
from capture.rotations import quat_to_matrix
from capture.skeleton import Bone
from capture.synthetic import tpose_avatar_points
from capture.take import read_take
from capture.voice import VoiceWriter, read_voice
from immersion.config import RoomSettings
from immersion.feed.protocol import (
    ActorPose,
    AudioSource,
    Voice,
    decode_audio,
    decode_video,
    encode_pose,
    encode_voice,
    is_audio,
)
from immersion.room.actor import ActorSource
from immersion.room.room import Room
from tests.support import ServedRoom, hello, perf_take, served_room, until
from tests.voice_helpers import tone_packets, tone_video


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRoom]:
    tmp = tmp_path_factory.mktemp("actor-room")
    args = ["--source", str(perf_take(tmp / "perf.jsonl")), "--size", "320x180", "--fps", "20"]
    with served_room(tmp, args) as served:
        yield served


def _arm_up_pose(t: float) -> ActorPose:
    """The T-pose with the actor's left arm raised straight up, in MediaPipe world axes."""
    points = tpose_avatar_points()
    shoulder = points[Landmark.LEFT_SHOULDER]
    for k, name in enumerate(("ELBOW", "WRIST", "PINKY", "INDEX", "THUMB")):
        points[Landmark[f"LEFT_{name}"]] = shoulder + np.array(
            [0.0, 0.28 * (k + 1) if k < 2 else 0.62, 0.0]
        )
    world = points * np.array([1.0, -1.0, -1.0])  # avatar → MediaPipe axes
    return ActorPose(t, world, np.full((33, 3), 0.5), np.ones(33))


class Page:
    """What the actor's page does on its socket, in Python."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.offset = 0.0  # room clock minus ours, seconds
        self.started = time.monotonic()

    async def join(self, consent: bool = True) -> dict[str, Any]:
        welcome = await hello(self.ws)
        await self.ws.send(json.dumps({"type": "clock", "t": self.now() * 1000}))
        reply = await until(self.ws, "clock", lambda m: True, 5)
        sent, room = reply["t"] / 1000, reply["room"]
        self.offset = room - (sent + self.now()) / 2
        if consent:
            await self.ws.send(json.dumps({"type": "consent", "version": 2}))
        return welcome

    def now(self) -> float:
        return time.monotonic() - self.started

    def room_now(self) -> float:
        return self.now() + self.offset

    async def perform(self, seconds: float, voice: list[bytes] | None = None) -> int:
        """Landmarks every 30 ms and voice packets every 20 ms (or a little more: the loop's
        own time), for ``seconds``; how many voice packets were sent."""
        sent, k, end = 0, 0, self.now() + seconds
        packets = iter(voice or [])
        while self.now() < end:
            if k % 3 == 0:
                await self.ws.send(encode_pose(_arm_up_pose(self.room_now())))
            packet = next(packets, None) if k % 2 == 0 else None
            if packet is not None:
                await self.ws.send(encode_voice(Voice(self.room_now(), packet, False)))
                sent += 1
            k += 1
            await asyncio.sleep(0.01)
        return sent


async def _source(ws: ClientConnection, wanted: str, timeout: float = 10) -> dict[str, Any]:
    return await until(ws, "status", lambda m: m["source"] == wanted, timeout)


async def _listen(ws: ClientConnection, heard: list[Any]) -> None:
    """An observer that asked for the actor's voice: every audio packet it is sent."""
    await ws.send(json.dumps({"type": "hello", "codecs": ["jpeg"], "audio": True}))
    async for message in ws:
        if isinstance(message, bytes) and is_audio(message):
            heard.append(decode_audio(message))
        elif isinstance(message, bytes):
            frame = decode_video(message)[0].frame
            await ws.send(json.dumps({"type": "ack", "frame": frame}))


def test_the_actor_performs_and_a_take_holds_their_pose_and_voice(room: ServedRoom) -> None:
    heard: list[Any] = []

    async def go() -> tuple[str, int]:
        async with (
            connect(room.url(room.director), max_queue=None) as director,
            connect(room.url(room.observer), max_queue=None) as listener,
            connect(room.url(room.actor), max_queue=None) as actor_ws,
        ):
            await hello(director)
            listening = asyncio.create_task(_listen(listener, heard))
            page = Page(actor_ws)
            welcome = await page.join(consent=False)
            assert welcome["role"] == "actor"
            # Nothing counts before the actor agrees.
            await actor_ws.send(encode_pose(_arm_up_pose(page.room_now())))
            refused = await until(actor_ws, "error", lambda m: True, 5)
            assert "consent first" in refused["message"]
            await actor_ws.send(json.dumps({"type": "consent", "version": 2}))
            await _source(director, "actor")
            await director.send(json.dumps({"type": "take", "action": "start"}))
            await until(director, "status", lambda m: m["take"]["rolling"], 5)
            sent = await page.perform(2.0, tone_packets(2.0))
            await director.send(json.dumps({"type": "take", "action": "stop"}))
            ended = await until(director, "take", lambda m: "duration" in m["take"], 10)
            await actor_ws.send(json.dumps({"type": "leave"}))
            await _source(director, "recording")
            listening.cancel()
            return str(ended["take"]["file"]), sent

    name, sent = asyncio.run(go())
    # The observer heard the actor: every packet, unchanged, stamped on the room clock.
    assert len(heard) == sent and {p.source for p in heard} == {AudioSource.VOICE}
    assert [p.opus for p in heard] == tone_packets(2.0)[:sent]
    times = [p.capture_t for p in heard]
    assert times == sorted(times) and 1.5 < times[-1] - times[0] < 2.5
    take = read_take(room.takes / name)
    assert take.header["voice"] == Path(name).with_suffix(".opus").name
    poses = [p for p in take.poses if p is not None]
    assert len(poses) >= 40  # 2 s at 30 fps, less the start
    # The left arm points up: its upper arm's bone axis (+X at rest) turned to +Y.
    axis = quat_to_matrix(poses[-1].rotation(Bone.LEFT_UPPER_ARM)) @ np.array([1.0, 0.0, 0.0])
    assert axis[1] > 0.9, axis
    voice = read_voice(room.takes / take.header["voice"])
    # Every packet in, on the take's clock: gaps the sender's loop left are filled with silence.
    silence = sum(packet == SILENCE for _, packet in voice.packets)
    assert len(voice.packets) - silence == sent
    assert abs(voice.start + voice.duration - (times[-1] - take.header["roomTime"])) < 0.1


def test_a_dropped_page_holds_the_pose_and_the_take_records_the_gap(room: ServedRoom) -> None:
    async def go() -> str:
        async with connect(room.url(room.director), max_queue=None) as director:
            await hello(director)
            await director.send(json.dumps({"type": "take", "action": "start"}))
            rolling = await until(director, "status", lambda m: m["take"]["rolling"], 5)
            async with connect(room.url(room.actor), max_queue=None) as first:
                page = Page(first)
                await page.join()
                await page.perform(0.5)
                first.transport.abort()  # the network goes, no goodbye
            away = await _source(director, "actor disconnected")
            assert away["captureFps"] < 31
            async with connect(room.url(room.actor), max_queue=None) as again:
                page = Page(again)
                await page.join()
                await _source(director, "actor")
                await page.perform(0.3)
                await again.send(json.dumps({"type": "leave"}))
                await _source(director, "recording")
            await director.send(json.dumps({"type": "take", "action": "stop"}))
            await until(director, "take", lambda m: "duration" in m["take"], 10)
            return str(rolling["take"]["file"])

    name = asyncio.run(go())
    texts = [e["text"] for e in read_take(room.takes / name).events if e.get("event") == "event"]
    assert texts[0].startswith("actor joined (consented to capture, consent text v2)")
    assert texts[1:] == [
        "actor disconnected",
        "actor reconnected (consented to capture, consent text v2)",
        "actor left",
    ], texts


async def _talk_during_a_take(room: ServedRoom) -> tuple[str, list[bytes]]:
    """A director talks to the actor while a take rolls: the take's file, and what was said."""
    async with (
        connect(room.url(room.director), max_queue=None) as director,
        connect(room.url(room.observer), max_queue=None) as observer,
        connect(room.url(room.actor), max_queue=None) as actor_ws,
    ):
        await hello(director)
        heard: list[Any] = []
        listening = asyncio.create_task(_listen(observer, heard))
        page = Page(actor_ws)
        await page.join()
        await director.send(json.dumps({"type": "take", "action": "start"}))
        rolling = await until(director, "status", lambda m: m["take"]["rolling"], 5)
        talk = tone_packets(0.4)
        for packet in talk:
            await director.send(encode_voice(Voice(page.room_now(), packet, talkback=True)))
            await asyncio.sleep(0.02)
        got: list[Any] = []
        while len(got) < len(talk):
            message = await asyncio.wait_for(actor_ws.recv(), 5)
            if isinstance(message, bytes) and is_audio(message):
                got.append(decode_audio(message))
        assert [p.opus for p in got] == talk
        assert {p.source for p in got} == {AudioSource.TALKBACK}
        # An observer cannot talk back, and heard none of it.
        await observer.send(encode_voice(Voice(1.0, talk[0], talkback=True)))
        assert heard == []
        await director.send(json.dumps({"type": "take", "action": "stop"}))
        await until(director, "take", lambda m: "duration" in m["take"], 10)
        await actor_ws.send(json.dumps({"type": "leave"}))
        listening.cancel()
        return str(rolling["take"]["file"]), talk


def test_talkback_reaches_the_actor_only_and_is_not_recorded(room: ServedRoom) -> None:
    name, _ = asyncio.run(_talk_during_a_take(room))
    take = read_take(room.takes / name)
    assert "talkback" not in take.header
    assert read_voice(room.takes / take.header["voice"]).packets == ()  # the actor said nothing
    assert not list(room.takes.glob("*.talkback.opus"))


def test_an_observer_cannot_talk_back(room: ServedRoom) -> None:
    async def go() -> dict[str, Any]:
        async with connect(room.url(room.observer), max_queue=None) as observer:
            await hello(observer)
            await observer.send(encode_voice(Voice(1.0, tone_packets(0.02)[0], talkback=True)))
            return await until(observer, "error", lambda m: True, 5)

    assert asyncio.run(go())["message"] == "only directors may talk back"


def test_record_talkback_puts_it_beside_the_take(tmp_path: Path) -> None:
    args = ["--source", str(perf_take(tmp_path / "still.jsonl")), "--size", "320x180"]
    with served_room(tmp_path / "room", [*args, "--record-talkback"]) as room:
        name, talk = asyncio.run(_talk_during_a_take(room))
        take = read_take(room.takes / name)
        recorded = read_voice(room.takes / take.header["talkback"])
    assert [p for _, p in recorded.packets if p != SILENCE] == talk


def test_a_second_actor_page_takes_over_and_a_wrong_token_is_refused(room: ServedRoom) -> None:
    async def go() -> None:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(room.url(room.actor + "x")):
                pass
        assert refused.value.response.status_code == 403
        async with (
            connect(room.url(room.actor), max_queue=None) as first,
            connect(room.url(room.actor), max_queue=None) as second,
        ):
            await Page(first).join()
            await Page(second).join()
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(first.recv(), 5)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.reason == "another page took over as the actor"
            await second.send(json.dumps({"type": "leave"}))

    asyncio.run(go())


def _take_with_voice(folder: Path) -> tuple[Path, list[bytes]]:
    """A 2 s take whose header names a voice file of a 2 s tone on its clock."""
    take = perf_take(folder / "spoken.jsonl")
    lines = take.read_text().splitlines()
    header = json.loads(lines[0])
    take.write_text("\n".join([json.dumps({**header, "voice": "spoken.opus"}), *lines[1:]]) + "\n")
    packets = tone_packets(2.0)
    with VoiceWriter(folder / "spoken.opus") as voice:
        for k, packet in enumerate(packets):
            voice.write(k * 0.02, packet)
    return take, packets


async def _hear(room: ServedRoom, seconds: float) -> list[Any]:
    heard: list[Any] = []
    async with connect(room.url(room.observer), max_queue=None) as ws:
        await hello(ws)
        listening = asyncio.create_task(_listen(ws, heard))
        await asyncio.sleep(seconds)
        listening.cancel()
    return heard


def test_a_replayed_take_replays_its_voice_and_a_video_its_sound(tmp_path: Path) -> None:
    take, packets = _take_with_voice(tmp_path)
    with served_room(tmp_path / "take", ["--source", str(take), "--size", "320x180"]) as room:
        heard = asyncio.run(_hear(room, 3.0))
    assert len(heard) >= 100  # 3 s of a looping 2 s take's voice, 50 packets a second
    assert {p.opus for p in heard} <= set(packets)
    times = [p.capture_t for p in heard]
    assert times == sorted(times)
    # Stamped where they fall on the room clock: 20 ms apart within a pass.
    steps = np.diff(times)
    assert np.median(steps) == pytest.approx(0.02, abs=0.002)

    video = tone_video(tmp_path / "tone.mp4", 3.0)
    with served_room(tmp_path / "video", ["--source", str(video), "--size", "320x180"]) as room:
        heard = asyncio.run(_hear(room, 4.0))  # the first second or so loads the pose model
    assert len(heard) >= 75
    assert np.median([len(p.opus) for p in heard]) > 20  # a tone, not the 3-byte silence


def test_the_actor_is_not_sent_the_casting_teams_notes(room: ServedRoom) -> None:
    async def go() -> set[str]:
        async with (
            connect(room.url(room.director), max_queue=None) as director,
            connect(room.url(room.actor), max_queue=None) as actor_ws,
        ):
            await hello(director)
            await director.send(json.dumps({"type": "note", "text": "Weak on the turn"}))
            await until(director, "note", lambda m: True, 5)
            await hello(actor_ws)
            await director.send(json.dumps({"type": "note", "text": "Still weak"}))
            await until(director, "note", lambda m: True, 5)
            kinds: set[str] = set()
            end = time.monotonic() + 1.5
            while time.monotonic() < end:
                try:
                    message = await asyncio.wait_for(actor_ws.recv(), 0.5)
                except TimeoutError:
                    continue
                if isinstance(message, str):
                    kinds.add(json.loads(message)["type"])
            return kinds

    kinds = asyncio.run(go())
    assert "status" in kinds and not kinds & {"takes", "take", "note"}, kinds


def test_the_room_builds_the_actors_frame_with_image_face_hands_and_camera(
    tmp_path: Path,
) -> None:
    """The room's side of the page's optional parts: what the protocol decoded becomes one
    LandmarkFrame for the capture pipeline, the picture size its camera model; bad values are
    refused in one line."""
    still = perf_take(tmp_path / "still.jsonl")
    settings = RoomSettings(str(still), "noir-office", "detective", takes_dir=tmp_path / "t")
    room = Room(settings)
    stop = threading.Event()
    source = ActorSource(room.actor, stop, vfov_deg=55.0)
    pose = _arm_up_pose(room.now())
    rng = np.random.default_rng(3)
    face = FaceLandmarks(rng.uniform(0, 1, 52), np.eye(3), 0.9)
    left = HandLandmarks(rng.uniform(-0.1, 0.1, (21, 3)), 0.8)
    room.actor.join(1)
    assert room.actor_picture(1, 640, 480) is None
    camera = source.camera
    assert camera is not None and (camera.width, camera.height, camera.vfov_deg) == (640, 480, 55)
    assert room.actor_pose(
        1, pose.capture_t, pose.world, pose.visibility, pose.image, face, left, None
    ) is None  # fmt: skip
    frame = room.actor.next(0.0)
    assert isinstance(frame, LandmarkFrame)
    assert frame.image is not None and np.array_equal(frame.image, pose.image)
    assert frame.face is face and frame.left_hand is left and frame.right_hand is None
    # Refused, one line each: bad numbers, and a page that is no longer the actor.
    bad_image = np.full((33, 3), np.nan)
    refused = room.actor_pose(1, 0.0, pose.world, pose.visibility, bad_image)
    assert refused == "pose: image landmarks contain NaN or infinite values"
    refused = room.actor_pose(1, 0.0, pose.world, np.full(33, 2.0))
    assert refused == "pose: landmark visibility must be in [0, 1]"
    assert room.actor_picture(1, 0, 480) == "picture: camera size must be 1 to 65536 pixels a side"
    assert room.actor_picture(2, 640, 480) == "another page has taken over as the actor"
    room.actor.join(2)  # a new page: no camera until it says its own
    assert source.camera is None


@pytest.mark.model
def test_the_room_serves_the_face_and_hand_bundles_and_the_pages_worker(
    room: ServedRoom,
) -> None:
    """The actor page's face and hands worker, the classic bundle it loads and the two model
    bundles, by fixed names from the set-up's cache; the worker may run wasm (its own policy)."""
    served = {
        "/models/face_landmarker.task": models_dir() / "face_landmarker.task",
        "/models/hand_landmarker.task": models_dir() / "hand_landmarker.task",
        "/vendor/tasks-vision/vision_bundle.cjs": tasks_vision_dir() / "vision_bundle.cjs",
    }
    for path, file in served.items():
        with urllib.request.urlopen(f"http://127.0.0.1:{room.port}{path}", timeout=10) as reply:
            assert reply.read() == file.read_bytes(), path
    with urllib.request.urlopen(f"http://127.0.0.1:{room.port}/extras.worker.js") as reply:
        assert b"HandLandmarker" in reply.read()
        assert "'wasm-unsafe-eval'" in reply.headers["Content-Security-Policy"]

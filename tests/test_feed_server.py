"""`immersion serve` as a real process, real websockets clients on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from capture.take import read_take
from immersion.feed.protocol import Codec
from tests.support import ROOT, ServedRoom, frames, hello, perf_take, served_room, until


def _room_args(tmp: Path) -> tuple[list[str], dict[str, str]]:
    # Two real packs, and one whose name is listed but whose scene.toml is broken.
    scenes = tmp / "scenes"
    for name in ("noir-office", "western-saloon"):
        shutil.copytree(ROOT / "scenes" / name, scenes / name)
    (scenes / "broken-set").mkdir()
    (scenes / "broken-set" / "scene.toml").write_text("name = [unclosed\n")
    args = ["--source", str(perf_take(tmp / "perf.jsonl")), "--size", "320x180", "--fps", "20"]
    return args, {"IMMERSION_SCENES": str(scenes)}


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedRoom]:
    tmp = tmp_path_factory.mktemp("room")
    args, env = _room_args(tmp)
    with served_room(tmp, args, **env) as served:
        yield served


@pytest.fixture
def own_room(tmp_path: Path) -> Iterator[ServedRoom]:
    """A room for one test that ends it (the module's room stays up for the others)."""
    args, env = _room_args(tmp_path)
    with served_room(tmp_path, args, **env) as served:
        yield served


def test_a_bad_token_is_refused_before_anything_is_sent(room: ServedRoom) -> None:
    async def go() -> None:
        for token in ("", "nope", room.director[:-1]):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(room.url(token)):
                    pass
            assert refused.value.response.status_code == 403

    asyncio.run(go())


def test_a_foreign_origin_is_refused(room: ServedRoom) -> None:
    async def go() -> None:
        with pytest.raises(InvalidStatus):
            async with connect(room.url(room.director), origin="http://evil.example"):  # type: ignore[arg-type]
                pass

    asyncio.run(go())


def test_viewers_get_frames_and_status_and_directors_steer(room: ServedRoom) -> None:
    async def go() -> None:
        async with (
            connect(room.url(room.director)) as director,
            connect(room.url(room.observer)) as observer,
            connect(room.url(room.observer)) as h264,
        ):
            welcome = await hello(director)
            assert welcome["role"] == "director" and "noir-office" in welcome["room"]["scenes"]
            assert (await hello(observer))["role"] == "observer"
            await hello(h264, "h264")
            jpeg_frames = await frames(director, 5)
            assert all(
                h.codec is Codec.JPEG and (h.width, h.height) == (320, 180) for h in jpeg_frames
            )
            avc = await frames(h264, 5)
            assert avc[0].codec is Codec.H264 and avc[0].keyframe  # a new viewer starts on a key
            assert [h.frame for h in jpeg_frames] == sorted(h.frame for h in jpeg_frames)
            status = await until(observer, "status", lambda s: s["renderFps"] > 0)
            assert set(status["confidence"]) == {
                "head",
                "torso",
                "leftArm",
                "rightArm",
                "leftLeg",
                "rightLeg",
            }
            assert status["latencyMs"]["render"] is not None

            # Observers may not steer; directors may; a bad name is an error, not a crash.
            await observer.send(json.dumps({"type": "camera", "name": "medium"}))
            error = await until(observer, "error")
            assert "only directors steer the room" in error["message"]
            await director.send(json.dumps({"type": "camera", "name": "nowhere"}))
            assert "no camera preset 'nowhere'" in (await until(director, "error"))["message"]
            camera = welcome["status"]["cameras"][1]
            await director.send(json.dumps({"type": "camera", "name": camera}))
            await until(observer, "status", lambda s: s["camera"] == camera)
            # Malformed input gets an error reply and the connection stays up.
            await director.send("{not json")
            assert (await until(director, "error"))["message"] == "message is not JSON"
            assert len(await frames(director, 2)) == 2

    asyncio.run(go())


def test_scene_and_avatar_switch_live_and_a_broken_pack_leaves_the_room_playing(
    room: ServedRoom,
) -> None:
    async def go() -> None:
        async with (
            connect(room.url(room.director)) as director,
            connect(room.url(room.observer)) as observer,
        ):
            await hello(director)
            await hello(observer)
            await director.send(json.dumps({"type": "scene", "name": "western-saloon"}))
            await until(observer, "status", lambda s: s["scene"] == "western-saloon")
            await director.send(json.dumps({"type": "avatar", "name": "captain"}))
            await until(observer, "status", lambda s: s["avatar"] == "captain")
            await director.send(json.dumps({"type": "scene", "name": "broken-set"}))
            problem = await until(director, "error", lambda e: e["scope"] == "room")
            assert "broken-set" in problem["message"] and "scene.toml" in problem["message"]
            # The room plays on, on the set it had; the observer saw it all without a reconnect.
            status = await until(observer, "status")
            assert "errors" not in status  # a problem is an event, not a state that lingers
            before = status["frame"]
            later = await until(observer, "status", lambda s: s["frame"] > before + 10)
            assert later["scene"] == "western-saloon"
            await director.send(json.dumps({"type": "scene", "name": "noir-office"}))
            await until(observer, "status", lambda s: s["scene"] == "noir-office")

    asyncio.run(go())


def test_a_take_rolled_from_the_feed_is_on_disk_with_its_notes(room: ServedRoom) -> None:
    async def go() -> None:
        async with connect(room.url(room.director)) as director:
            await hello(director)
            await until(director, "status", lambda s: s["captureFps"] > 20)  # settled
            await director.send(json.dumps({"type": "take", "action": "start"}))
            await until(director, "status", lambda s: s["take"]["rolling"])
            await frames(director, 10)
            await director.send(json.dumps({"type": "note", "text": "Lovely stillness"}))
            await director.send(json.dumps({"type": "marker", "label": "turn"}))
            first = await until(director, "note")
            second = await until(director, "note")
            assert [first["note"]["text"], second["note"]["text"]] == ["Lovely stillness", "turn"]
            assert first["file"] == second["file"] and first["file"].startswith("take-")
            await director.send(json.dumps({"type": "take", "action": "stop"}))
            ended = await until(director, "take", lambda m: m["take"].get("duration"))
            assert ended["take"]["file"] == first["file"] and ended["take"]["frames"] >= 5

    asyncio.run(go())
    (path,) = room.takes.glob("take-*.jsonl")
    take = read_take(path)
    assert len(take.poses) >= 5 and all(p is not None for p in take.poses)
    assert [(e["event"], e.get("text")) for e in take.events] == [
        ("note", "Lovely stillness"),
        ("marker", "turn"),
        ("end", None),
    ]
    end = take.events[-1]
    assert end["frames"] == len(take.poses)
    # The header's rate is the capture's measured one, close to what the take really holds.
    duration = take.poses[-1].t - take.poses[0].t  # type: ignore[union-attr]
    real = (len(take.poses) - 1) / duration
    assert abs(take.header["fps"] - real) / real < 0.3, (take.header["fps"], real)
    assert abs(end["fps"] - real) / real < 0.3, (end["fps"], real)
    assert take.header["scene"] == "noir-office"


def test_slow_oversize_and_vanishing_viewers_do_not_hold_up_the_room(room: ServedRoom) -> None:
    async def go() -> None:
        async with connect(room.url(room.director)) as steady:
            await hello(steady)
            # A viewer that never acknowledges: it gets at most 2 frames, then is dropped.
            stalled = await connect(room.url(room.observer))
            await hello(stalled)
            # A viewer that vanishes mid-stream, and one that sends an oversize message.
            vanishing = await connect(room.url(room.observer))
            await hello(vanishing)
            await frames(vanishing, 2)
            vanishing.transport.abort()
            oversize = await connect(room.url(room.observer))
            await hello(oversize)
            with pytest.raises(ConnectionClosed) as closed:
                await oversize.send("x" * 100_000)
                await frames(oversize, 50)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

            start = time.monotonic()
            headers = await frames(steady, 60)
            rate = 60 / (time.monotonic() - start)
            assert rate > 10, f"the steady viewer fell to {rate:.1f} fps"
            got = 0
            with pytest.raises(ConnectionClosed) as dropped:
                while True:
                    message = await asyncio.wait_for(stalled.recv(), 10)
                    got += isinstance(message, bytes)
            assert got <= 2 and dropped.value.rcvd is not None
            assert dropped.value.rcvd.code == 1008 and "stalled" in dropped.value.rcvd.reason
            assert headers[-1].frame > headers[0].frame

    asyncio.run(go())


def test_sigterm_closes_the_room_cleanly(own_room: ServedRoom) -> None:
    room = own_room

    async def go() -> float:
        # Viewers that never read: their buffers fill, and they would not answer a close.
        deaf = [await connect(room.url(room.observer), max_queue=1) for _ in range(3)]
        for ws in deaf:
            await ws.send(json.dumps({"type": "hello", "codecs": ["jpeg"]}))
        async with connect(room.url(room.director)) as director:
            await hello(director)
            await director.send(json.dumps({"type": "take", "action": "start"}))
            await until(director, "status", lambda s: s["take"]["rolling"])
            await frames(director, 3)
            room.process.send_signal(signal.SIGTERM)
            asked = time.monotonic()
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(director.recv(), 15)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        for ws in deaf:
            ws.transport.abort()
        return asked

    asked = asyncio.run(go())
    assert room.process.wait(timeout=20) == 0
    assert time.monotonic() - asked < 8, "deaf viewers must not hold the room's closing up"
    newest = max(room.takes.glob("take-*.jsonl"), key=lambda p: p.stat().st_mtime)
    assert len(read_take(newest).poses) >= 1


def _http(port: int, raw: bytes) -> bytes:
    """Send raw bytes, read until the server closes (or 3 s pass)."""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        s.sendall(raw)
        data = b""
        with contextlib.suppress(TimeoutError):
            while chunk := s.recv(65536):
                data += chunk
    return data


def test_http_is_get_and_head_only_and_pipelining_gets_one_clean_answer(room: ServedRoom) -> None:
    host = f"127.0.0.1:{room.port}".encode()
    for method in (b"POST", b"PUT", b"DELETE", b"OPTIONS"):
        answer = _http(room.port, method + b" / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 405"), answer[:80]
        assert b"Allow: GET, HEAD" in answer
    head = _http(room.port, b"HEAD / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
    headers, _, body = head.partition(b"\r\n\r\n")
    assert headers.startswith(b"HTTP/1.1 200") and body == b""
    assert b"Content-Length: 0" not in headers  # the length of what GET would send
    pipelined = _http(room.port, (b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n\r\n") * 2)
    assert pipelined.count(b"HTTP/1.1 200") == 1 and b"</html>" in pipelined
    for log in ("serve.log", "room.log"):  # the console, and the room's own log
        text = (room.takes.parent / log).read_text()
        assert "Traceback" not in text and "AssertionError" not in text, text[-2000:]


def test_origin_must_be_one_of_the_rooms_names_not_the_requests_own_host(room: ServedRoom) -> None:
    async def go() -> None:
        for good in (f"http://127.0.0.1:{room.port}", f"http://localhost:{room.port}"):
            async with connect(room.url(room.director), origin=good) as ws:  # type: ignore[arg-type]
                await hello(ws)

    asyncio.run(go())

    def upgrade(host: str, origin: str, extra: str = "") -> bytes:
        return _http(
            room.port,
            (
                f"GET /feed?token={room.director} HTTP/1.1\r\nHost: {host}\r\n"
                f"Origin: {origin}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                f"{extra}\r\n"
            ).encode(),
        )

    ours = f"127.0.0.1:{room.port}"
    assert upgrade(ours, f"http://{ours}").startswith(b"HTTP/1.1 101")
    # A DNS-rebinding page: its name resolves to this machine, so Host and Origin agree.
    rebound = f"evil.example:{room.port}"
    assert upgrade(rebound, f"http://{rebound}").startswith(b"HTTP/1.1 421")
    assert upgrade(ours, f"http://{rebound}").startswith(b"HTTP/1.1 403")
    assert upgrade(ours, f"http://{ours}", f"Host: {rebound}\r\n").startswith(b"HTTP/1.1 400")
    page = _http(room.port, f"GET / HTTP/1.1\r\nHost: {rebound}\r\n\r\n".encode())
    assert page.startswith(b"HTTP/1.1 421")


def test_a_viewer_can_only_choose_avatars_and_scenes_from_the_catalogue(
    room: ServedRoom, tmp_path: Path
) -> None:
    evil = tmp_path / "evil.vrm"
    evil.write_bytes(b"not an avatar")

    async def go() -> None:
        async with (
            connect(room.url(room.director)) as director,
            connect(room.url(room.observer)) as observer,
        ):
            await hello(director)
            await hello(observer)
            for name in ("../../../../" + str(evil.with_suffix(""))[1:], str(evil), "/etc/passwd"):
                for kind in ("avatar", "scene"):
                    await director.send(json.dumps({"type": kind, "name": name}))
                    error = await until(director, "error")
                    assert (
                        error["message"]
                        == f"no {'avatar' if kind == 'avatar' else 'scene pack'} {name!r} in this room's catalogue"
                    )
            # Nothing was loaded, and observers never heard a path.
            status = await until(observer, "status")
            assert status["avatar"] in ("detective", "captain")
            for _ in range(8):
                message = await asyncio.wait_for(observer.recv(), 10)
                assert not isinstance(message, str) or "evil" not in message

    asyncio.run(go())


def test_a_cue_without_a_headset_is_confirmed_recorded_and_says_where_it_went(
    room: ServedRoom,
) -> None:
    async def go() -> None:
        async with connect(room.url(room.director)) as director:
            await hello(director)
            await director.send(json.dumps({"type": "cue", "text": "Once more, to the window"}))
            cued = await until(director, "cued")
            assert cued["text"] == "Once more, to the window"
            assert "no headset" in cued["where"]
            noted = await until(director, "note", lambda m: m["note"]["kind"] == "cue")
            assert noted["note"]["text"] == "Once more, to the window"

    asyncio.run(go())


def test_a_room_without_a_casting_record_has_no_library_and_says_so(room: ServedRoom) -> None:
    async def go() -> None:
        async with connect(room.url(room.observer)) as observer:
            welcome = await hello(observer)
            assert welcome["room"]["library"] is False  # the page hides its library panel
            await observer.send(json.dumps({"type": "library", "query": "window"}))
            error = await until(observer, "error")
            assert error["message"] == (
                "library: this room has no casting record (serve it with --role and --actor, "
                "or --db)"
            )

    asyncio.run(go())


def test_a_room_without_a_casting_record_refuses_an_audition(room: ServedRoom) -> None:
    async def go() -> None:
        async with connect(room.url(room.director)) as director:
            await hello(director)
            await director.send(json.dumps({"type": "audition", "action": "choices"}))
            error = await until(director, "error")
            assert error["message"] == (
                "audition: this room has no casting record (serve it with --db)"
            )

    asyncio.run(go())

"""Replay in a served room (a real process, real sockets): a take of the room's source is
rolled; once the source has ended (the avatar holds still), a director replays the take: the
main avatar moves as it did, its voice reaches the director as the avatar's voice, a seek
jumps, a stop gives the avatar back to the live source; a replay is refused while a take rolls."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import connect

from capture.pose import Pose
from capture.take import TakeWriter
from capture.voice import read_voice
from immersion.feed.protocol import AudioSource
from tests.support import open_page, served_room
from tests.test_reader_room import Director, _args, _moved, waving_take

SOURCE_S = 4.0
ROLL_S = 2.5


class ReplayDirector(Director):
    """Keeps the avatar's voice (VOICE) too, with when it came."""

    def __init__(self, ws: Any) -> None:
        super().__init__(ws)
        self.voice: list[tuple[float, Any]] = []

    def heard(self, packet: Any) -> None:
        if packet.source is AudioSource.VOICE:
            self.voice.append((time.monotonic(), packet))


def test_a_rolled_take_replays_on_the_main_avatar_with_its_voice(tmp_path: Path) -> None:
    source = waving_take(tmp_path, SOURCE_S)

    async def go(room: Any) -> dict[str, Any]:
        async with connect(room.url(room.director), max_queue=None) as ws:
            welcome = json.loads(await ws.recv())
            await ws.send(json.dumps({"type": "hello", "codecs": ["jpeg"], "audio": True}))
            director = ReplayDirector(ws)
            listening = asyncio.create_task(director.run())
            await director.send(type="take", action="start")
            rolling = await director.until("status", lambda m: m["take"]["rolling"])
            # Refused while a take rolls, in one line.
            await director.send(type="replay", action="start", take="waving.jsonl")
            refused = (await director.until("error"))["message"]
            await asyncio.sleep(1.0)
            await director.send(type="marker", label="the turn")
            await asyncio.sleep(ROLL_S - 1.0)
            await director.send(type="take", action="stop")
            take = (await director.until("take", lambda m: "duration" in m["take"]))["take"]
            await director.until("status", lambda m: m["source"] == "ended", SOURCE_S + 10)
            await asyncio.sleep(0.5)
            still = await director.picture_after(time.monotonic())
            await director.send(type="replay", action="start", take=take["file"])
            playing = await director.until(
                "status", lambda m: m.get("replay", {}).get("state") == "playing", 20
            )
            started = time.monotonic()
            await asyncio.sleep(1.5)
            moving = director.pictures_between(started + 0.3, time.monotonic())
            heard = [p for at, p in director.voice if at >= started]
            # Another avatar during the replay: it performs the take on.
            other = next(a for a in welcome["room"]["avatars"] if a != playing["avatar"])
            await director.send(type="avatar", name=other)
            switched = await director.until("status", lambda m: m["avatar"] == other, 20)
            # Seek while paused: the arm up (a quarter of its wave), then down (three quarters).
            await director.send(type="replay", action="pause")
            await director.until("status", lambda m: m["replay"]["state"] == "paused")
            shown = []
            for position in (0.25, 0.75):
                await director.send(type="replay", action="seek", position=position)
                await director.until(
                    "status", lambda m, p=position: abs(m["replay"]["t"] - p) < 0.01
                )
                await asyncio.sleep(0.4)
                shown.append(await director.picture_after(time.monotonic()))
            await director.send(type="replay", action="stop")
            await director.until("status", lambda m: m["replay"] == {"state": "stopped"})
            await director.send(type="avatar", name=playing["avatar"])  # the first one again
            await director.until("status", lambda m: m["avatar"] == playing["avatar"], 20)
            await asyncio.sleep(0.5)
            back = await director.picture_after(time.monotonic())
            listening.cancel()
            return dict(refused=refused, rolling=rolling["take"]["file"], take=take,
                        still=still, playing=playing["replay"], moving=moving, heard=heard,
                        shown=shown, back=back, switched=switched["replay"])  # fmt: skip

    with served_room(tmp_path, _args(source)) as room:
        got = asyncio.run(go(room))
        recorded = {
            p for _, p in read_voice(room.takes / Path(got["take"]["file"]).with_suffix(".opus"))
            .packets
        }  # fmt: skip
    assert (
        got["refused"] == "a take is rolling: stop it before a replay (a replay is never recorded)"
    )
    replay = got["playing"]
    assert replay["take"] == got["take"]["file"] and replay["duration"] > ROLL_S - 0.5
    # The marker set while it rolled, on the replay's timeline, about a second in.
    [mark] = replay["marks"]
    assert mark["kind"] == "marker" and mark["text"] == "the turn" and 0.8 < mark["t"] < 2.0
    # The main avatar moves as the take did (the live source has ended and holds still).
    still, moving = got["still"], got["moving"]
    assert len(moving) >= 3, len(moving)
    assert max(int(_moved(still, p).sum()) for p in moving) > 30
    # Its voice is the take's, as the avatar's voice, in order on the room clock.
    heard = got["heard"]
    assert len(heard) >= 40, len(heard)  # 1.5 s at 50 a second, less the start
    times = [p.capture_t for p in heard]
    assert times == sorted(times) and np.median(np.diff(times)) == pytest.approx(0.02, abs=1e-3)
    assert {p.opus for p in heard} <= recorded
    assert got["switched"]["state"] == "playing" and got["switched"]["take"] == replay["take"]
    # A seek jumps: the arm up, then down (on the other avatar).
    up, down = got["shown"]
    assert _moved(up, down).sum() > 30
    # Stopped: the live source has the avatar again (holding where it ended; the first avatar).
    assert _moved(still, got["back"]).sum() < 10


def test_the_directors_page_replays_a_take_on_its_timeline(tmp_path: Path, browser: Any) -> None:
    from playwright.sync_api import expect

    source = waving_take(tmp_path, 30.0)
    with served_room(tmp_path, _args(source)) as room:
        director = open_page(browser, room.page(room.director))
        observer = open_page(browser, room.page(room.observer))
        expect(director.locator("#role")).to_have_text("director")
        director.click("#take-start")
        expect(director.locator("#rolling")).to_be_visible()
        director.wait_for_timeout(800)
        director.click("#marker")
        director.wait_for_timeout(1200)
        director.click("#take-stop")
        take = director.locator("#takes > li").last
        expect(take).to_contain_text(" s")
        expect(observer.locator(".replay-take")).to_be_hidden()  # observers watch
        take.locator(".replay-take").click()
        for page in (director, observer):
            expect(page.locator("#replay-state")).to_contain_text("Replay: take-", timeout=15_000)
        tick = director.locator(".replay-tick")
        expect(tick).to_have_count(1)
        assert "marker: marker" in (tick.get_attribute("title") or "")
        director.click("#replay-play")
        expect(observer.locator("#replay-state")).to_contain_text("Replay paused")
        # A click three quarters along the bar seeks there.
        box = director.locator("#replay-bar").bounding_box()
        assert box is not None
        director.mouse.click(box["x"] + 0.75 * box["width"], box["y"] + box["height"] / 2)
        expect(director.locator("#replay-done")).to_have_attribute(
            "style", re.compile(r"width: 7[45]")
        )
        director.click("#replay-stop")
        expect(observer.locator("#replay-state")).to_have_text(
            "No replay: the avatar performs live."
        )
        assert director.errors == []


def test_the_rooms_replay_control_answers_in_one_line(tmp_path: Path) -> None:
    """The room's part without its threads: refusals, a start that plays at once on the main
    avatar, a take refused while it is on, the status's replay."""
    from immersion.config import RoomSettings
    from immersion.room.messages import SetReader, SplitTakes
    from immersion.room.room import Room
    from tests.support import perf_take

    takes = tmp_path / "takes"
    takes.mkdir()
    with TakeWriter(takes / "waving.jsonl", {"fps": 20.0}) as w:
        for k in range(20):
            w.write(k / 20, Pose.rest(k / 20, 1.0))
        w.write_event(0.5, "note", text="good")
    room = Room(RoomSettings(str(perf_take(tmp_path / "still.jsonl")), "noir-office", "detective",
                             takes_dir=takes))  # fmt: skip
    try:
        assert room.replay_control("rewind").result(1) == "replay: unknown action 'rewind'"
        assert room.replay_control("stop").result(1) == "the replay is stopped already"
        assert room.replay_control("seek", position=1.0).result(1) == (
            "the replay has no take to seek in; start one"
        )
        assert "never a path" in (room.replay_control("start", ("../x.jsonl",)).result(1) or "")
        assert room.replay_control("start", ("nothing.jsonl",)).result(10) == (
            "replay: replay take: 'nothing.jsonl' does not exist"
        )
        assert room.replay_control("start", ("waving.jsonl",), align=(1,)).result(10) == (
            "replay: take waving.jsonl has 1 mark(s); no mark 2 to align at"
        )
        assert room.replay_control("start", ()).result(1) == "replay: 1 to 4 takes, not 0"
        # A reader on the set leaves it when a replay starts: a replay shows its takes alone.
        assert room.reader_control("start", "waving.jsonl", "detective").result(10) is None
        assert room.reader.state == "loading"
        assert room.replay_control("start", ("waving.jsonl",)).result(10) is None
        assert room.replaying() and room.replay.state == "playing"
        assert room.reader.state == "stopped"
        assert room.reader_control("start", "waving.jsonl", "detective").result(1) == (
            "a replay is on: stop it before starting a reader"
        )
        replay = room.status().replay
        assert replay is not None and replay["take"] == "waving.jsonl"
        assert replay["marks"] == [{"t": 0.5, "kind": "note", "text": "good"}]
        assert room.take_start().result(1) == "a replay is on: stop it before rolling a take"
        assert room.replay_control("seek").result(1) == "replay: seek needs a position in seconds"
        assert room.replay_control("seek", position=0.5).result(1) is None
        assert room.replay_control("stop").result(1) is None
        assert not room.replaying() and room.status().replay == {"state": "stopped"}
        # Side by side: read and aligned, then waiting for the render thread (not running
        # here) to split the picture and stand the second strip's avatar.
        (takes / "again.jsonl").write_bytes((takes / "waving.jsonl").read_bytes())
        assert room.replay_control("start", ("waving.jsonl", "again.jsonl")).result(10) is None
        assert room.replay.state == "loading" and room.replay.count == 2
        due = room._commands.due(float("inf"))
        # The reader's avatar taken off the mark (it left when the first replay started).
        assert due == [SplitTakes(2, room.replay.generation), SetReader(None)]
        replay = room.status().replay
        assert replay is not None and [t["take"] for t in replay["takes"]] == [
            "waving.jsonl",
            "again.jsonl",
        ]
        assert room.replay_control("stop").result(1) is None
    finally:
        room.stop()


def test_side_by_side_splits_and_gives_one_view_back_and_deleted_takes_stop(
    tmp_path: Path,
) -> None:
    """The render thread splits the picture and stands the second strip's avatar before the
    takes play; after a stop it is one view again. A strip's avatar that does not load (its
    file spoiled since the room opened it) stops the replay and leaves one view, not a split
    with half its avatars."""
    import shutil

    from immersion.catalogue import find_avatar
    from immersion.config import RoomSettings
    from immersion.room.room import Room
    from tests.support import perf_take

    takes = tmp_path / "takes"
    takes.mkdir()
    for name in ("a.jsonl", "b.jsonl"):
        perf_take(takes / name)
    avatar = tmp_path / "own.vrm"
    shutil.copyfile(find_avatar("detective"), avatar)
    settings = RoomSettings(
        str(perf_take(tmp_path / "still.jsonl")), "noir-office", str(avatar), takes_dir=takes,
        width=320, height=180,
    )  # fmt: skip
    room = Room(settings)
    stamps: list[int | None] = []  # each picture's replay start (None: live)
    room.set_picture_sink(lambda picture: stamps.append(picture.replay))
    room.start()

    def strips() -> int:
        return room.render.snapshot.strips

    def wait(condition: Any, seconds: float = 30.0) -> None:
        end = time.monotonic() + seconds
        while not condition() and time.monotonic() < end:
            time.sleep(0.02)
        assert condition()

    try:
        wait(lambda: room.render.snapshot.frame > 0, 60.0)
        assert room.replay_control("start", ("a.jsonl", "b.jsonl")).result(30) is None
        wait(lambda: room.replay.state == "playing" and strips() == 2)
        status = room.status().replay
        assert status is not None and status["strips"] == 2
        # Each picture says which replay start it shows (what a presentation's guest may see).
        assert stamps[0] is None  # the live room
        shown = room.replay_shown()
        assert shown is not None
        wait(lambda: stamps[-1] == shown)
        assert room.replay_control("stop").result(5) is None
        wait(lambda: strips() == 1)
        wait(lambda: stamps[-1] is None)
        assert room.replay_shown() is None

        avatar.write_bytes(b"not a model any more")
        assert room.replay_control("start", ("a.jsonl", "b.jsonl")).result(30) is None
        wait(lambda: room.replay.state == "stopped")
        time.sleep(0.3)
        assert strips() == 1 and room.render.snapshot.frame > 0

        # A take deleted from outside the room (another process) stops playing and leaves
        # the room's memory within a sweep.
        assert room.replay_control("start", ("a.jsonl",)).result(30) is None
        assert any(path.name == "a.jsonl" for path, _, _ in room._played._kept)
        (takes / "a.jsonl").unlink()
        wait(lambda: room.replay.state == "stopped", 10.0)
        assert all(path.name != "a.jsonl" for path, _, _ in room._played._kept)
    finally:
        room.stop()

"""The headset, against a real OpenXR runtime: Monado (built at set-up) with a simulated HMD.

No headset is attached to these machines; Monado's simulated HMD and null compositor stand in
for one. Everything else is real: the OpenXR loader, Monado's session and swapchains, Khronos'
core validation layer (its errors fail the test), Panda3D's own GL context shared with the
runtime over EGL, and the room's ``serve --headset`` process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from capture.cache import cache_dir
from tests.support import ROOT, frames, hello, perf_take, served_room, until

SIDES = "# INT. OFFICE - NIGHT\n**MARLOWE**: You're late.\nVIVIAN: I'm never late.\nMARLOWE: Then I'm early."
RUNTIME = cache_dir() / "monado-25.0.0" / "build" / "openxr_monado-dev.json"


def monado_env(**more: str) -> dict[str, str]:
    assert RUNTIME.is_file(), f"{RUNTIME} is missing; run ./dev setup"
    return {
        **os.environ,
        "XR_RUNTIME_JSON": str(RUNTIME),
        "XRT_COMPOSITOR_NULL": "1",
        "XR_ENABLE_API_LAYERS": "XR_APILAYER_LUNARG_core_validation",
        "PYTHONWARNINGS": "ignore",
        **more,
    }


def probe(pack: str, *args: str, **env: str) -> tuple[dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.headset_probe", pack, *args],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=monado_env(**env),
    )  # fmt: skip
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]  # a crash at exit shows here
    assert "VALID_ERROR" not in log, log[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), log


@pytest.fixture(scope="module")
def noir(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("eyes")
    report, log = probe("noir-office", "--seconds", "2.5", "--save", str(out))
    assert "Core Validation Layer is initialized" in log  # the layer was really on
    return report, out


def test_the_session_runs_its_whole_lifecycle_and_exits_cleanly(noir: Any) -> None:
    report, _ = noir
    assert report["system"] == "Monado: Simulated HMD"
    assert report["binding"] == "egl" and report["space"] == "STAGE"
    # READY..FOCUSED come and go within the first frames; what matters is that they came,
    # and that request-exit then ran the session down through STOPPING to EXITING.
    for state in ("READY", "SYNCHRONIZED", "VISIBLE", "FOCUSED", "STOPPING", "IDLE", "EXITING"):
        assert state in report["states"], report["states"]
    assert len(report["eyeMeans"]) >= 10  # frames were drawn (Monado paces at ~20 Hz)


def test_both_eyes_swapchain_images_hold_the_set(noir: Any) -> None:
    report, out = noir
    # Read back from the runtime's own images, they match an ordinary offscreen render of
    # the same camera, and they are a picture, not a clear colour.
    assert max(report["diffToReference"]) < 1.0, report["diffToReference"][:5]
    assert min(std for pair in report["eyeStd"] for std in pair) > 5  # a clear colour is 0
    assert min(mean for pair in report["eyeMeans"] for mean in pair) > 10
    # Two eyes 63 mm apart see slightly different pictures of the same set.
    left, right = (np.asarray(_png(out / f"eye-{s}.png"), np.float64) for s in ("left", "right"))
    assert 1.0 < np.abs(left - right).mean() < 40
    assert left.shape == right.shape == (240, 320, 3)


def test_eye_separation_and_head_height_come_from_the_runtime(noir: Any) -> None:
    report, _ = noir
    ipd = np.array(report["ipd"])
    height = np.array(report["eyeHeight"])
    assert np.all((ipd > 0.05) & (ipd < 0.08)), ipd  # Monado's simulated IPD is 63 mm
    # The simulated head wobbles around 1.6 m above the STAGE floor: ranges, not poses.
    assert np.all((height > 1.4) & (height < 1.8)), height
    assert height.std() > 1e-4  # it is really tracked, not a constant


def _png(path: Path) -> Any:
    from PIL import Image

    return Image.open(path).convert("RGB")


# Monado's remote driver: an HMD and two Index controllers whose state, buttons included, a
# client writes over a loopback socket as C structs (drivers/remote/r_interface.h, 25.0.0).
REMOTE_DATA_SIZE = 376  # header 8 + head 128 + two controllers of 120
RIGHT_CONTROLLER = 8 + 128 + 120
A_CLICK = 108  # within a controller: pose..trackpad are 104 bytes, then bools; a_click is 5th
THUMBSTICK_Y = 88  # within a controller: pose 28, velocities 24, curls 20, three values 12


def _remote_config(tmp: Path) -> dict[str, str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp / "xdg" / "monado" / "config_v0.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"remote": {"version": 0, "port": port, "view_count": 2}}))
    return {
        "XDG_CONFIG_HOME": str(tmp / "xdg"),
        "P_OVERRIDE_ACTIVE_CONFIG": "remote",
        "REMOTE_PORT": str(port),  # ours, for the test; Monado reads the config file
        "XR_CORE_VALIDATION_EXPORT_TYPE": "text",
        "XR_CORE_VALIDATION_FILE_NAME": str(tmp / "validation.txt"),
    }


def _press_a_on_the_right_controller(port: int) -> None:
    import socket
    import time

    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        data = b""
        while len(data) < 2 * REMOTE_DATA_SIZE:  # the hub sends its reset and latest states
            data += conn.recv(2 * REMOTE_DATA_SIZE - len(data))
        latest = bytearray(data[REMOTE_DATA_SIZE:])
        pressed = bytearray(latest)
        pressed[RIGHT_CONTROLLER + A_CLICK] = 1
        conn.sendall(bytes(pressed))
        time.sleep(0.6)  # held for a dozen frames at 20 Hz
        conn.sendall(bytes(latest))
        time.sleep(0.3)


def _hold_the_right_thumbstick_down(port: int, release: threading.Event) -> None:
    """Down, held until ``release`` (the room reads the stick only on the frames it syncs
    actions, so a fixed hold could fall between two slow frames), then back."""
    import socket
    import struct

    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        data = b""
        while len(data) < 2 * REMOTE_DATA_SIZE:
            data += conn.recv(2 * REMOTE_DATA_SIZE - len(data))
        latest = bytearray(data[REMOTE_DATA_SIZE:])
        pushed = bytearray(latest)
        struct.pack_into("<f", pushed, RIGHT_CONTROLLER + THUMBSTICK_Y, -1.0)
        conn.sendall(bytes(pushed))
        release.wait(30)
        conn.sendall(bytes(latest))
        time.sleep(0.3)


def test_serve_headset_shows_the_set_keeps_the_mirror_and_hears_the_controllers(
    tmp_path: Path,
) -> None:
    import asyncio
    import signal

    from websockets.asyncio.client import connect

    from capture.take import read_take

    take = perf_take(tmp_path / "perf.jsonl")
    env = monado_env(**_remote_config(tmp_path))
    args = ["--headset", "--source", str(take), "--size", "320x180", "--fps", "20"]

    async def go(room: Any) -> None:
        async with connect(room.url(room.director), origin=None) as ws:
            await hello(ws)
            status = await until(
                ws, "status", lambda s: s.get("headset", {}).get("state") == "FOCUSED"
            )
            assert status["headset"]["system"].startswith("Monado"), status["headset"]
            # The mirror keeps going while the headset runs: frames keep coming.
            headers = await frames(ws, 10)
            assert headers[-1].frame > headers[0].frame
            await ws.send(json.dumps({"type": "take", "action": "start"}))
            # The tally camera's lamp follows the recorder: lit while the take rolls.
            await until(ws, "status", lambda s: s["headset"].get("tallyLit") is True)
            await ws.send(json.dumps({"type": "cue", "text": "From the top, softer"}))
            cued = await until(ws, "cued")
            assert cued["where"] == "shown in the actor's headset", cued
            await asyncio.to_thread(_press_a_on_the_right_controller, int(env["REMOTE_PORT"]))
            pressed = await until(ws, "note", lambda m: m["note"]["kind"] == "actor")
            note = pressed["note"]
            assert note["text"] == "ready" and "takeT" in note
            # Sides: on the headset's teleprompter, and the actor's thumbstick scrolls them
            # through the room, which tells every viewer.
            await ws.send(json.dumps({"type": "sides", "text": SIDES}))
            shown = await until(ws, "sides")
            assert (shown["text"], shown["line"]) == (SIDES, 0)
            await until(ws, "status", lambda s: s["headset"].get("sidesLine") == 0)
            release = threading.Event()
            holding = asyncio.create_task(
                asyncio.to_thread(_hold_the_right_thumbstick_down, int(env["REMOTE_PORT"]), release)
            )
            try:
                scrolled = await until(ws, "sides")
            finally:
                release.set()
                await holding
            assert scrolled["line"] == 1, scrolled  # the push's first line (its repeats: pure test)
            await until(ws, "status", lambda s: (s["headset"].get("sidesLine") or 0) >= 1)
            busy = await until(ws, "status", lambda s: s["headset"].get("fps", 0) > 5)
            assert busy["renderFps"] > 5  # the mirror, while the headset runs at Monado's pace
            await ws.send(json.dumps({"type": "take", "action": "stop"}))
            await until(ws, "take", lambda t: "duration" in t["take"])
            await until(ws, "status", lambda s: s["headset"].get("tallyLit") is False)

    with served_room(
        tmp_path, args, **{k: v for k, v in env.items() if k not in os.environ}
    ) as room:
        asyncio.run(go(room))
        room.process.send_signal(signal.SIGTERM)
        assert room.process.wait(30) == 0, (tmp_path / "serve.log").read_text()[-3000:]
    log = (tmp_path / "serve.log").read_text()
    validation = (tmp_path / "validation.txt").read_text()
    assert "Core Validation Layer is initialized" in validation
    assert "VALID_ERROR" not in validation + log, validation[-3000:]
    files = sorted((tmp_path / "takes").glob("take-*.jsonl"))
    events = read_take(files[-1]).events
    assert [e["text"] for e in events if e["event"] == "actor"] == ["ready"], events
    assert [e["text"] for e in events if e["event"] == "cue"] == ["From the top, softer"]


def test_without_a_runtime_serve_headset_says_so_once_and_the_room_runs(tmp_path: Path) -> None:
    import asyncio

    from websockets.asyncio.client import connect

    take = perf_take(tmp_path / "perf.jsonl")
    missing = str(tmp_path / "no-runtime.json")
    args = ["--headset", "--source", str(take), "--size", "320x180", "--fps", "20"]

    async def go(room: Any) -> None:
        async with connect(room.url(room.director), origin=None) as ws:
            await hello(ws)
            status = await until(ws, "status", lambda s: s["headset"]["state"] != "off")
            assert status["headset"]["state"] == "unavailable", status["headset"]
            assert len(await frames(ws, 5)) == 5  # the room plays on

    with served_room(tmp_path, args, XR_RUNTIME_JSON=missing) as room:
        asyncio.run(go(room))
        deadline = time.monotonic() + 5  # the room reports its errors twice a second
        while (
            "no OpenXR" not in (tmp_path / "serve.log").read_text() and time.monotonic() < deadline
        ):
            time.sleep(0.1)
    log = (tmp_path / "serve.log").read_text()
    lines = [  # (a machine without sound says so of talkback too: another matter)
        line
        for line in log.splitlines()
        if ("headset" in line.lower() or "openxr" in line.lower()) and "talkback" not in line
    ]
    assert len(lines) == 1, lines
    assert "no OpenXR runtime" in lines[0] and missing in lines[0], lines
    assert "the room runs without it" in lines[0] and "Traceback" not in log

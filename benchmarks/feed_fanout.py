"""Mirror-feed benchmarks: glass-to-glass latency in a real browser, and fan-out to many viewers.

    .venv/bin/python benchmarks/feed_fanout.py [--seconds S] [--viewers 1,10,50]
                                               [--size WxH] [--codecs h264,jpeg]

The room is `immersion serve` as users run it, in its own process, on a take captured from
the demo clip (so MediaPipe's cost is not in these figures; the capture benchmark has it).

* Latency: Debian's chromium (headless, Playwright) opens the casting page; the page measures
  render done → drawn on its canvas against the room clock. Median and p95, per codec (JPEG by
  hiding WebCodecs from the page, as on a browser without it).
* Fan-out: N websocket viewers in a second process each read, decode the header of and
  acknowledge every frame. Per viewer: frames a second and bandwidth; for the room process:
  CPU (100% = one core) over the same seconds.

Targets on the 2-core CPU machine: latency median <= 60 ms; 50 viewers at >= 25 fps each; the
CPU that viewers 2 → 50 add is less than one extra encode.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from _table import print_table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support import CHROMIUM, CHROMIUM_ARGS, ServedRoom, served_room  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def room(take: Path, size: str, tmp: Path) -> AbstractContextManager[ServedRoom]:
    """`immersion serve` on ``take``, as the tests start it (its log: tmp/serve.log)."""
    return served_room(tmp, ["--source", str(take), "--size", size])


def cpu_seconds(stat: Path) -> float:
    """User + system CPU seconds of a process (/proc/PID/stat) or thread (.../task/TID/stat)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def latency(take: Path, size: str, codec: str, seconds: float, tmp: Path) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with room(take, size, tmp) as served, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        if codec == "jpeg":
            context.add_init_script("delete window.VideoDecoder;")
        page = context.new_page()
        page.goto(served.page(served.director))
        page.wait_for_timeout(3000)  # connect, first keyframe, clock offset settles
        start = page.evaluate("window.immersion.latencies().length")
        drawn0 = page.evaluate("window.immersion.framesDrawn()")
        page.wait_for_timeout(seconds * 1000)
        samples = page.evaluate("window.immersion.latencies()")[start:]
        drawn = page.evaluate("window.immersion.framesDrawn()") - drawn0
        shown = page.inner_text("#codec").lower()
        browser.close()
    assert shown == codec, f"the page drew {shown}, not {codec}"
    samples.sort()
    return {
        "median": statistics.median(samples),
        "p95": samples[int(0.95 * (len(samples) - 1))],
        "fps": drawn / seconds,
    }


def fanout(
    take: Path, size: str, codec: str, viewers: int, seconds: float, tmp: Path
) -> dict[str, Any]:
    with room(take, size, tmp) as served:
        process, feed = served.process, served.url(served.observer)
        clients = subprocess.Popen(
            [sys.executable, __file__, "--client", feed, str(viewers), codec, str(seconds)],
            stdout=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        # The room's whole process, its main thread (the asyncio loop: every socket, every
        # viewer's task, the status) and the viewers' process, over the same window.
        stats = {
            "room_cpu": Path(f"/proc/{process.pid}/stat"),
            "feed_cpu": Path(f"/proc/{process.pid}/task/{process.pid}/stat"),
            "viewers_cpu": Path(f"/proc/{clients.pid}/stat"),
        }
        time.sleep(2.0)  # the clients connect and warm up before the window opens
        before, t0 = {k: cpu_seconds(p) for k, p in stats.items()}, time.monotonic()
        time.sleep(seconds)
        after, elapsed = {k: cpu_seconds(p) for k, p in stats.items()}, time.monotonic() - t0
        out, _ = clients.communicate(timeout=60)
    result: dict[str, Any] = json.loads(out)
    result.update({k: (after[k] - before[k]) / elapsed for k in stats})
    return result


async def clients(url: str, count: int, codec: str, seconds: float) -> dict[str, Any]:
    """``count`` viewers that read and acknowledge every frame; counted after a 2 s warm-up."""
    from websockets.asyncio.client import connect

    from immersion.feed.protocol import decode_video

    frames = [0] * count
    sizes = [0] * count
    status: dict[str, Any] = {}
    start_at = time.monotonic() + 2.0

    async def viewer(k: int) -> None:
        async with connect(url, max_size=None, compression=None) as ws:
            await ws.recv()  # welcome
            await ws.send(json.dumps({"type": "hello", "codecs": [codec]}))
            async for message in ws:
                if isinstance(message, bytes):
                    header, _ = decode_video(message)
                    await ws.send(json.dumps({"type": "ack", "frame": header.frame}))
                    if start_at <= time.monotonic() < start_at + seconds:
                        frames[k] += 1
                        sizes[k] += len(message)
                elif k == 0:
                    data = json.loads(message)
                    if data["type"] == "status":
                        status.update(data)

    tasks = [asyncio.create_task(viewer(k)) for k in range(count)]
    await asyncio.sleep(2.0 + seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "fps": [f / seconds for f in frames],
        "bytes_per_s": [b / seconds for b in sizes],
        "encode_ms": status.get("latencyMs", {}).get("encode"),
        "render_fps": status.get("renderFps"),
    }


def capture_demo(tmp: Path) -> Path:
    take = tmp / "demo.jsonl"
    subprocess.run(
        [sys.executable, "-m", "immersion", "capture", "demo", "--out", str(take), "--quiet"],
        check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return take


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "--client":
        url, count, codec, seconds = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
        print(json.dumps(asyncio.run(clients(url, count, codec, float(seconds)))))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per row")
    parser.add_argument("--viewers", default="1,2,10,50", help="fan-out sizes, comma-separated")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--codecs", default="h264,jpeg")
    args = parser.parse_args()
    codecs = args.codecs.split(",")
    counts = [int(n) for n in args.viewers.split(",")]

    with tempfile.TemporaryDirectory(prefix="immersion-feed-bench-") as folder:
        tmp = Path(folder)
        print("capturing the demo clip into a take…", file=sys.stderr)
        take = capture_demo(tmp)
        rows = []
        for codec in codecs:
            print(f"latency in chromium, {codec}…", file=sys.stderr)
            r = latency(take, args.size, codec, args.seconds, tmp)
            rows.append([codec, f"{r['median']:.1f}", f"{r['p95']:.1f}", f"{r['fps']:.1f}"])
        print_table(
            f"Glass to glass at {args.size}: render done → drawn in chromium (ms)",
            ["codec", "median", "p95", "drawn fps"],
            rows,
        )
        rows = []
        feed_cpu: dict[tuple[str, int], float] = {}
        encode: dict[str, float] = {}
        for codec in codecs:
            for n in counts:
                print(f"fan-out, {codec}, {n} viewers…", file=sys.stderr)
                r = fanout(take, args.size, codec, n, args.seconds, tmp)
                feed_cpu[codec, n] = r["feed_cpu"]
                encode[codec] = r["encode_ms"] or 0.0
                rows.append(
                    [
                        codec, n, f"{min(r['fps']):.1f}", f"{statistics.median(r['fps']):.1f}",
                        f"{statistics.median(r['bytes_per_s']) * 8 / 1e6:.2f}",
                        f"{r['room_cpu'] * 100:.0f}%", f"{r['feed_cpu'] * 100:.1f}%",
                        f"{r['viewers_cpu'] * 100:.0f}%", f"{r['render_fps']}",
                        f"{r['encode_ms']}",
                    ]
                )  # fmt: skip
        print_table(
            f"Fan-out at {args.size} (CPU: 100% = one core; feed = the room's asyncio thread)",
            ["codec", "viewers", "min fps", "median fps", "Mbit/s each", "room CPU", "feed CPU",
             "viewers' CPU", "render fps", "encode ms"],
            rows,
        )  # fmt: skip
        if 2 in counts and 50 in counts:
            rows = []
            for codec in codecs:
                added = (feed_cpu[codec, 50] - feed_cpu[codec, 2]) * 100
                one_encode = encode[codec] * 30 / 1000 * 100  # at 30 fps
                rows.append(
                    [
                        codec,
                        f"{added:.1f}%",
                        f"{one_encode:.1f}%",
                        "yes" if added < one_encode else "no",
                    ]
                )
            print_table(
                "Feed CPU that viewers 2 → 50 add, against one more encode at 30 fps",
                ["codec", "2 → 50 viewers", "one encode", "less"],
                rows,
            )


if __name__ == "__main__":
    main()

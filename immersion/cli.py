"""The ``immersion`` command line."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from capture.cache import demo_clip, models_dir
from capture.errors import CaptureError
from capture.models import MODEL_NAMES

DESCRIPTION = """\
Immersion: an audition room in a virtual set. A camera captures the actor's body,
MediaPipe turns it into a pose, and the pose drives a CGI avatar.

commands:
  capture   turn a video, camera, image folder or landmarks file into a pose take
  models    build or check the pose model bundles (done by ./dev setup)
"""

CAPTURE_HELP = """\
Capture an actor's body: estimate world landmarks with MediaPipe's PoseLandmarker, smooth
them with a One Euro filter and retarget them onto a VRM 1.0 humanoid skeleton.

SOURCE is one of:
  demo                the bundled demo clip (people walking), the default
  PATH.mp4/.mov/...   a video file
  0, 1, ...           a webcam, by OpenCV device index
  FOLDER              a folder of images, in name order (see --fps)
  PATH.jsonl          recorded landmarks: a take written with --landmarks
  PATH.npy            recorded landmarks, an array (T, 33, 3|4) (needs --fps)

A take (--out) is JSON lines: a header, then one line per frame with the hips translation,
each bone's local rotation [x, y, z, w] and its confidence. It is appended and flushed per
frame, so a capture stopped at any point leaves a readable take.

examples:
  immersion capture                          # the demo clip, live readout
  immersion capture 0 --out takes/actor.jsonl --landmarks
  immersion capture takes/actor.jsonl --out takes/actor-smooth.jsonl
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    # SIGTERM ends a capture the way Ctrl-C does: the take is closed and stays readable.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        code: int = args.run(args)
        return code
    except CaptureError as exc:
        print(f"immersion: error: {exc}", file=sys.stderr)
        return 1


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="immersion",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    cap = sub.add_parser(
        "capture",
        help="capture a pose take",
        description=CAPTURE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cap.add_argument(
        "source",
        nargs="?",
        default="demo",
        metavar="SOURCE",
        help="what to capture (default: demo)",
    )
    cap.add_argument(
        "--model",
        choices=MODEL_NAMES,
        default="lite",
        help="pose model: lite is fastest, heavy most accurate (default: lite)",
    )
    cap.add_argument(
        "--out", type=Path, metavar="TAKE", help="write a take file (JSON lines); never overwrites"
    )
    cap.add_argument(
        "--landmarks",
        action="store_true",
        help="also store raw world landmarks in the take, so it can be retargeted again",
    )
    cap.add_argument(
        "--no-smoothing",
        dest="smoothing",
        action="store_false",
        help="turn the One Euro filter off",
    )
    cap.add_argument(
        "--min-cutoff",
        type=_positive,
        default=1.0,
        metavar="HZ",
        help="One Euro cutoff at rest, Hz (default: 1.0)",
    )
    cap.add_argument(
        "--beta",
        type=_non_negative,
        default=6.0,
        metavar="PER_M",
        help="One Euro speed coefficient, Hz per m/s (default: 6.0)",
    )
    cap.add_argument(
        "--fps", type=_positive, metavar="FPS", help="frame rate of an image folder or .npy file"
    )
    cap.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    cap.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    cap.set_defaults(run=_run_capture)

    models = sub.add_parser(
        "models",
        help="build or check the pose model bundles",
        description="Pose model bundles, kept in " + str(models_dir()),
    )
    msub = models.add_subparsers(title="actions", metavar="ACTION")
    build = msub.add_parser(
        "build",
        help="build the lite/full/heavy bundles from the @mediapipe/pose npm package",
        description="Build the bundles (npm pack, add TFLite metadata, zip) and check that each loads.",
    )
    build.add_argument(
        "--from",
        dest="tarball",
        type=Path,
        metavar="TGZ",
        help="an already packed @mediapipe/pose tarball",
    )
    build.set_defaults(run=_run_models_build)
    verify = msub.add_parser(
        "verify",
        help="check that each bundle loads in PoseLandmarker",
        description="Load each bundle once in PoseLandmarker.",
    )
    verify.set_defaults(run=_run_models_verify)

    def models_help(args: argparse.Namespace) -> int:
        models.print_help()
        return 2

    models.set_defaults(run=models_help)
    return parser


def _positive(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _non_negative(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def _run_capture(args: argparse.Namespace) -> int:
    from immersion.capture_cmd import run_capture

    source = str(demo_clip()) if args.source == "demo" else args.source
    if args.source == "demo" and not demo_clip().is_file():
        raise CaptureError(f"demo clip {demo_clip()} not found; run `./dev setup`")
    return run_capture(args, source)


def _run_models_build(args: argparse.Namespace) -> int:
    from capture.models import build_bundles, verify_bundle

    for path in build_bundles(npm_tarball=args.tarball):
        verify_bundle(path)
        print(f"built and verified {path}")
    return 0


def _run_models_verify(args: argparse.Namespace) -> int:
    from capture.models import bundle_path, verify_bundle

    for model in MODEL_NAMES:
        path = bundle_path(model)
        verify_bundle(path)
        print(f"ok {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

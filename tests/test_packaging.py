"""A wheel, installed into a fresh virtualenv outside the checkout, runs with the shipped packs
and avatars: they are package data (immersion._shipped), not files beside the source tree."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.support import ROOT

pytestmark = [pytest.mark.model, pytest.mark.fixtures]

# What the build reads; copied so that building leaves nothing (build/, *.egg-info) in the checkout.
_SOURCES = ["pyproject.toml", "setup.py", "README.md", "immersion", "capture", "scenes", "assets"]
SHIPPED_PACKS = sorted(p.parent.name for p in (ROOT / "scenes").glob("*/scene.toml"))
SHIPPED_AVATARS = sorted(p.stem for p in (ROOT / "assets" / "avatars").glob("*.vrm"))


@dataclass
class Installed:
    venv: Path
    cwd: Path  # a folder outside the checkout
    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, capture_output=True, text=True, timeout=60, cwd=self.cwd, env=self.env
        )


def _build_wheel(tmp: Path) -> Path:
    source = tmp / "source"
    source.mkdir()
    for name in _SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(ROOT / name, source / name)
    # Offline, with the dev venv's setuptools (pinned in .[dev]; an older one cannot build it).
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "--no-deps",
         "--no-build-isolation", "--no-index", "-w", str(tmp / "dist"), str(source)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert built.returncode == 0, f"{built.stderr}\n(an old setuptools? run ./dev setup test)"
    (wheel,) = (tmp / "dist").glob("immersion-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel in a fresh venv; the dev venv's installed packages (the runtime dependencies)
    are reached through a plain path in a .pth file, so the dev venv's own .pth files (its
    editable install of this checkout among them) are never processed."""
    tmp = tmp_path_factory.mktemp("packaging")
    wheel = _build_wheel(tmp)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
         "--disable-pip-version-check", "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    dev_site = sorted({p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()})
    (Path(purelib) / "dev-venv-packages.pth").write_text("".join(f"{p}\n" for p in dev_site))
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "IMMERSION_SCENES"}}
    cwd = tmp / "elsewhere"
    cwd.mkdir()
    return Installed(venv, cwd, {**env, "PYTHONWARNINGS": "ignore"})


def test_the_wheel_carries_the_packs_and_avatars(installed: Installed) -> None:
    done = installed.run(
        str(installed.venv / "bin" / "python"), "-c",
        "import immersion; from immersion.catalogue import scenes_dir, avatars_dir\n"
        "print(immersion.__file__); print(scenes_dir()); print(avatars_dir())",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    module, scenes, avatars = map(Path, done.stdout.split("\n")[:3])
    # Imported from the fresh venv, not the checkout or the dev venv's editable install.
    assert module.is_relative_to(installed.venv), module
    assert scenes.is_relative_to(installed.venv) and avatars.is_relative_to(installed.venv)
    assert not module.is_relative_to(ROOT)


def test_scenes_list_names_the_shipped_packs(installed: Installed) -> None:
    assert len(SHIPPED_PACKS) == 4
    done = installed.run(str(installed.venv / "bin" / "immersion"), "scenes", "list")
    assert done.returncode == 0, done.stderr
    listed = sorted(re.findall(r"^(\S+)\s", done.stdout, re.MULTILINE))
    assert listed == SHIPPED_PACKS, done.stdout


@pytest.fixture
def serving(installed: Installed) -> Iterator[tuple[subprocess.Popen[str], str]]:
    log = installed.cwd / "serve.log"
    with log.open("w") as err:
        process = subprocess.Popen(
            [installed.venv / "bin" / "immersion", "serve", "--port", "0", "--size", "320x180"],
            stdout=subprocess.PIPE, stderr=err, text=True, cwd=installed.cwd, env=installed.env,
        )  # fmt: skip
    assert process.stdout is not None
    try:
        lines = [process.stdout.readline() for _ in range(2)]
        link = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=(\S+)", lines[1])
        assert link, (lines, log.read_text())
        yield process, f"ws://127.0.0.1:{link[1]}/feed?token={link[2]}"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()


def test_serve_offers_the_shipped_packs_and_avatars(
    serving: tuple[subprocess.Popen[str], str],
) -> None:
    process, url = serving
    with connect(url, open_timeout=10) as ws:
        welcome = json.loads(ws.recv(timeout=10))
    assert welcome["type"] == "welcome"
    assert welcome["room"]["scenes"] == SHIPPED_PACKS
    assert welcome["room"]["avatars"] == SHIPPED_AVATARS
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0


def test_the_wheel_carries_the_casting_records_migrations(installed: Installed) -> None:
    db = installed.cwd / "casting.db"
    python = str(installed.venv / "bin" / "python")
    done = installed.run(
        python, "-m", "immersion", "casting", "productions", "add", "Hamlet", "--json",
        "--db", str(db),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["name"] == "Hamlet" and db.is_file()

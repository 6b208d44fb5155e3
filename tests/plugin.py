"""Suite-wide test machinery (loaded by conftest): the ``pure`` tier's guard, and test order.

**pure**: a test that needs no Panda3D engine, no model, no video or other set-up data, no
subprocess, no browser and no socket, so ``./dev test -m pure`` is a loop of seconds. The promise
is kept, not just stated: in a pure test, starting a process, opening a socket, starting
Panda3D's ShowBase or importing mediapipe or playwright fails, the set-up's cache
($IMMERSION_CACHE: models, clips, Monado) and the avatars' folder (the cast is built there
at set-up) point nowhere, and a pure test that asks for one of
the set-up's data fixtures or carries the ``model``/``fixtures`` marker is an error.

**Order**: ``IMMERSION_TEST_ORDER=reverse`` runs the modules, and the tests in each, in reverse;
``random`` or ``random:SEED`` shuffles both (the seed is printed). Tests must pass in any order.
"""

from __future__ import annotations

import importlib.abc
import os
import random
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

# Fixtures (tests/conftest.py) that hand out the set-up's data.
SETUP_DATA = {
    "demo",
    "pose2sim_cam01",
    "pose2sim_cam02",
    "deepmimic",
    "lite_bundle",
    "tasks_vision",
    "actor_video",
    "actor_face_video",
    "actor_voice",
}
# Modules a pure test has no business importing: the engine, the pose model, the browser.
HEAVY = ("direct.showbase.ShowBase", "mediapipe", "playwright")


def _refuse(what: str) -> Any:
    def refuse(*args: object, **kwargs: object) -> Any:
        raise AssertionError(f"a test marked pure {what}; drop the mark or the dependency")

    return refuse


class _RefuseHeavy(importlib.abc.MetaPathFinder):
    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name.startswith(HEAVY):
            _refuse(f"imports {name}")()
        return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("pure") is None:
        return
    needs = {m.name for m in item.iter_markers()} & {"model", "fixtures"}
    needs |= SETUP_DATA & set(getattr(item, "fixturenames", ()))
    if needs:
        pytest.fail(f"a test marked pure needs the set-up's {', '.join(sorted(needs))}")


@pytest.fixture(autouse=True)
def _pure_guard(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    if request.node.get_closest_marker("pure") is None:
        yield
        return
    monkeypatch.setattr(subprocess.Popen, "_execute_child", _refuse("starts a process"))
    for method in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, method, _refuse("opens a socket"))
    nowhere = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("IMMERSION_CACHE", str(nowhere / "no-set-up-cache"))
    from immersion import catalogue

    shipped = catalogue._shipped

    def no_cast(name: str, in_checkout: Path) -> Path:
        return nowhere / "no-set-up-avatars" if name == "avatars" else shipped(name, in_checkout)

    monkeypatch.setattr(catalogue, "_shipped", no_cast)
    finder = _RefuseHeavy()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    order = os.environ.get("IMMERSION_TEST_ORDER", "")
    if not order:
        return
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:  # grouped by module, so module-scoped fixtures are set up once
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    groups = list(modules.values())
    if order == "reverse":
        groups = [group[::-1] for group in groups[::-1]]
    elif order.startswith("random"):
        seed = int(order.partition(":")[2] or random.randrange(10**6))
        print(f"\nIMMERSION_TEST_ORDER=random:{seed}")
        shuffle = random.Random(seed).shuffle
        shuffle(groups)
        for group in groups:
            shuffle(group)
    else:
        raise pytest.UsageError(f"IMMERSION_TEST_ORDER={order}: use reverse, random or random:SEED")
    items[:] = [item for group in groups for item in group]

"""What the actor sees in the headset, the runtime turning their head (Monado's remote driver):
a set all round in every shipped pack, the tally camera, the teleprompter. And the pure parts
behind them: the prompter's text, the thumbstick's scroll presses, the sides' command slot.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from immersion.catalogue import pack_names
from immersion.headset.prompter import header, plain, rows
from immersion.room.commands import CommandBox
from immersion.room.messages import CueActor, ShowSides, SidesState, SwitchCamera
from immersion.xr.controls import SCROLL_REPEAT_S, StickRepeat
from tests.support import ROOT
from tests.test_headset import _remote_config, monado_env

PACKS = ("noir-office", "western-saloon", "starship-bridge", "enchanted-forest")
HEADINGS = ("0", "90", "180", "270")


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("views")
    env = monado_env(**_remote_config(tmp))
    done = subprocess.run(
        [sys.executable, "-m", "tests.headset_views_probe", *PACKS,
         "--port", env["REMOTE_PORT"], "--eye", "240x240"],
        capture_output=True, text=True, timeout=180, cwd=ROOT, env=env,
    )  # fmt: skip
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    validation = (tmp / "validation.txt").read_text()
    assert "Core Validation Layer is initialized" in validation
    assert "VALID_ERROR" not in validation + log, validation[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_the_shipped_packs_are_the_ones_measured() -> None:
    assert set(PACKS) <= set(pack_names())


@pytest.mark.parametrize("pack", PACKS)
def test_the_set_surrounds_the_actor_at_every_heading(views: dict[str, Any], pack: str) -> None:
    # The share of each eye picture where the set is drawn in front of the sky, the head
    # turned by the runtime to four headings: walls, trees or consoles over most of the view.
    geometry = views["packs"][pack]["geometry"]
    assert set(geometry) == set(HEADINGS)
    assert min(geometry.values()) >= 0.6, geometry
    assert max(geometry.values()) < 0.99, geometry  # sky or ceiling edge: a mask, not a fill


@pytest.mark.parametrize("pack", PACKS)
def test_the_tally_lamp_is_in_view_facing_the_camera_and_red_only_while_rolling(
    views: dict[str, Any], pack: str
) -> None:
    tally = views["packs"][pack]["tally"]
    assert tally["lamp"] is not None, tally  # facing the active preset, the lamp is in the eye
    assert tally["redAtLamp"], tally  # it glows red where it falls, while a take rolls
    assert tally["redRolling"] >= tally["redCut"] + 15, tally  # lamp and "● ROLLING"
    assert tally["redCut"] <= 2, tally  # cut: the lamp dim, the label gone
    pack_report = views["packs"][pack]
    assert pack_report["followsCamera"]  # a camera switch moves it to the new preset
    assert pack_report["mirrorDiff"] == 0.0  # the mirror, looking out of the preset, never
    # sees it (nor the teleprompter)


def test_the_teleprompter_shows_the_sides_and_scrolls(views: dict[str, Any]) -> None:
    prompter = views["packs"][PACKS[0]]["prompter"]
    assert prompter["shownShare"] > 0.02, prompter  # a panel of text appeared
    left, top, right, bottom = prompter["box"]
    assert right - left > 40 and bottom - top > 20, prompter  # readable size at 240 px
    assert prompter["scrolledShare"] > 0.1, prompter  # three lines on, the text moved


# The pure parts ----------------------------------------------------------------------------


@pytest.mark.pure
def test_markdown_reads_as_plain_words() -> None:
    assert plain("## INT. OFFICE - NIGHT") == "INT. OFFICE - NIGHT"
    assert plain("**MARLOWE** (*quietly*) You're `late`.") == "MARLOWE (quietly) You're late."
    assert plain("snake_case stays, 2 * 3 too") == "snake_case stays, 2 * 3 too"
    assert plain("- a list item") == "- a list item"
    assert plain("#hashtag is not a heading") == "#hashtag is not a heading"


@pytest.mark.pure
def test_the_panel_shows_rows_from_the_top_line_long_lines_wrapped() -> None:
    text = "\n".join(["one", "two " * 30, "three", *(f"line {n}" for n in range(20))])
    shown = rows(SidesState(text, 1), count=10, width=40)
    assert len(shown) == 10 and all(len(r) <= 40 for r in shown)
    assert shown[0].startswith("two two") and "three" in shown
    assert rows(SidesState(text, 22), count=10) == ["line 19"]
    assert rows(SidesState("a\n\nb", 0)) == ["a", "", "b"]
    assert header(SidesState(text, 1)) == "SIDES   line 2 of 23"


@pytest.mark.pure
def test_a_thumbstick_push_scrolls_once_then_repeats_while_held() -> None:
    stick = StickRepeat()
    r = SCROLL_REPEAT_S
    assert stick.step(0.0, 0.0) is None
    assert stick.step(-0.9, 1.0) == "scroll-down"  # pushed down: on to later lines
    assert stick.step(-0.9, 1.0 + r / 2) is None  # held, not yet
    assert stick.step(-0.9, 1.0 + r) == "scroll-down"  # held: again
    assert stick.step(-0.9, 1.0 + 5 * r) == "scroll-down"  # after a stall of frames: once...
    assert stick.step(-0.9, 1.0 + 5 * r + 0.01) is None  # ...not again on the next frame
    assert stick.step(-0.9, 1.0 + 6 * r) == "scroll-down"  # then every repeat_s from it
    assert stick.step(-0.45, 1.0 + 3 * r) is None  # easing off, not yet released
    assert stick.step(0.1, 1.0 + 3 * r) is None  # released
    assert stick.step(0.8, 1.0 + 3 * r) == "scroll-up"  # a new push, at once
    assert stick.step(-0.8, 1.0 + 3 * r + 0.01) == "scroll-down"  # flicked over: at once


@pytest.mark.pure
def test_sides_take_their_own_slot_newest_winning_beside_cues_and_switches() -> None:
    box = CommandBox(gap_s=2.0)
    box.put(ShowSides(SidesState("a\nb", 0)))
    box.put(CueActor("note", "again"))
    box.put(ShowSides(SidesState("a\nb", 1)))
    box.put(SwitchCamera("close"))
    assert box.due(0.0) == [
        SwitchCamera("close"),
        CueActor("note", "again"),
        ShowSides(SidesState("a\nb", 1)),
    ]
    assert box.replaced == 1 and box.pending() == 0


def test_the_room_owns_the_sides_whoever_scrolls_and_says_so_one_way(tmp_path: Path) -> None:
    """A director's sides and scrolls and the actor's thumbstick all end in one SidesChanged
    for the viewers and one ShowSides for the headset (newest wins), kept within the text."""
    from immersion.config import RoomSettings
    from immersion.room.messages import SidesChanged
    from immersion.room.room import Room
    from tests.support import perf_take

    still = perf_take(tmp_path / "still.jsonl")
    room = Room(RoomSettings(str(still), "noir-office", "detective", takes_dir=tmp_path / "t"))
    events: list[object] = []
    room.on_event = events.append
    room.actor_press("scroll-down")  # no sides yet: nothing to scroll, nothing said
    assert room.sides is None and events == []
    room.set_sides("one\ntwo\nthree")
    room.actor_press("scroll-down")
    room.actor_press("scroll-down")
    room.actor_press("scroll-down")  # past the last line: stays on it
    assert room.scroll_sides(1) == SidesState("one\ntwo\nthree", 1)
    room.actor_press("scroll-up")
    room.actor_press("scroll-up")  # before the first: stays on it
    lines = [e.sides.line for e in events if isinstance(e, SidesChanged)]
    assert lines == [0, 1, 2, 1, 0]  # at an end, a scroll changes nothing and says nothing
    assert room.render.commands.due(0.0) == [ShowSides(SidesState("one\ntwo\nthree", 0))]
    room.actor_press("ready")  # a button is still a note, not a scroll
    assert len([e for e in events if isinstance(e, SidesChanged)]) == 5


def test_the_panels_font_has_the_rolling_dot_and_a_scripts_letters() -> None:
    """Panda's built-in font has no "●" (the cue panel's "● ROLLING" lost its dot) and no
    accents or dashes; the panels use DejaVu Sans, which the set-up installs."""
    from panda3d.core import TextNode

    from immersion.headset.font import panel_font, use_panel_font

    built_in = TextNode("built-in")
    assert not built_in.hasExactCharacter("●")  # why the panels need a font of their own
    assert panel_font() is not None, "fonts-dejavu-core is missing: run ./dev setup"
    text = TextNode("panel")
    use_panel_font(text)
    for char in "●éñ—“”’":
        assert text.hasExactCharacter(char), char


@pytest.mark.parametrize("pack", ["western-saloon", "enchanted-forest"])
def test_what_only_the_eyes_see_casts_no_shadow_into_the_mirror(pack: str) -> None:
    """With ``rich`` shading (a GPU's default) the key light's shadow map saw everything: the
    saloon's eyes-only front wall and the tally camera darkened the casting team's picture."""
    import numpy as np

    from immersion.catalogue import find_pack
    from immersion.headset.eyes import masks
    from immersion.headset.tally import TallyCamera
    from immersion.scenes.manifest import load_pack
    from immersion.stage.stage import Stage

    stage = Stage.open(load_pack(find_pack(pack)), None, width=160, height=90, shading="rich")
    try:
        assert stage.shadow_map
        tally = TallyCamera(masks()[0])
        tally.place(stage)
        stage.show(None)
        shown = stage.target.rgb().astype(np.int16)
        tally.node.stash()
        stage.set_node.find("seen-by-eyes").stash()
        stage.show(None)
        assert np.abs(shown - stage.target.rgb()).max() == 0
    finally:
        stage.close()

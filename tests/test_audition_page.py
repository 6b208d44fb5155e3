"""The audition chosen on the casting page, and the actor's consent in their own words, in
Chromium: a room served with --db alone; a director opens a new production's new role for a
new actor; the actor's page shows the proposed use, the actor writes their own and agrees; a
take rolls and is filed under that audition with the actor's words and date."""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
from collections.abc import Mapping
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    Page,
    Playwright,
    WebSocketRoute,
    expect,
)

from immersion.casting import record as rec
from immersion.casting.db import open_db
from tests.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    fake_devices,
    hamlet_room,
    open_page,
    perf_take,
    run_cli,
    served_room,
)

pytestmark = pytest.mark.fixtures


def _refusal(page: Page, token: str, message: Mapping[str, object]) -> object:
    """What the room answers ``message`` with on a socket of the page's own, as a page's."""
    return page.evaluate(
        """([token, message]) => new Promise((resolve) => {
            const ws = new WebSocket(`ws://${location.host}/feed?token=${token}`);
            ws.onopen = () => ws.send(JSON.stringify(message));
            ws.onmessage = (e) => { const m = JSON.parse(e.data);
              if (m.type === "error") { ws.close(); resolve(m.message); } };
        })""",
        [token, message],
    )


def test_a_director_opens_an_audition_on_the_page_and_the_actor_agrees_in_their_words(
    tmp_path: Path, browser: Browser
) -> None:
    perf_take(tmp_path / "perf.jsonl")
    db = tmp_path / "casting.db"
    proposed_until = (dt.date.today() + dt.timedelta(days=60)).isoformat()
    own_until = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    words = "Macbeth's casting only; never to train a model"
    args = ["--source", str(tmp_path / "perf.jsonl"), "--size", "320x180", "--fps", "15"]
    with served_room(tmp_path, [*args, "--db", str(db)]) as room:
        page = open_page(browser, room.page(room.director))
        expect(page.locator("#audition-panel")).to_be_visible()
        expect(page.locator("#audition-on")).to_have_text(
            "No audition: takes rolled now are not filed."
        )
        # Everything new: the production, its role (on the room's set and avatar), the actor.
        expect(page.locator("#aud-production option")).to_have_count(1)  # "New production…"
        page.select_option("#aud-production", label="New production…")
        page.fill("#aud-production-new", "Macbeth")
        expect(page.locator("#aud-role-new")).to_be_visible()
        page.fill("#aud-role-name", "Lady Macbeth")
        page.select_option("#aud-actor", label="New actor…")
        page.fill("#aud-actor-name", "Bo Diddley")
        page.fill("#aud-contact", "bo@example.org")
        page.fill("#aud-use", "Macbeth's casting only")
        page.fill("#aud-until", proposed_until)
        page.click("#aud-open")
        on = "Lady Macbeth — Bo Diddley, Macbeth"
        expect(page.locator("#audition-on")).to_contain_text(on)
        expect(page.locator("#audition-consent")).to_contain_text("not agreed yet")
        # The record's new names come back to choose from next time.
        expect(page.locator("#aud-production")).to_have_value("Macbeth", timeout=5_000)

        watcher = open_page(browser, room.page(room.observer))
        expect(watcher.locator("#audition-on")).to_contain_text(on)
        expect(watcher.locator("#audition-form")).to_be_hidden()

        actor = open_page(browser, room.page(room.actor))
        expect(actor.locator("#consent")).to_be_visible()
        expect(actor.locator("#use")).to_be_visible()
        expect(actor.locator("#consent-room")).to_have_text("Lady Macbeth (Macbeth)")
        expect(actor.locator("#use-proposed")).to_have_text("Macbeth's casting only")
        expect(actor.locator("#use-until")).to_contain_text(proposed_until)
        actor.check("#use-own")
        actor.fill("#use-words", words)
        actor.fill("#use-until-date", own_until)
        actor.click("#agree")
        # The director sees what the actor agreed to.
        expect(page.locator("#audition-consent")).to_contain_text(
            f'The actor agreed: "{words}" until {own_until}'
        )
        expect(page.locator("#audition-consent")).to_have_attribute("data-agreed", "yes")

        page.click("#take-start")
        expect(page.locator("#rolling")).to_be_visible()
        expect(page.locator("#aud-open")).to_be_disabled()
        # Not while a take rolls; never from an observer: each refused in one line.
        close = {"type": "audition", "action": "close"}
        assert _refusal(page, room.director, close) == (
            "audition: a take is rolling; change the audition after it is cut"
        )
        assert _refusal(watcher, room.observer, close) == "audition: only directors steer the room"
        page.wait_for_timeout(300)
        page.click("#take-stop")
        expect(page.locator("#rolling")).to_be_hidden()
        take = page.locator('.lib-role[data-role="Lady Macbeth"] .lib-actor[data-actor="Bo Diddley"] .lib-take')  # fmt: skip
        expect(take).to_have_count(1, timeout=15_000)
        file = take.get_attribute("data-file")
        assert page.errors == [] and watcher.errors == []
        room.process.send_signal(signal.SIGINT)
        assert room.process.wait(30) == 0

    shown = run_cli(
        "casting", "audition", "show", "--role", "Lady Macbeth", "--actor", "Bo Diddley",
        "--db", str(db), "--json",
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    (audition,) = json.loads(shown.stdout)
    assert (audition["production"], audition["date"]) == ("Macbeth", dt.date.today().isoformat())
    assert (audition["consent"], audition["consentUntil"]) == (words, own_until)
    assert audition["consentVersion"] == 4 and audition["consentAt"]
    assert (audition["proposed"], audition["proposedUntil"]) == (
        "Macbeth's casting only", proposed_until,
    )  # fmt: skip
    assert [t["file"] for t in audition["takes"]] == [file]
    assert (tmp_path / "takes" / str(file)).is_file()


@pytest.mark.model
def test_a_performing_actor_is_asked_again_when_the_director_opens_another_audition(
    tmp_path: Path, playwright: Playwright, actor_video: Path, actor_voice: Path
) -> None:
    """A room served with --role/--actor/--consent: the actor accepts that use and performs;
    the director then opens another role for them on the page; the actor's page asks again,
    and declining leaves the performance on and the new audition unagreed."""
    db = hamlet_room(tmp_path)
    args = ["--source", str(tmp_path / "perf.jsonl"), "--size", "320x180", "--fps", "15"]
    args += ["--role", "Ophelia", "--actor", "Ada", "--consent", "Hamlet's casting only"]
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + fake_devices(actor_video, actor_voice)
    )
    try:
        with served_room(tmp_path, args) as room:
            actor = open_page(browser, room.page(room.actor))
            expect(actor.locator("#use-proposed")).to_have_text("Hamlet's casting only")
            actor.click("#agree")  # the proposal as it is
            expect(actor.locator("#consent")).to_be_hidden()
            for _ in range(600):  # the camera and the pose model start: the actor performs
                if actor.evaluate("window.immersion.consented()"):
                    break
                actor.wait_for_timeout(100)
            assert actor.evaluate("window.immersion.consented()") is True

            page = open_page(browser, room.page(room.director))
            expect(page.locator("#audition-consent")).to_contain_text(
                'The actor agreed: "Hamlet\'s casting only" with no end date'
            )
            expect(page.locator("#aud-production")).to_have_value("Hamlet")
            page.select_option("#aud-role", label="New role…")
            page.fill("#aud-role-name", "Gertrude")
            page.select_option("#aud-actor", "Ada")
            page.click("#aud-open")
            expect(page.locator("#audition-on")).to_contain_text("Gertrude — Ada, Hamlet")

            expect(actor.locator("#consent")).to_be_visible()
            expect(actor.locator("#agree")).to_have_text("I agree to this use")
            expect(actor.locator("#consent-room")).to_have_text("Gertrude (Hamlet)")
            expect(actor.locator("#use-proposed")).to_have_text("This production's casting only")
            actor.click("#decline")
            expect(actor.locator("#consent")).to_be_hidden()
            expect(actor.locator("#message")).to_contain_text("You did not agree")
            assert actor.evaluate("window.immersion.consented()") is True  # still performing
            expect(page.locator("#audition-consent")).to_contain_text("not agreed yet")
            assert page.errors == [] and actor.errors == []
            room.process.send_signal(signal.SIGINT)
            assert room.process.wait(30) == 0
    finally:
        browser.close()
    conn = open_db(db)
    ada = rec.need_actor(conn, "Ada")
    (ophelia,) = rec.find_auditions(conn, rec.find_role(conn, "Ophelia"), ada)
    assert (ophelia.consent, ophelia.consent_version) == ("Hamlet's casting only", 4)
    assert ophelia.consent_at is not None
    (gertrude,) = rec.find_auditions(conn, rec.find_role(conn, "Gertrude"), ada)
    assert (gertrude.consent, gertrude.consent_at) == ("", None)
    conn.close()


@pytest.mark.model
def test_the_actor_agrees_only_to_the_proposal_they_were_shown(
    tmp_path: Path, playwright: Playwright
) -> None:
    """A director reopens the same audition (same id) with another use: the actor's consent
    screen shows it and says it changed; an Agree sent for the proposal before (the new one
    still on its way to the page) is refused, the page shown the new one and asked again. Then
    ``immersion casting delete-actor`` from another process: every page drops the audition."""
    db = hamlet_room(tmp_path, "Ada")
    uses = ["Hamlet's casting only", "Hamlet's casting and its trailer", "Hamlet's press kit too"]
    args = ["--source", str(tmp_path / "perf.jsonl"), "--size", "320x180", "--fps", "15"]
    # A camera and microphone of Chromium's own: agreeing starts them (and the pose model).
    fake = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + fake)
    held: list[str] = []  # audition messages kept from the actor's page while holding
    hold = [False]

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            if hold[0] and isinstance(message, str) and '"type":"audition"' in message:
                held.append(message)
            else:
                ws.send(message)

        server.on_message(to_page)
        ws.on_message(server.send)

    try:
        with served_room(tmp_path, [*args, "--db", str(db)]) as room:
            page = open_page(browser, room.page(room.director))

            def propose(use: str) -> None:
                expect(page.locator("#aud-production")).to_have_value("Hamlet")
                page.select_option("#aud-role", "Ophelia")
                page.select_option("#aud-actor", "Ada")
                page.fill("#aud-use", use)
                page.click("#aud-open")
                expect(page.locator("#audition-consent")).to_contain_text(f'"{use}"')

            propose(uses[0])
            actor = browser.new_context().new_page()
            errors: list[str] = []
            actor.on("pageerror", lambda e: errors.append(str(e)))
            actor.route_web_socket(re.compile(r"/feed\?"), route)
            actor.goto(room.page(room.actor))
            expect(actor.locator("#use-proposed")).to_have_text(uses[0])
            expect(actor.locator("#use-changed")).to_be_hidden()
            # Changed while the actor reads it: the new text, and a line saying so.
            propose(uses[1])
            expect(actor.locator("#use-proposed")).to_have_text(uses[1])
            expect(actor.locator("#use-changed")).to_be_visible()
            # Changed again, the news not there yet: the Agree goes for the one shown.
            hold[0] = True
            propose(uses[2])
            for _ in range(100):
                if held:
                    break
                actor.wait_for_timeout(50)
            hold[0] = False
            assert held, "the room never sent the new proposal"
            expect(actor.locator("#use-proposed")).to_have_text(uses[1])
            actor.click("#agree")
            expect(actor.locator("#message")).to_contain_text(
                "terms: the proposed use changed; read it again"
            )
            expect(actor.locator("#consent")).to_be_visible()  # asked again, with the new one
            expect(actor.locator("#use-proposed")).to_have_text(uses[2])
            expect(actor.locator("#use-changed")).to_be_visible()
            expect(page.locator("#audition-consent")).to_contain_text("not agreed yet")
            actor.click("#agree")
            expect(page.locator("#audition-consent")).to_contain_text(
                f'The actor agreed: "{uses[2]}" with no end date'
            )
            conn = open_db(db)  # the record, as the room filed it (another connection)
            ada, ophelia = rec.need_actor(conn, "Ada"), rec.find_role(conn, "Ophelia")
            (audition,) = rec.find_auditions(conn, ophelia, ada)
            assert (audition.consent, audition.proposed) == (uses[2], uses[2])
            conn.close()
            # The actor deleted from another process: no page goes on showing their audition.
            deleted = run_cli("casting", "delete-actor", "Ada", "--db", str(db), "--takes",
                              str(room.takes))  # fmt: skip
            assert deleted.returncode == 0, deleted.stderr
            none = "No audition: takes rolled now are not filed."
            expect(page.locator("#audition-on")).to_have_text(none, timeout=10_000)
            expect(actor.locator("#use")).to_be_hidden()
            assert page.errors == [] and errors == []
            room.process.send_signal(signal.SIGINT)
            assert room.process.wait(30) == 0
    finally:
        browser.close()

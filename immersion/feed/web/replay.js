// Replay on the casting page: the room's main avatar performs a take again with its voice, or
// two to four takes play side by side, a strip of the picture each, on the same set and avatar.
// A timeline bar shows where the replay is, the first take's notes and markers as ticks (their
// text as a tooltip); a director plays, pauses, stops and seeks by clicking the bar. Side by
// side, each take has a row: its letter (as labelled on the picture), whose voice is heard (one
// at a time: two voices at once cannot be told apart) and where it is aligned (its start, or
// one of its notes or markers: the takes are cut so those moments fall together). Observers watch.
import { el } from "/dom.js";
const MAX_TAKES = 4; // the room splits the picture in at most four strips
const LETTERS = "ABCD";

export class ReplayBar {
  constructor(panel, send, strips = null) {
    Object.assign(this, { panel, send, strips }); // strips: the labels laid over the picture
    this.shown = { state: "stopped" };
    this.director = false;
    this.marksKey = "";
    this.rowsKey = "";
    this.picked = []; // takes a director chose for side by side, in order
    this.pickBoxes = new Map(); // file -> its checkboxes (the library's rows, the take list)
    this.describe = (file) => file.replace(/\.jsonl$/, ""); // the library tells actor and role
    this.stateLine = panel.querySelector("#replay-state");
    this.bar = panel.querySelector("#replay-bar");
    this.done = panel.querySelector("#replay-done");
    this.ticks = panel.querySelector("#replay-ticks");
    this.play = panel.querySelector("#replay-play");
    this.stopButton = panel.querySelector("#replay-stop");
    this.rows = panel.querySelector("#replay-takes");
    this.compare = panel.querySelector("#compare-start");
    this.pickedLine = panel.querySelector("#compare-picked");
    this.play.onclick = () => this.send({ type: "replay", action: this.shown.state === "paused" ? "resume" : "pause" });
    this.stopButton.onclick = () => this.send({ type: "replay", action: "stop" });
    this.compare.onclick = () => this.send({ type: "replay", action: "start", takes: [...this.picked] });
    this.bar.onclick = (e) => {
      if (!this.director || !this.shown.duration) return;
      const box = this.bar.getBoundingClientRect();
      const at = Math.min(Math.max((e.clientX - box.left) / box.width, 0), 1) * this.shown.duration;
      this.send({ type: "replay", action: "seek", position: Math.round(at * 100) / 100 });
    };
    this.showPicked();
  }

  // A "Replay" button for a take (the library's rows and the take list).
  button(file) {
    const b = el("button", "replay-take director-only", "Replay");
    b.type = "button";
    b.title = "The room's avatar performs this take again, with its voice, instead of the live actor";
    b.dataset.file = file;
    b.onclick = () => this.send({ type: "replay", action: "start", take: file });
    return b;
  }

  // A "Compare" checkbox for a take: picked takes play side by side.
  pickBox(file) {
    const label = el("label", "compare-pick director-only");
    label.title = "Pick 2 to 4 takes, then play them side by side";
    const box = el("input");
    box.type = "checkbox";
    box.dataset.file = file;
    box.checked = this.picked.includes(file);
    box.onchange = () => this.pick(file, box.checked);
    if (!this.pickBoxes.has(file)) this.pickBoxes.set(file, new Set());
    this.pickBoxes.get(file).add(box);
    label.append(box, " Compare");
    return label;
  }

  pick(file, on) {
    this.picked = this.picked.filter((f) => f !== file);
    if (on) this.picked.push(file);
    if (this.picked.length > MAX_TAKES) this.picked.shift(); // the oldest pick gives way
    for (const [f, boxes] of this.pickBoxes) {
      for (const box of boxes) {
        if (!box.isConnected) boxes.delete(box); else box.checked = this.picked.includes(f);
      }
    }
    this.showPicked();
  }

  showPicked() {
    const n = this.picked.length;
    this.compare.disabled = n < 2;
    this.compare.textContent = n >= 2 ? `Side by side (${n})` : "Side by side";
    this.pickedLine.textContent = n ? this.picked.map((f, k) => `${LETTERS[k]}: ${this.describe(f)}`).join(" · ")
      : `Tick "Compare" on 2 to ${MAX_TAKES} takes to see them side by side.`;
  }

  status(r, director) {
    this.director = director;
    this.shown = r || { state: "stopped" };
    const s = this.shown, on = s.state !== "stopped";
    const takes = s.takes || [];
    const several = takes.length > 1;
    this.panel.dataset.state = s.state;
    this.panel.dataset.takes = String(on ? takes.length || 1 : 0);
    const what = several ? `${takes.length} takes side by side` : s.take;
    this.stateLine.textContent = {
      stopped: "No replay: the avatar performs live.",
      loading: `Replay: reading ${what}…`,
      playing: `Replay: ${what}, ${s.t?.toFixed(1)} / ${s.duration?.toFixed(1)} s${s.ended ? " (ended)" : ""}`,
      paused: `Replay paused: ${what}, ${s.t?.toFixed(1)} / ${s.duration?.toFixed(1)} s`,
    }[s.state] || "";
    this.play.textContent = s.state === "paused" ? "Play" : "Pause";
    this.play.disabled = !(s.state === "playing" || s.state === "paused");
    this.stopButton.disabled = !on;
    this.bar.hidden = !s.duration;
    this.done.style.width = s.duration ? `${(100 * s.t) / s.duration}%` : "0";
    this.showRows(on && several ? s : null);
    this.showStrips(on && several && s.strips === takes.length ? takes : []);
    const marks = s.marks || [];
    const key = JSON.stringify([s.take, s.duration, marks.map((m) => m.t)]); // a realignment moves them
    if (key === this.marksKey) return;
    this.marksKey = key;
    this.ticks.replaceChildren(...marks.map((m) => {
      const tick = el("span", `replay-tick ${m.kind}`);
      tick.style.left = `${(100 * m.t) / (s.duration || 1)}%`;
      tick.title = `${m.t.toFixed(1)} s ${m.kind}: ${m.text}`;
      tick.dataset.t = String(m.t);
      return tick;
    }));
  }

  // Side by side: a row per take with its voice switch and its alignment. Rebuilt only when the
  // takes, their marks, the voice or the alignment change (a status comes 4 times a second).
  showRows(s) {
    const takes = s ? s.takes : [];
    const key = JSON.stringify([takes.map((t) => [t.take, t.shift, t.align, (t.marks || []).length]), s?.voice, this.director]);
    if (key === this.rowsKey) return;
    this.rowsKey = key;
    this.rows.hidden = !takes.length;
    this.rows.replaceChildren(...takes.map((t, k) => {
      const row = el("li", "replay-row");
      row.dataset.take = t.take;
      const voice = el("input");
      voice.type = "radio";
      voice.name = "replay-voice";
      voice.checked = s.voice === k;
      voice.disabled = !this.director;
      voice.title = "Hear this take's voice";
      voice.onclick = () => this.send({ type: "replay", action: "voice", index: s.voice === k ? null : k });
      const hear = el("label", "replay-voice");
      hear.append(voice, " 🔊");
      row.append(el("b", "strip-letter", LETTERS[k]), el("span", "replay-name", this.describe(t.take)), hear);
      if (this.director) row.append(this.alignMenu(takes, k));
      else if (t.shift) row.append(el("span", "fine", `from ${t.shift.toFixed(1)} s`));
      return row;
    }));
  }

  // Where take k is aligned: its start, or one of its notes or markers (by index, on the take's
  // own clock). Choosing one starts the side by side again, the other takes keeping theirs.
  alignMenu(takes, k) {
    const menu = el("select", "replay-align");
    menu.setAttribute("aria-label", `Align take ${LETTERS[k]} at`);
    menu.append(new Option("align at its start", ""));
    (takes[k].marks || []).forEach((m, i) => menu.append(
      new Option(`at ${m.t.toFixed(1)} s ${m.kind} “${m.text.slice(0, 30)}”`, String(i))));
    menu.value = takes[k].align == null ? "" : String(takes[k].align);
    menu.onchange = () => {
      const align = takes.map((t, i) => (i === k ? (menu.value === "" ? null : Number(menu.value)) : t.align ?? null));
      this.send({ type: "replay", action: "start", takes: takes.map((t) => t.take), align });
    };
    return menu;
  }

  // The strips' labels over the picture: the room draws the takes left to right.
  showStrips(takes) {
    if (!this.strips) return;
    this.strips.hidden = !takes.length;
    const key = takes.map((t) => t.take).join("|");
    if (this.strips.dataset.key === key) return;
    this.strips.dataset.key = key;
    this.strips.style.gridTemplateColumns = `repeat(${takes.length || 1}, 1fr)`;
    this.strips.replaceChildren(...takes.map((t, k) => {
      const strip = el("div", "strip");
      strip.append(el("span", "strip-label", `${LETTERS[k]} · ${this.describe(t.take)}`));
      return strip;
    }));
  }
}

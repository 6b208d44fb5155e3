// Replay on the casting page: the room's main avatar performs a take again with its voice. A
// timeline bar shows where the replay is, the take's notes and markers as ticks (their text as
// a tooltip); a director plays, pauses, stops and seeks by clicking the bar. Observers watch.
const el = (tag, className, text) => {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
};

export class ReplayBar {
  constructor(panel, send) {
    Object.assign(this, { panel, send });
    this.shown = { state: "stopped" };
    this.director = false;
    this.marksKey = "";
    this.stateLine = panel.querySelector("#replay-state");
    this.bar = panel.querySelector("#replay-bar");
    this.done = panel.querySelector("#replay-done");
    this.ticks = panel.querySelector("#replay-ticks");
    this.play = panel.querySelector("#replay-play");
    this.stopButton = panel.querySelector("#replay-stop");
    this.play.onclick = () => this.send({ type: "replay", action: this.shown.state === "paused" ? "resume" : "pause" });
    this.stopButton.onclick = () => this.send({ type: "replay", action: "stop" });
    this.bar.onclick = (e) => {
      if (!this.director || !this.shown.duration) return;
      const box = this.bar.getBoundingClientRect();
      const at = Math.min(Math.max((e.clientX - box.left) / box.width, 0), 1) * this.shown.duration;
      this.send({ type: "replay", action: "seek", position: Math.round(at * 100) / 100 });
    };
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

  status(r, director) {
    this.director = director;
    this.shown = r || { state: "stopped" };
    const s = this.shown, on = s.state !== "stopped";
    this.panel.dataset.state = s.state;
    this.stateLine.textContent = {
      stopped: "No replay: the avatar performs live.",
      loading: `Replay: reading ${s.take}…`,
      playing: `Replay: ${s.take}, ${s.t?.toFixed(1)} / ${s.duration?.toFixed(1)} s${s.ended ? " (ended)" : ""}`,
      paused: `Replay paused: ${s.take}, ${s.t?.toFixed(1)} / ${s.duration?.toFixed(1)} s`,
    }[s.state] || "";
    this.play.textContent = s.state === "paused" ? "Play" : "Pause";
    this.play.disabled = !(s.state === "playing" || s.state === "paused");
    this.stopButton.disabled = !on;
    this.bar.hidden = !s.duration;
    this.done.style.width = s.duration ? `${(100 * s.t) / s.duration}%` : "0";
    const marks = s.marks || [];
    const key = `${s.take}|${marks.length}`;
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
}

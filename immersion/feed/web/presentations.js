// Presentations on the casting page (directors): choose takes in the library (checkboxes), a
// title, an expiry and whether notes show; Create gives the link, shown once (the room keeps only
// its hash). The list shows each presentation's expiry, a Revoke button and, per take, who
// viewed it and when; the library's rows carry the same "viewed" marks.
import { el } from "/dom.js";
const DEFAULT_DAYS = 7;
const when = (iso) => iso.replace("T", " ").replace(/:\d\d\+00:00$/, " UTC");

export class Presenter {
  constructor(panel, send, library) {
    Object.assign(this, { panel, send, library });
    this.chosen = new Set(); // take files ticked in the library
    this.items = []; // the presentations, newest first
    this.viewed = new Map(); // take file -> [{viewer, at, presentation}], newest first
    this.director = false;
    const $ = (sel) => panel.querySelector(sel);
    this.form = $("#present-form");
    this.title = $("#present-title");
    this.days = $("#present-days");
    this.notes = $("#present-notes");
    this.create = $("#present-create");
    this.count = $("#present-count");
    this.link = $("#present-link");
    this.linkText = $("#present-url");
    this.copy = $("#present-copy");
    this.list = $("#present-list");
    this.days.value = String(DEFAULT_DAYS);
    this.form.onsubmit = (e) => {
      e.preventDefault();
      const takes = [...this.library.takes.keys()].filter((f) => this.chosen.has(f)); // library order
      const days = Number(this.days.value);
      this.send({ type: "presentation", action: "create", title: this.title.value.trim(), takes,
                  days, showNotes: this.notes.checked });
    };
    this.copy.onclick = async () => {
      this.linkText.select();
      try { await navigator.clipboard.writeText(this.linkText.value); this.copy.textContent = "Copied"; }
      catch { document.execCommand("copy"); this.copy.textContent = "Copied"; }
    };
    this.update();
  }

  start(role) {
    this.director = role === "director";
    this.panel.hidden = !this.director;
    if (this.director) this.send({ type: "presentation", action: "list" });
  }

  // The library's row for a take: a checkbox to choose it (directors) and its viewed marks.
  decorate(li, t) {
    if (!this.director) return;
    const pick = el("input", "lib-pick");
    pick.type = "checkbox";
    pick.title = "Choose for a presentation";
    pick.checked = this.chosen.has(t.file);
    pick.onchange = () => { if (pick.checked) this.chosen.add(t.file); else this.chosen.delete(t.file); this.update(); };
    li.firstChild.prepend(pick);
    const seen = this.viewed.get(t.file);
    if (seen && seen.length) li.append(this.mark(seen));
  }

  mark(seen) {
    const last = seen[0];
    const more = seen.length > 1 ? ` (+${seen.length - 1})` : "";
    const m = el("span", "viewed", `viewed · ${last.viewer}, ${when(last.at)}${more}`);
    m.title = seen.map((v) => `${v.viewer}, ${when(v.at)}`).join("\n");
    return m;
  }

  update() {
    const n = this.chosen.size;
    this.count.textContent = n ? `${n} take${n === 1 ? "" : "s"} chosen` : "Tick takes in the library to present them.";
    this.create.disabled = n === 0;
  }

  made(msg) {
    this.link.hidden = false;
    this.linkText.value = `${location.origin}/?present=${encodeURIComponent(msg.token)}`;
    this.copy.textContent = "Copy";
    this.chosen.clear();
    this.title.value = "";
    this.update();
    this.library.render();
  }

  listed(msg) {
    this.items = msg.presentations;
    this.viewed = new Map();
    for (const p of this.items) {
      for (const t of p.takes) {
        if (!this.viewed.has(t.file)) this.viewed.set(t.file, []);
        this.viewed.get(t.file).push(...t.viewed);
      }
    }
    for (const seen of this.viewed.values()) seen.sort((a, b) => (a.at < b.at ? 1 : -1));
    this.render();
    this.library.render();
  }

  render() {
    this.list.replaceChildren(...this.items.map((p) => {
      const li = el("li", "present-item");
      li.dataset.id = String(p.id);
      li.dataset.state = p.state;
      const head = el("div", "lib-line");
      const state = p.state === "open" ? `until ${when(p.expires)}` : p.state === "revoked" ? "revoked" : `expired ${when(p.expires)}`;
      head.append(el("strong", "", p.title), el("span", "lib-meta present-state", state));
      if (p.state === "open") {
        const revoke = el("button", "present-revoke", "Revoke");
        revoke.type = "button";
        revoke.title = "The link stops working at once; anyone watching is cut off";
        revoke.onclick = () => this.send({ type: "presentation", action: "revoke", id: p.id });
        head.append(revoke);
      }
      const takes = el("ul", "notes");
      takes.append(...p.takes.map((t) => {
        const row = el("li", "present-item-take", t.file.replace(/\.jsonl$/, ""));
        row.dataset.file = t.file;
        if (t.viewed.length) row.append(" ", this.mark(t.viewed));
        return row;
      }));
      li.append(head, takes);
      return li;
    }));
  }
}

// The take library on the casting page: the casting record's takes by role and actor, with
// duration, notes, rating and select number, and a search. Directors rate (1-5 stars) and
// select; the room saves each at once and tells every viewer. Observers see the same, read-only.
import { el, clock } from "/dom.js";
const STARS = 5;
const SELECT_CHOICES = 9; // select numbers offered; casting offices count a handful
const SEARCH_WAIT_MS = 250;

export class Library {
  constructor(panel, list, search, send, replay = null) {
    Object.assign(this, { panel, list, search, send, replay }); // replay: a ReplayBar, for its buttons
    this.takes = new Map(); // file -> row, in the room's order (production, role, actor, filed)
    this.director = false;
    this.queryChars = 200;
    this.timer = null;
    search.oninput = () => { clearTimeout(this.timer); this.timer = setTimeout(() => this.query(), SEARCH_WAIT_MS); };
  }

  // A room with a casting record: show the panel and ask for its takes.
  start(role, limits) {
    this.director = role === "director";
    this.queryChars = limits.queryChars || this.queryChars;
    this.search.maxLength = this.queryChars;
    this.panel.hidden = false;
    this.query();
  }

  query() { this.send({ type: "library", query: this.search.value.trim().slice(0, this.queryChars) }); }

  listed(msg) {
    this.takes = new Map(msg.takes.map((t) => [t.file, t]));
    if (this.replay) this.replay.describe = (file) => this.describe(file);
    this.more = msg.more;
    this.render();
  }

  // Rows that changed (filed, rated, selected, renumbered). A row without myRating keeps the one
  // this page knows; a take not listed yet (just filed) is fetched with the current search.
  changed(msg) {
    let missing = false;
    for (const row of msg.takes) {
      const known = this.takes.get(row.file);
      if (known) Object.assign(known, row); else missing = true;
    }
    if (missing) this.query(); else this.render();
  }

  // A take as people name it: its actor and role (the file name when the record lacks it).
  describe(file) {
    const t = this.takes.get(file);
    const name = file.replace(/\.jsonl$/, "");
    return t ? `${t.actor} — ${t.role} (${name.replace(/^take-/, "")})` : name;
  }

  render() {
    const groups = new Map(); // "production\nrole" -> Map(actor -> [rows])
    for (const t of this.takes.values()) {
      const key = `${t.production}\n${t.role}`;
      if (!groups.has(key)) groups.set(key, new Map());
      const actors = groups.get(key);
      if (!actors.has(t.actor)) actors.set(t.actor, []);
      actors.get(t.actor).push(t);
    }
    const sections = [...groups].map(([key, actors]) => {
      const [production, role] = key.split("\n");
      const section = el("section", "lib-role");
      section.dataset.role = role;
      const h = el("h3", "", role);
      h.append(" ", el("small", "", production));
      section.append(h, ...[...actors].map(([actor, rows]) => this.actor(actor, rows)));
      return section;
    });
    const empty = this.search.value.trim() ? "No take matches." : "No takes in the casting record yet.";
    this.list.replaceChildren(...(sections.length ? sections : [el("p", "fine", empty)]));
    if (this.more) this.list.append(el("p", "fine", "More takes match: narrow the search."));
  }

  actor(name, rows) {
    const div = el("div", "lib-actor");
    div.dataset.actor = name;
    const ol = el("ol", "lib-takes");
    ol.append(...rows.map((t) => this.take(t)));
    div.append(el("h4", "", name), ol);
    return div;
  }

  take(t) {
    const li = el("li", "lib-take");
    li.dataset.file = t.file;
    const notes = `${t.notes} note${t.notes === 1 ? "" : "s"}`;
    const head = el("div", "lib-line");
    head.append(el("span", "lib-name", t.file.replace(/\.jsonl$/, "")),
                el("span", "lib-meta", `${clock(t.duration)} · ${notes} · ${t.date}`));
    if (this.replay && this.director) head.append(this.replay.button(t.file), this.replay.pickBox(t.file));
    const decide = el("div", "lib-line");
    decide.append(this.stars(t), el("span", "lib-mean", t.rating == null ? "unrated" : `avg ${t.rating.toFixed(1)}`),
                  this.select(t));
    li.append(head, decide);
    if (this.decorate) this.decorate(li, t); // presentations.js: a checkbox, viewed marks
    return li;
  }

  // A director's own rating, clickable (the same star again takes it back); an observer sees
  // everyone's mean.
  stars(t) {
    const shown = this.director ? (t.myRating ?? 0) : Math.round(t.rating ?? 0);
    const box = el("span", "stars");
    box.dataset.rating = String(shown);
    box.setAttribute("aria-label", `rating ${shown || "none"} of ${STARS}`);
    for (let v = 1; v <= STARS; v++) {
      const star = el(this.director ? "button" : "span", `star${v <= shown ? " on" : ""}`, v <= shown ? "★" : "☆");
      star.dataset.value = String(v);
      if (this.director) {
        star.type = "button";
        star.title = v === shown ? "Take your rating back" : `Rate ${v} of ${STARS}`;
        star.onclick = () => this.send({ type: "rate", take: t.file, value: v === shown ? null : v });
      }
      box.append(star);
    }
    return box;
  }

  select(t) {
    if (!this.director) {
      const pill = el("span", "pill select-number", t.select == null ? "" : `#${t.select}`);
      pill.hidden = t.select == null;
      return pill;
    }
    const menu = el("select", "lib-select");
    menu.title = "This take's number among the role's selects (#1 is the first choice)";
    menu.append(new Option("not a select", ""));
    const top = Math.max(SELECT_CHOICES, t.select || 0);
    for (let n = 1; n <= top; n++) menu.append(new Option(`select #${n}`, String(n)));
    menu.value = t.select == null ? "" : String(t.select);
    menu.onchange = () => this.send({ type: "select", take: t.file, number: menu.value ? Number(menu.value) : null });
    return menu;
  }
}

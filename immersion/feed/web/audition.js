// The audition panel on the casting page: which audition the room files its takes under, and
// the actor's consent to their use. A director picks a production, role and actor from the
// casting record (or adds new ones here), proposes a use of the takes and opens it; every take
// rolled after that is filed under it. Everyone sees which audition is on; observers cannot
// change it. The room refuses a change while a take rolls.
import { el } from "/dom.js";
const NEW = "\u0000new"; // the "add one" entry of each menu: never a name (names are printable)

export function describe(a) { return `${a.role} — ${a.actor}, ${a.production}`; }

// The actor's consent as the record holds it, in a line.
export function consentLine(a) {
  if (!a.consentAt && a.consent) { // given on the command line (serve --consent), not on the page
    return `Consent on record: "${a.consent}" ${a.consentUntil ? `until ${a.consentUntil}` : "with no end date"}.`;
  }
  if (!a.consentAt && !a.proposed) return "No use of the takes proposed to the actor yet.";
  if (!a.consentAt) {
    return `Proposed to the actor: "${a.proposed}"${a.proposedUntil ? ` until ${a.proposedUntil}` : ""}`
      + " — not agreed yet.";
  }
  return `The actor agreed: "${a.consent}" ${a.consentUntil ? `until ${a.consentUntil}` : "with no end date"}`
    + ` (${a.consentAt.replace("T", " ").replace("+00:00", " UTC")}, consent v${a.consentVersion}).`;
}

export class AuditionPanel {
  constructor(root, send) {
    this.$ = (id) => root.getElementById(id);
    this.send = send;
    this.current = null; // the audition served, as the room last said
    this.record = { productions: [], roles: [], actors: [] };
    this.room = { scenes: [], avatars: [] };
    this.director = false;
    const $ = this.$;
    $("aud-production").onchange = () => { this.roles(); this.toggle(); };
    $("aud-role").onchange = () => this.toggle();
    $("aud-actor").onchange = () => this.toggle();
    $("audition-form").onsubmit = (e) => { e.preventDefault(); this.open(); };
    $("aud-close").onclick = () => this.send({ type: "audition", action: "close" });
    for (const id of ["aud-pack", "aud-avatar"]) $(id).onchange = () => { $(id).dataset.touched = "1"; };
    $("aud-until").min = new Date().toLocaleDateString("en-CA"); // YYYY-MM-DD: from today
  }

  // A room with a casting record: show the panel; a director asks what can be chosen.
  start(role, room, status) {
    this.director = role === "director";
    this.room = room;
    this.status = status;
    this.$("audition-panel").hidden = false;
    this.$("aud-pack").replaceChildren(...room.scenes.map((s) => new Option(s, s)));
    this.$("aud-avatar").replaceChildren(...room.avatars.map((a) => new Option(a, a)));
    if (this.director) this.send({ type: "audition", action: "choices" });
    this.render();
  }

  // The room's current set and avatar: a new role's by default.
  follow(status) {
    this.status = status;
    this.$("aud-open").disabled = Boolean(status.take && status.take.rolling);
  }

  choices(msg) {
    this.record = msg;
    const keep = (id) => this.$(id).value;
    const [production, actor] = [keep("aud-production"), keep("aud-actor")];
    fill(this.$("aud-production"), msg.productions, "New production…");
    fill(this.$("aud-actor"), msg.actors, "New actor…");
    if (msg.productions.includes(production)) this.$("aud-production").value = production;
    if (msg.actors.includes(actor)) this.$("aud-actor").value = actor;
    this.roles();
    this.toggle();
  }

  roles() {
    const production = this.$("aud-production").value;
    const names = this.record.roles.filter((r) => r.production === production).map((r) => r.name);
    fill(this.$("aud-role"), names, "New role…");
  }

  // The fields for a new production, role or actor show when "New…" is chosen.
  toggle() {
    const $ = this.$;
    const newProduction = $("aud-production").value === NEW;
    if (newProduction) $("aud-role").value = NEW; // a new production has no roles yet
    $("aud-role").disabled = newProduction;
    $("aud-production-new").hidden = !newProduction;
    $("aud-role-new").hidden = $("aud-role").value !== NEW;
    $("aud-actor-new").hidden = $("aud-actor").value !== NEW;
    if (!$("aud-role-new").hidden && this.status) { // default: the room's set and avatar now
      if (!$("aud-pack").dataset.touched) $("aud-pack").value = this.status.scene;
      if (!$("aud-avatar").dataset.touched) $("aud-avatar").value = this.status.avatar;
    }
  }

  open() {
    const $ = this.$;
    const add = [];
    const pick = (menu, field, what) => {
      if ($(menu).value !== NEW) return $(menu).value;
      add.push(what);
      return $(field).value.trim();
    };
    const msg = {
      type: "audition", action: "open",
      production: pick("aud-production", "aud-production-new", "production"),
      role: pick("aud-role", "aud-role-name", "role"),
      actor: pick("aud-actor", "aud-actor-name", "actor"),
      use: $("aud-use").value.trim(),
      until: $("aud-until").value || null,
    };
    if (add.includes("role")) Object.assign(msg, { pack: $("aud-pack").value, avatar: $("aud-avatar").value });
    if (add.includes("actor")) Object.assign(msg, { contact: $("aud-contact").value.trim(), agent: $("aud-agent").value.trim() });
    msg.add = add;
    this.send(msg);
  }

  // The room's audition changed (or this page connected): everyone's view of it.
  shown(audition) {
    this.current = audition;
    if (this.director && audition) this.send({ type: "audition", action: "choices" }); // new names
    this.render();
  }

  render() {
    const a = this.current;
    this.$("audition-on").textContent = a
      ? `${describe(a)} (${a.date}): takes rolled now are filed under it.`
      : "No audition: takes rolled now are not filed.";
    this.$("audition-panel").dataset.audition = a ? String(a.id) : "";
    this.$("audition-consent").textContent = a ? consentLine(a) : "";
    this.$("audition-consent").dataset.agreed = a && a.consentAt ? "yes" : "no";
    this.$("aud-close").disabled = !a;
  }
}

function fill(menu, names, addLabel) {
  menu.replaceChildren(...names.map((n) => new Option(n, n)), el("option", "", addLabel));
  menu.lastChild.value = NEW;
}

// The actor's side of consent to the use of their takes: in a room whose director opened an
// audition, the consent screen shows the use the casting team proposes (and until when), and
// the actor accepts it or writes their own words and date. What they agree to is sent as
// `terms` and recorded on the audition. Without an audition, the consent screen is as before.
const USE_CHARS = 1000; // the room's bound (casting/choosing.py USE_CHARS)

export class TermsPanel {
  constructor(root) {
    this.$ = (id) => root.getElementById(id);
    this.audition = null; // the audition the room serves, as it last said
    this.agreed = null; // the audition id this page agreed to
    const $ = this.$;
    $("use-words").maxLength = USE_CHARS;
    $("use-until-date").min = new Date().toLocaleDateString("en-CA"); // YYYY-MM-DD: from today
    for (const radio of [$("use-accept"), $("use-own")]) radio.onchange = () => this.mode();
  }

  // The room's audition (null: none). True when the actor has something new to agree to.
  shown(audition) {
    const changed = !this.audition || !audition || audition.id !== this.audition.id;
    this.audition = audition;
    const $ = this.$;
    $("use").hidden = !audition;
    if (!audition) {
      $("retention").textContent = "Takes are kept in the room's takes folder until the casting team deletes them.";
      return false;
    }
    $("consent-room").textContent = `${audition.role} (${audition.production})`;
    $("use-proposed").textContent = audition.proposed || audition.consent || "This production's casting only";
    const until = audition.proposedUntil || audition.consentUntil;
    $("use-until").textContent = until ? `until ${until}, then deleted` : "with no end date set";
    $("retention").textContent = "Takes are kept and used only as you agree below, and deleted when it ends.";
    if (changed) { // a new audition: start from the proposal again
      $("use-accept").checked = true;
      $("use-words").value = "";
      $("use-until-date").value = until || "";
      this.mode();
    }
    return this.agreed !== audition.id;
  }

  mode() {
    const own = this.$("use-own").checked;
    this.$("use-words").disabled = !own;
    this.$("use-until-date").disabled = !own;
    if (own && !this.$("use-words").value) this.$("use-words").value = this.$("use-proposed").textContent;
  }

  // The `terms` message for what the actor agrees to now; null without an audition (or with
  // their own words left empty: then they agree to nothing yet).
  message(version) {
    const a = this.audition;
    if (!a) return null;
    const $ = this.$;
    const own = $("use-own").checked;
    const use = own ? $("use-words").value.trim().slice(0, USE_CHARS) : $("use-proposed").textContent;
    if (!use) return null;
    const until = own ? ($("use-until-date").value || null) : (a.proposedUntil || a.consentUntil || null);
    this.agreed = a.id;
    return { type: "terms", audition: a.id, use, until, version };
  }
}

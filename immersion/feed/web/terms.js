// The actor's side of consent to the use of their takes: in a room whose director opened an
// audition, the consent screen shows the use the casting team proposes (and until when), and
// the actor accepts it or writes their own words and date. What they agree to is sent as
// `terms` and recorded on the audition. Without an audition, the consent screen is as before.
const USE_CHARS = 1000; // the room's bound (casting/choosing.py USE_CHARS)
const REREAD_MS = 1500; // Agree waits this long after the proposal changed under the actor

// What the actor agrees to is this audition's this proposal (its id stays when reopened).
const proposal = (a) => JSON.stringify([a.id, a.proposed || "", a.proposedUntil || null]);

export class TermsPanel {
  constructor(root) {
    this.$ = (id) => root.getElementById(id);
    this.audition = null; // the audition the room serves, as it last said
    this.agreed = null; // the audition and proposal this page agreed to (proposal(audition))
    this.reread = 0; // the timer that gives Agree back after a proposal changed
    const $ = this.$;
    $("use-words").maxLength = USE_CHARS;
    $("use-until-date").min = new Date().toLocaleDateString("en-CA"); // YYYY-MM-DD: from today
    for (const radio of [$("use-accept"), $("use-own")]) radio.onchange = () => this.mode();
  }

  // The room's audition (null: none). True when the actor has something new to agree to: another
  // audition, or another proposal for this one (a director may reopen it with a new use).
  shown(audition) {
    const was = this.audition ? proposal(this.audition) : null;
    const changed = !audition || proposal(audition) !== was;
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
    // Text swapped while the actor reads it: say so, and let no click already on its way agree.
    $("use-changed").hidden = !(changed && was !== null);
    if (changed) { // a new audition or proposal: start from the proposal again
      if (was !== null) { // from the last change on: two in a row wait for the second
        $("agree").disabled = true;
        clearTimeout(this.reread);
        this.reread = setTimeout(() => { $("agree").disabled = false; }, REREAD_MS);
      }
      $("use-accept").checked = true;
      $("use-words").value = "";
      $("use-until-date").value = until || "";
      this.mode();
    }
    return this.agreed !== proposal(audition);
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
    this.agreed = proposal(a);
    $("use-changed").hidden = true;
    // The proposal as shown: the room refuses the consent if it changed since.
    return { type: "terms", audition: a.id, use, until, version, proposed: a.proposed || "", proposedUntil: a.proposedUntil || null };
  }
}

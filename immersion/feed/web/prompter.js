// The sides on the actor's teleprompter, as the room says they stand ({text, line}): the casting
// page and the actor's page show them alike, in #sides, #sides-shown and #sides-where.
export const PROMPTER_LINES = 8; // what the actor's panel shows at once

export function showSides(msg) {
  const $ = (id) => document.getElementById(id);
  const lines = msg.text.split("\n");
  $("sides").hidden = false;
  $("sides-shown").textContent = lines.slice(msg.line, msg.line + PROMPTER_LINES).join("\n");
  $("sides-where").textContent = `line ${msg.line + 1} of ${lines.length}`;
}

// A presentation's page, for people outside the room: its link (?present=TOKEN) shows only the
// takes a director chose. It asks the viewer's name once (kept in this browser), lists the
// takes and replays them, one or several side by side. The room has one stage: pictures come
// only while it plays this presentation's takes, and everyone watching shares that playback.
// The viewer's name and the time are drawn into the picture by this page (decoder.js).
import { PictureLag, VoiceTiming, lazyPlayer, parseAudio, showListening } from "/audio.js";
import { el, clock } from "/dom.js";
const $ = (id) => document.getElementById(id);
const NAME_KEY = "immersion.viewerName";
const MAX_SIDE_BY_SIDE = 4;
const token = new URLSearchParams(location.search).get("present") || "";
const worker = new Worker("/decoder.js");
const offscreen = $("view").transferControlToOffscreen();
worker.postMessage({ type: "init", canvas: offscreen }, [offscreen]);
const probes = new Map();
let probeId = 0;
let drawnCount = 0; // pictures drawn since the page opened
let socket = null;
let shown = null; // the presentation: {title, expires, showNotes, viewer, takes}
let replay = null; // the room's replay, when it is of this presentation's takes
let refused = false;
let retries = 0;
let sayTimer = null;
let limits = { messageBytes: 4096 };
const chosen = new Set();
const utf8 = new TextEncoder();

function send(obj) {
  const text = JSON.stringify(obj);
  if (utf8.encode(text).length > limits.messageBytes) return;
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(text);
}

function say(text, seconds = 0, kind = "") {
  const m = $("message");
  m.textContent = text; m.hidden = !text; m.dataset.kind = kind;
  clearTimeout(sayTimer);
  if (text && seconds) sayTimer = setTimeout(() => { m.hidden = true; }, seconds * 1000);
}

function refuse(why) {
  refused = true;
  $("refused-why").textContent = why;
  $("refused").hidden = false;
  $("placeholder").hidden = true;
  for (const b of document.querySelectorAll("aside button, aside input")) b.disabled = true;
}

// The name, asked once ---------------------------------------------------------------------------
function start() {
  const name = (localStorage.getItem(NAME_KEY) || "").trim();
  if (name) { connect(name); return; }
  $("name-form").hidden = false;
  $("viewer-name").focus();
}
$("name-form").onsubmit = (e) => {
  e.preventDefault();
  const name = $("viewer-name").value.trim();
  if (!name) return;
  localStorage.setItem(NAME_KEY, name);
  $("name-form").hidden = true;
  connect(name);
};

$("not-me").onclick = () => { localStorage.removeItem(NAME_KEY); location.reload(); };

function connect(name) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = `present=${encodeURIComponent(token)}&name=${encodeURIComponent(name)}`;
  socket = new WebSocket(`${scheme}://${location.host}/feed?${query}`);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => {
    const h264 = typeof VideoDecoder !== "undefined";
    send({ type: "hello", codecs: h264 ? ["h264", "jpeg"] : ["jpeg"], audio: true });
  };
  socket.onmessage = (event) => {
    if (typeof event.data !== "string") {
      if (new Uint8Array(event.data, 0, 4)[2] === 0x41) voice(parseAudio(event.data)); // "IMA1"
      else worker.postMessage({ type: "video", buffer: event.data }, [event.data]);
      return;
    }
    const msg = JSON.parse(event.data);
    if (msg.type === "presentation") { retries = 0; welcome(msg); }
    else if (msg.type === "status") status(msg);
    else if (msg.type === "error" && msg.scope === "presentation") refuse(msg.message);
    else if (msg.type === "error") say(msg.message, 8, "error");
  };
  socket.onclose = (event) => {
    if (refused) return;
    if (!shown) { refuse(event.reason ? `Refused (${event.reason}).` : "Refused: this link is not valid for the room."); return; }
    if (event.code === 1001) { say("The room has closed."); return; }
    retries++;
    const wait = Math.min(10, 2 ** Math.min(retries, 4) / 2);
    say(`Disconnected; reconnecting in ${wait} s…`);
    setTimeout(() => connect(name), wait * 1000);
  };
}

worker.onmessage = (event) => {
  const msg = event.data;
  if (msg.type === "dropped") send({ type: "ack", frame: msg.frame, drawn: false });
  else if (msg.type === "drawn") { drawnCount++; send({ type: "ack", frame: msg.frame }); videoLag.add(msg.drawnAt * 1000 - performance.timeOrigin - msg.captureT * 1000); }
  else if (msg.type === "fallback") send({ type: "codec", codec: "jpeg" });
  else if (msg.type === "probe") { probes.get(msg.id)(msg.result); probes.delete(msg.id); }
};

// The presentation ------------------------------------------------------------------------------
function welcome(msg) {
  shown = msg.presentation;
  limits = msg.limits || limits;
  worker.postMessage({ type: "stamp", text: shown.viewer });
  $("who").textContent = shown.viewer;
  $("not-me").hidden = false;
  $("title").textContent = shown.title;
  $("expires").textContent = `· link open until ${shown.expires.replace("T", " ").replace("+00:00", " UTC")}`;
  document.title = `${shown.title} — Immersion`;
  $("present-takes").replaceChildren(...shown.takes.map((t, k) => takeRow(t, k)));
}

// A take's row: its number in the presentation tells two takes of one actor apart.
function takeRow(t, k) {
  const li = el("li", "present-take");
  li.dataset.file = t.file;
  const pick = el("input", "pick");
  pick.type = "checkbox";
  pick.title = "Choose for side by side";
  pick.setAttribute("aria-label", `Choose ${t.role}, ${t.actor}`);
  pick.onchange = () => { if (pick.checked) chosen.add(t.file); else chosen.delete(t.file); chosenButton(); };
  const play = el("button", "play-take", "Play");
  play.type = "button";
  play.onclick = () => send({ type: "replay", action: "start", take: t.file });
  const line = el("div", "lib-line");
  line.append(pick, el("span", "lib-name", `${k + 1}. ${t.role} — ${t.actor}`), el("span", "lib-meta", clock(t.duration)), play);
  li.append(line);
  if (t.notes && t.notes.length) {
    const notes = el("ul", "notes");
    notes.append(...t.notes.map((n) => el("li", "", `${n.kind === "marker" ? "◆" : "✎"} ${n.t.toFixed(1)} s: ${n.text}`)));
    li.append(notes);
  }
  return li;
}

function chosenButton() {
  const n = chosen.size;
  $("play-chosen").disabled = n < 2 || n > MAX_SIDE_BY_SIDE;
  $("play-chosen").title = n > MAX_SIDE_BY_SIDE ? `At most ${MAX_SIDE_BY_SIDE} side by side` : "Play the chosen takes side by side";
}
$("play-chosen").onclick = () => {
  const takes = shown.takes.map((t) => t.file).filter((f) => chosen.has(f)); // the list's order
  send({ type: "replay", action: "start", takes });
};
$("pause").onclick = () => send({ type: "replay", action: replay && replay.state === "paused" ? "resume" : "pause" });
$("stop").onclick = () => send({ type: "replay", action: "stop" });
$("replay-bar").onclick = (e) => {
  if (!replay || !replay.duration) return;
  const box = $("replay-bar").getBoundingClientRect();
  const at = Math.min(Math.max((e.clientX - box.left) / box.width, 0), 1) * replay.duration;
  send({ type: "replay", action: "seek", position: Math.round(at * 100) / 100 });
};

const names = (r) => (r.takes ? r.takes.map((t) => t.take) : [r.take]);
const label = (file) => { const t = shown && shown.takes.find((x) => x.file === file); return t ? `${t.role} — ${t.actor}` : file; };

function status(s) {
  replay = s.replay;
  const on = Boolean(replay && (replay.state === "playing" || replay.state === "paused"));
  $("placeholder").hidden = on || refused;
  $("placeholder-why").textContent = s.busy
    ? `Not now: ${s.busy}.`
    : "Pick a take on the right and press Play; choose several to see them side by side.";
  for (const b of document.querySelectorAll(".play-take")) b.disabled = Boolean(s.busy);
  if (s.busy) $("play-chosen").disabled = true; else chosenButton();
  $("pause").disabled = !on;
  $("pause").textContent = replay && replay.state === "paused" ? "Play" : "Pause";
  $("stop").disabled = !replay;
  $("replay-state").textContent = !replay ? "Nothing plays."
    : `${replay.state === "paused" ? "Paused" : replay.state === "loading" ? "Loading" : "Playing"}: ${names(replay).map(label).join(" | ")}`
      + (replay.duration ? `, ${replay.t?.toFixed(1)} / ${replay.duration.toFixed(1)} s` : "");
  $("replay-bar").hidden = !(replay && replay.duration);
  $("replay-done").style.width = replay && replay.duration ? `${(100 * replay.t) / replay.duration}%` : "0";
  const marks = (replay && replay.marks) || [];
  $("replay-ticks").replaceChildren(...marks.map((m) => {
    const tick = el("span", `replay-tick ${m.kind}`);
    tick.style.left = `${(100 * m.t) / (replay.duration || 1)}%`;
    tick.title = `${m.t.toFixed(1)} s ${m.kind}: ${m.text}`;
    return tick;
  }));
  // Several takes side by side: whose voice is heard.
  const several = replay && replay.takes && replay.takes.length > 1 ? replay.takes : [];
  $("voices").replaceChildren(...several.map((t, k) => {
    const b = el("button", replay.voice === k ? "active" : "", `Voice: ${label(t.take)}`);
    b.type = "button";
    b.onclick = () => send({ type: "replay", action: "voice", index: k });
    return b;
  }));
}

// Voice: played when the picture of the same moment is drawn (as on the casting page).
const videoLag = new PictureLag();
const voiceTiming = new VoiceTiming();
let player = null;
let voiceKey = 0;
const ensurePlayer = lazyPlayer(
  () => say("This browser cannot play the takes' voice (no WebCodecs Opus).", 8, "error"),
  (made) => { player = made; listenButton(); });
const listenButton = () => showListening($("listen"), player);
$("listen").onclick = async () => { const p = await ensurePlayer(); if (p) { await p.resume(); listenButton(); } };
function voice(packet) {
  if (packet.source !== "voice") return;
  if (!player) { ensurePlayer(); return; }
  const captured = packet.captureT * 1000;
  const delay = voiceTiming.delay(captured, performance.now(), videoLag.get());
  player.push(packet.opus, captured + delay, (voiceKey += 20000));
}

// For tests: what the canvas shows now (decoder.js's probe: brightness and an 8x8 grid).
window.immersion = {
  probe: () => new Promise((resolve) => { const id = ++probeId; probes.set(id, resolve);
                                         worker.postMessage({ type: "probe", id }); }),
  drawn: () => drawnCount,
  open: () => Boolean(socket && socket.readyState === WebSocket.OPEN),
};
start();

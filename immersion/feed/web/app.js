// The casting page: connects with the token from its own URL, hands video to the decoder
// worker, plays the actor's voice in step with the picture, shows status, and sends a
// director's controls and talkback. No build step, no dependencies.
import {
  MicEncoder, PictureLag, VoicePlayer, VoiceTiming, lazyPlayer, parseAudio, showListening, voiceMessage,
} from "/audio.js";
import { showSides } from "/prompter.js";
import { Library } from "/library.js";
import { ReplayBar } from "/replay.js";
import { AuditionPanel } from "/audition.js";
import { Presenter } from "/presentations.js";
const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get("token") || "";
const canvas = $("view");
const worker = new Worker("/decoder.js");
const offscreen = canvas.transferControlToOffscreen();
worker.postMessage({ type: "init", canvas: offscreen }, [offscreen]);
let socket = null;
let role = null;
let drawn = []; // when each frame of the last 2 s was drawn, for the fps readout
let drawnTotal = 0;
// Render → drawn on this screen, ms. The room's clock is lined up with ours from the status
// messages (each carries the room clock when it was made): the smallest gap seen is the offset.
let clockOffset = Infinity;
const glass = [];
const wallNow = () => (performance.timeOrigin + performance.now()) / 1000;
const probes = new Map();
let probeId = 0;

const traffic = { sent: 0, received: 0 }; // bytes on the socket, for the readout and benchmarks
let takeList = []; // [{file, started, duration?, notes: [...]}], oldest first
let cameraNames = "";
let limits = { cueChars: 200, noteChars: 2000, messageBytes: 4096 };
let sayTimer = null;
let retries = 0;
const utf8 = new TextEncoder();
const replay = new ReplayBar($("replay-panel"), (m) => send(m), $("strips"));
const library = new Library($("library-panel"), $("library"), $("library-search"), (m) => send(m), replay);
const audition = new AuditionPanel(document, (m) => send(m));
const presenter = new Presenter($("present-panel"), (m) => send(m), library); // presentations.js
library.decorate = (li, t) => presenter.decorate(li, t);

function send(obj) {
  const text = JSON.stringify(obj);
  if (utf8.encode(text).length > limits.messageBytes) { // the room would close the socket
    say(`Too long for the room: at most ${limits.messageBytes} bytes a message.`, 6, "error");
    return false;
  }
  if (socket && socket.readyState === WebSocket.OPEN) { socket.send(text); traffic.sent += text.length; }
  return true;
}
// A message over the picture; transient ones (errors, confirmations) clear by themselves.
function say(text, seconds = 0, kind = "") {
  const m = $("message");
  m.textContent = text; m.hidden = !text; m.dataset.kind = kind;
  clearTimeout(sayTimer);
  if (text && seconds) sayTimer = setTimeout(() => { m.hidden = true; m.textContent = ""; }, seconds * 1000);
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/feed?token=${encodeURIComponent(token)}`);
  socket.binaryType = "arraybuffer";
  socket.onopen = () => {
    const h264 = typeof VideoDecoder !== "undefined";
    send({ type: "hello", codecs: h264 ? ["h264", "jpeg"] : ["jpeg"], audio: audioWanted });
    if (!h264) {
      say(window.isSecureContext
        ? "JPEG: this browser has no WebCodecs H.264 decoder."
        : "JPEG, not H.264: this page is not secure (plain http on a network name), and browsers "
          + "decode H.264 only on secure pages. Ask for the room's https link (serve --tls).", 12, "info");
      $("codec").title = "H.264 needs a secure page (https)";
    }
  };
  socket.onmessage = (event) => {
    traffic.received += typeof event.data === "string" ? event.data.length : event.data.byteLength;
    if (typeof event.data !== "string") {
      if (new Uint8Array(event.data, 0, 4)[2] === 0x41) voice(parseAudio(event.data)); // "IMA1"
      else worker.postMessage({ type: "video", buffer: event.data }, [event.data]);
      return;
    }
    const msg = JSON.parse(event.data);
    if (msg.type === "welcome") { retries = 0; welcome(msg); }
    else if (msg.type === "status") status(msg);
    else if (msg.type === "takes") { takeList = msg.takes; takes(); }
    else if (msg.type === "take") takeChanged(msg.take);
    else if (msg.type === "note") noteAdded(msg.file, msg.note);
    else if (msg.type === "cued") say(`Cue "${msg.text}": ${msg.where}.`, 5, "ok");
    else if (msg.type === "sides") sides(msg);
    else if (msg.type === "library") library.listed(msg);
    else if (msg.type === "libraryChanged") library.changed(msg);
    else if (msg.type === "audition") audition.shown(msg.audition);
    else if (msg.type === "auditionChoices") audition.choices(msg);
    else if (msg.type === "presentations") presenter.listed(msg);
    else if (msg.type === "presentationMade") presenter.made(msg);
    else if (msg.type === "error") say(msg.message, 8, "error");
  };
  socket.onclose = (event) => {
    $("role").textContent = "disconnected";
    if (!role) { // never welcomed: the token (or the page's address) was refused
      say("Refused: this link's token is not valid for the room.");
      return;
    }
    if (event.code === 1001) { say("The room has closed."); return; }
    // A dropped network, a stall or a restart: try again, waiting longer each time (up to 10 s).
    retries++;
    const wait = Math.min(10, 2 ** Math.min(retries, 4) / 2);
    say(`Disconnected (${event.reason || event.code}); reconnecting in ${wait} s…`);
    setTimeout(connect, wait * 1000);
  };
}

worker.onmessage = (event) => {
  const msg = event.data;
  if (msg.type === "dropped") {
    send({ type: "ack", frame: msg.frame, drawn: false });
  } else if (msg.type === "drawn") {
    send({ type: "ack", frame: msg.frame });
    // Capture (room clock) → drawn here (our clock): what the voice is delayed to match.
    videoLag.add(msg.drawnAt * 1000 - performance.timeOrigin - msg.captureT * 1000);
    if (clockOffset !== Infinity) {
      glass.push((msg.drawnAt - clockOffset - msg.renderT) * 1000);
      if (glass.length > 3000) glass.splice(0, glass.length - 3000);
    }
    const now = performance.now();
    drawnTotal++;
    drawn.push(now);
    drawn = drawn.filter((t) => now - t < 2000);
    $("fps").textContent = `${(drawn.length / 2).toFixed(0)} fps`;
    $("codec").textContent = msg.codec.toUpperCase();
    $("skipped").textContent = msg.skipped ? `${msg.skipped} skipped` : "";
  } else if (msg.type === "fallback") {
    say(`Switching to JPEG: ${msg.reason}`);
    send({ type: "codec", codec: "jpeg" });
  } else if (msg.type === "probe") {
    probes.get(msg.id)(msg.result);
    probes.delete(msg.id);
  }
};

function welcome(msg) {
  role = msg.role;
  document.body.classList.toggle("observer", role !== "director");
  $("role").textContent = role;
  const scene = $("scene"), avatar = $("avatar");
  scene.replaceChildren(...msg.room.scenes.map((s) => new Option(s, s)));
  avatar.replaceChildren(...msg.room.avatars.map((a) => new Option(a, a)));
  limits = msg.limits;
  $("note").maxLength = limits.noteChars;
  $("reader-avatar").replaceChildren(...msg.room.avatars.map((a) => new Option(a, a)));
  readerTakes = new Set(msg.room.takes || []);
  readerTakeOptions();
  status(msg.status);
  if (msg.room.library) library.start(role, limits); // a room with a casting record
  if (msg.room.library) audition.start(role, msg.room, msg.status);
  if (msg.room.library) presenter.start(role);
}

function cameras(names) {
  if (names.join("\n") === cameraNames) return; // the same set's presets: keep the buttons
  cameraNames = names.join("\n");
  $("cameras").replaceChildren(...names.map((name) => {
    const b = document.createElement("button");
    b.textContent = name; b.dataset.camera = name;
    b.onclick = () => send({ type: "camera", name });
    return b;
  }));
}

const LIMB_NAMES = { head: "Head", torso: "Torso", leftArm: "Left arm", rightArm: "Right arm",
                     leftLeg: "Left leg", rightLeg: "Right leg" };

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function status(s) {
  clockOffset = Math.min(clockOffset, wallNow() - s.now);
  audition.follow(s); // a new role's default set and avatar; no change while a take rolls
  const actor = { actor: "The actor is performing from their page.",
                  "actor disconnected": "The actor's page is disconnected; their character holds still." }[s.source];
  $("actor-state").textContent = actor || (s.source === "ended"
    ? "No actor's page connected, and the room's own source has ended."
    : `No actor's page connected: the room plays its ${s.source}.`);
  if (glass.length) $("latency").textContent = `${median(glass.slice(-60)).toFixed(0)} ms`;
  $("scene-title").textContent = s.scene;
  $("avatar-title").textContent = s.avatar;
  $("avatar-licence").textContent = s.avatarLicence ? `(${s.avatarLicence.split("; ").slice(1).join("; ")})` : "";
  if ($("scene").value !== s.scene) $("scene").value = s.scene;
  if ($("avatar").value !== s.avatar) $("avatar").value = s.avatar;
  cameras(s.cameras);
  for (const b of $("cameras").children) b.classList.toggle("active", b.dataset.camera === s.camera);
  readerStatus(s.reader);
  replay.status(s.replay, role === "director");
  $("rolling").hidden = !s.take.rolling;
  $("take-start").disabled = s.take.rolling; // a refused take may be tried again: it re-checks
  $("take-start").title = s.take.refused || "";
  $("take-refused").textContent = s.take.refused || "";
  $("take-stop").disabled = !s.take.rolling;
  if (s.take.rolling) {
    const secs = Math.max(0, s.now - s.take.since);
    $("take-clock").textContent = `${Math.floor(secs / 60)}:${String(Math.floor(secs % 60)).padStart(2, "0")}`;
  }
  const lat = s.latencyMs || {};
  $("stages").replaceChildren(...[["Capture fps", s.captureFps], ["Render fps", s.renderFps],
    ["Capture", lat.capture], ["Render", lat.render], ["Encode", lat.encode], ["Send", lat.send],
    ["Render → drawn here", glass.length ? median(glass.slice(-60)) : null], ["Viewers", s.viewers],
    ...(s.headset ? [["Headset", headsetLine(s.headset)]] : [])].map(([k, v]) => {
    const tr = document.createElement("tr");
    tr.innerHTML = "<td></td><td></td>";
    tr.cells[0].textContent = k;
    tr.cells[1].textContent = v == null ? "—" : (typeof v === "number" && !Number.isInteger(v) ? v.toFixed(1) : v);
    return tr;
  }));
  $("confidence").replaceChildren(...Object.entries(s.confidence || {}).map(([limb, c]) => {
    const li = document.createElement("li");
    li.innerHTML = '<span></span><span class="meter"><i></i></span><span></span>';
    li.children[0].textContent = LIMB_NAMES[limb] || limb;
    const bar = li.querySelector("i");
    bar.style.width = `${Math.round(c * 100)}%`;
    bar.className = c >= 0.8 ? "" : c >= 0.5 ? "warn" : "bad";
    li.children[2].textContent = `${Math.round(c * 100)}%`;
    return li;
  }));
}

function headsetLine(h) {
  if (h.state === "unavailable" || h.state === "off" || h.state === "ended") return h.state;
  return `${h.state.toLowerCase()}${h.fps ? `, ${h.fps.toFixed(0)} fps` : ""}`;
}

function takeChanged(take) {
  const known = takeList.find((t) => t.file === take.file);
  if (known) Object.assign(known, take);
  else takeList.push({ ...take, notes: [] });
  takes();
}

function noteAdded(file, note) {
  let take = takeList.length ? takeList[takeList.length - 1] : null;
  if (!take || take.file !== file) {
    take = takeList.find((t) => t.file === file);
    if (!take) { take = { file, started: 0, notes: [] }; takeList.unshift(take); }
  }
  take.notes.push(note);
  if (take.notes.length > 500) take.notes.splice(0, take.notes.length - 500);
  takes();
}

function takes() {
  for (const t of takeList) if (t.file && t.duration != null) readerTakes.add(t.file);
  readerTakeOptions();
  $("takes").replaceChildren(...takeList.filter((t) => t.file || t.notes.length).map((t) => {
    const li = document.createElement("li");
    li.className = "take";
    const state = t.duration != null ? ` — ${t.duration.toFixed(1)} s` : " — rolling";
    li.textContent = t.file ? `${t.file}${state}` : "Notes outside takes";
    if (t.file && t.duration != null) li.append(" ", replay.button(t.file), " ", replay.pickBox(t.file));
    if (t.endedBy) {
      const why = document.createElement("div");
      why.className = "ended"; why.textContent = `stopped: ${t.endedBy}`;
      li.append(why);
    }
    const notes = document.createElement("ul");
    notes.className = "notes";
    for (const n of t.notes) {
      const item = document.createElement("li");
      const icon = { marker: "◆", actor: "▶ actor:", cue: "➜ cue:", event: "•" }[n.kind] || "✎";
      item.textContent = `${icon} ${(n.takeT ?? n.t).toFixed(1)} s: ${n.text}`;
      notes.append(item);
    }
    li.append(notes);
    return li;
  }));
}

$("scene").onchange = (e) => send({ type: "scene", name: e.target.value });
$("avatar").onchange = (e) => send({ type: "avatar", name: e.target.value });
$("take-start").onclick = () => send({ type: "take", action: "start" });
$("take-stop").onclick = () => send({ type: "take", action: "stop" });
$("marker").onclick = () => send({ type: "marker", label: "marker" });
$("cue").onclick = () => {
  const text = $("note").value.trim().slice(0, limits.cueChars);
  if (text && send({ type: "cue", text })) $("note").value = "";
};
// Sides: the scene's text on the actor's teleprompter -----------------------------------------

let shown = null; // {text, line}: what the room says the teleprompter holds

function sides(msg) {
  shown = msg;
  showSides(msg);
}

$("sides-file").onchange = async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  if (file.size > 4 * limits.sidesChars) { say(`${file.name}: too long for sides.`, 6, "error"); return; }
  $("sides-text").value = await file.text();
};
$("sides-form").onsubmit = (e) => {
  e.preventDefault();
  const text = $("sides-text").value.trim();
  if (!text) return;
  if (text.length > limits.sidesChars) { say(`Sides: at most ${limits.sidesChars} characters.`, 6, "error"); return; }
  send({ type: "sides", text });
};
$("sides-up").onclick = () => { if (shown) send({ type: "scroll", line: Math.max(0, shown.line - 1) }); };
$("sides-down").onclick = () => { if (shown) send({ type: "scroll", line: shown.line + 1 }); };

// The reader: a scene partner on the set's second mark plays a take, with its voice ------------

let readerTakes = new Set(); // take files the reader can play: the folder's, and those ended since
let readerShown = { state: "stopped" };

function readerTakeOptions() {
  const select = $("reader-take");
  const names = [...readerTakes].sort().reverse(); // newest first: names carry their time
  if (names.join("\n") === [...select.options].map((o) => o.value).join("\n")) return;
  const chosen = select.value;
  select.replaceChildren(...names.map((n) => new Option(n, n)));
  if (names.includes(chosen)) select.value = chosen;
  $("reader-start").disabled = !names.length;
}

function readerStatus(r) {
  readerShown = r || { state: "stopped" };
  const playing = readerShown.state === "playing", paused = readerShown.state === "paused";
  const at = readerShown.take ? ` ${readerShown.t.toFixed(1)} / ${readerShown.duration.toFixed(1)} s` : "";
  $("reader-state").textContent = {
    stopped: "No reader: a scene partner can play a take on the set's second mark.",
    loading: `Reader: ${readerShown.avatar} is stepping onto the mark to play ${readerShown.take}…`,
    playing: `Reader: ${readerShown.avatar} plays ${readerShown.take},${at}${readerShown.ended ? " (ended, holding)" : ""}.`,
    paused: `Reader: ${readerShown.avatar} paused in ${readerShown.take},${at}.`,
  }[readerShown.state] || "";
  $("reader-state").dataset.state = readerShown.state;
  $("reader-pause").textContent = paused ? "Resume" : "Pause";
  $("reader-pause").disabled = !(playing || paused);
  $("reader-restart").disabled = !(playing || paused);
  $("reader-stop").disabled = readerShown.state === "stopped";
}

$("reader-form").onsubmit = (e) => {
  e.preventDefault();
  const take = $("reader-take").value, avatar = $("reader-avatar").value;
  if (take && avatar) send({ type: "reader", action: "start", take, avatar });
};
$("reader-pause").onclick = () => send({ type: "reader", action: readerShown.state === "paused" ? "resume" : "pause" });
$("reader-restart").onclick = () => send({ type: "reader", action: "restart" });
$("reader-stop").onclick = () => send({ type: "reader", action: "stop" });

$("note-form").onsubmit = (e) => {
  e.preventDefault();
  const text = $("note").value.trim();
  if (text && send({ type: "note", text })) $("note").value = "";
};

// Voice ----------------------------------------------------------------------------------------
// The actor's voice plays when the picture of the same moment is drawn: each packet and frame
// carries its capture time on the room clock; the voice waits out the picture's longer path
// (render, encode, decode), and never less than the latest of its own recent arrivals (the
// jitter buffer: packets come in bursts when the actor's computer is busy).
const JITTER_MS = 10; // past the latest recent arrival
const audioWanted = true; // every page takes the voice; Listen decides whether it is heard
let player = null;
let voiceKey = 0;
const voiceTiming = new VoiceTiming(JITTER_MS);
const videoLag = new PictureLag();
const avOffsets = [];
const voiceDelays = []; // capture → played here, ms (room clock to ours: see status's offset)

const ensurePlayer = lazyPlayer(
  () => say("This browser cannot decode the actor's voice (no WebCodecs Opus).", 8, "error"),
  (made) => {
    made.setVolume(Number($("volume").value));
    made.onLevel = (db) => { $("voice-level").style.width = `${Math.max(0, 100 + db * 100 / 60)}%`; };
    player = made;
    listenButton();
  });
const listenButton = () => showListening($("listen"), player);

function voice(packet) {
  if (packet.source === "reader") { readerVoice(packet); return; }
  if (packet.source !== "voice") return;
  if (!player) { ensurePlayer(); return; }
  const captured = packet.captureT * 1000; // room clock, ms; the lags carry the offset
  const video = videoLag.get();
  const delay = voiceTiming.delay(captured, performance.now(), video);
  if (video !== null) { avOffsets.push(delay - video); if (avOffsets.length > 500) avOffsets.shift(); }
  voiceDelays.push(delay); if (voiceDelays.length > 500) voiceDelays.shift();
  player.push(packet.opus, captured + delay, (voiceKey += 20000));
}

// The reader's voice: its own decoder (two streams cannot share one), delayed as the actor's
// voice is, to meet the picture of the same moment.
let readerPlayer = null;
let readerStarting = null;
let readerKey = 0;
const readerLags = []; // capture → arrival here, ms, the last second of the reader's packets
const readerCounts = { heard: 0 };
const READER_MAX_WAIT_MS = 1000;
function readerVoice(packet) {
  readerCounts.heard++;
  if (!readerStarting) {
    readerStarting = ensurePlayer().then(async (main) => {
      if (!main) return null;
      const made = new VoicePlayer();
      await made.start();
      made.setVolume(Number($("volume").value));
      readerPlayer = made;
      return made;
    });
  }
  if (!readerPlayer) return;
  const captured = packet.captureT * 1000; // room clock, ms; the lags carry the offset
  readerLags.push(performance.now() - captured);
  if (readerLags.length > 50) readerLags.shift();
  // Both lags carry the clocks' offset. A picture's capture time stays put while the actor's pose
  // holds (the room's source ended): a picture path seconds longer than the voice's is that,
  // not a slow path, and the reader does not wait for it.
  const voiceDelay = Math.max(...readerLags) + JITTER_MS;
  const video = videoLag.get();
  const delay = video !== null && video - voiceDelay < READER_MAX_WAIT_MS ? Math.max(voiceDelay, video) : voiceDelay;
  readerPlayer.push(packet.opus, captured + delay, (readerKey += 20000));
}

$("listen").onclick = async () => {
  const made = await ensurePlayer();
  if (!made) return;
  if (made.suspended) await made.resume(); else await made.context.suspend();
  if (readerPlayer) { if (made.suspended) await readerPlayer.context.suspend(); else await readerPlayer.resume(); }
  listenButton();
};
$("volume").oninput = (e) => {
  if (player) player.setVolume(Number(e.target.value));
  if (readerPlayer) readerPlayer.setVolume(Number(e.target.value));
};

// Talkback: held, a director's microphone goes to the actor's page (and nowhere else).
let talk = null;
async function talkStart() {
  if (talk || role !== "director") return;
  $("talk").classList.add("held");
  talk = { stream: null, mic: null };
  try {
    const held = talk;
    held.stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, channelCount: 1, sampleRate: 48000 } });
    if (talk !== held) { for (const t of held.stream.getTracks()) t.stop(); return; } // let go already
    held.mic = new MicEncoder((capturedMs, bytes) => {
      if (socket && socket.readyState === WebSocket.OPEN && clockOffset !== Infinity) {
        // Our clock to the room's: the status messages' offset (wall seconds).
        const roomT = (performance.timeOrigin + capturedMs) / 1000 - clockOffset;
        const message = voiceMessage(true, roomT, bytes);
        socket.send(message);
        traffic.sent += message.byteLength;
      }
    });
    await held.mic.start(held.stream.getAudioTracks()[0]);
  } catch (e) {
    say(`Talkback needs the microphone (${e.name || e}).`, 6, "error");
    talkStop();
  }
}
function talkStop() {
  $("talk").classList.remove("held");
  if (!talk) return;
  if (talk.mic) talk.mic.stop();
  if (talk.stream) for (const t of talk.stream.getTracks()) t.stop();
  talk = null;
}
$("talk").onpointerdown = talkStart;
$("talk").onpointerup = talkStop;
$("talk").onpointerleave = talkStop;
$("talk").onkeydown = (e) => { if (e.key === " " && !e.repeat) talkStart(); };
$("talk").onkeyup = (e) => { if (e.key === " ") talkStop(); };

// For tests and curious directors: pixel statistics of the picture on the canvas.
window.immersion = {
  probe: () => new Promise((resolve) => { const id = ++probeId; probes.set(id, resolve);
                                         worker.postMessage({ type: "probe", id }); }),
  framesDrawn: () => drawnTotal,
  disconnect: () => socket && socket.close(4000, "closed from the page"), // the page reconnects
  latencies: () => glass.slice(),
  voiceLevels: () => (player ? player.levels.slice() : []), // [{t: performance ms, db}] played
  avOffsets: () => avOffsets.slice(), // voice delay − picture delay, ms: 0 is in step
  // Capture (room clock) → played or drawn here, ms, with the room clock lined up with ours.
  voiceLatencies: () => voiceDelays.map((d) => d - (clockOffset * 1000 - performance.timeOrigin)),
  videoLatencies: () => videoLag.values.map((d) => d - (clockOffset * 1000 - performance.timeOrigin)),
  talking: () => Boolean(talk && talk.mic),
  traffic: () => ({ ...traffic }),
  voiceCounts: () => (player ? { ...player.counts, late: player.late, state: player.context.state } : null),
  readerCounts: () => ({ ...readerCounts, ...(readerPlayer ? { ...readerPlayer.counts, late: readerPlayer.late } : {}) }),
  readerLevels: () => (readerPlayer ? readerPlayer.levels.slice() : []), // the reader's, played
  library: () => [...library.takes.values()].map((t) => ({ ...t })), // the take library's rows
  replay: () => JSON.parse(JSON.stringify(replay.shown)), // the replay as the last status had it
  audition: () => (audition.current ? { ...audition.current } : null), // the one served
};
ensurePlayer();
connect();

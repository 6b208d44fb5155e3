// The actor's page: consent first; then the camera stays here while MediaPipe (in this
// browser) turns it into landmarks, which go to the room with the microphone's voice. The page
// shows the room's picture (the actor as the character), the director's cues and talkback.
import { FilesetResolver, PoseLandmarker } from "/vendor/tasks-vision/vision_bundle.mjs";
import {
  MicEncoder, Offset, VoicePlayer, opusSupported, parseAudio, upstreamMessage, voiceMessage,
} from "/audio.js";

const CONSENT_VERSION = 1; // the consent text in actor.html; the room records which one was agreed
const SLOW_FPS = 15; // below this the performance reads as jerky: say so, offer the lite model
const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get("token") || "";
const worker = new Worker("/decoder.js");
const offscreen = $("view").transferControlToOffscreen();
worker.postMessage({ type: "init", canvas: offscreen }, [offscreen]);

let socket = null;
let role = null;
let consented = false; // the actor agreed (on this page, once)
let joined = false; // this socket has told the room so: only then does anything else go
let left = false;
let retries = 0;
let roomOffset = null; // room clock (ms) minus performance.now(), from the best clock reply
let clockSamples = []; // [{rtt, offset}]
let landmarker = null;
let modelName = "lite";
let stream = null;
let mic = null;
let player = null;
const talkLag = new Offset();
const stats = { bytesSent: 0, bytesReceived: 0, posesSent: 0, voiceSent: 0, modelMs: [], frames: [], since: performance.now() };
let slowSince = null;
let sayTimer = null;
let cueTimer = null;

function say(text, seconds = 0, kind = "") {
  const m = $("message");
  m.textContent = text; m.hidden = !text; m.dataset.kind = kind;
  clearTimeout(sayTimer);
  if (text && seconds) sayTimer = setTimeout(() => { m.hidden = true; }, seconds * 1000);
}

function join() {
  sendJson({ type: "consent", version: CONSENT_VERSION });
  joined = true;
}

function sendBinary(bytes) {
  // Nothing before the room has the actor's consent on this socket, nor without its clock.
  // A socket that cannot keep up gets no more until it drains: motion is latest-wins.
  if (!joined || roomOffset === null || socket.readyState !== WebSocket.OPEN
      || socket.bufferedAmount > 64 * 1024) return false;
  socket.send(bytes);
  stats.bytesSent += bytes.byteLength;
  return true;
}

function sendJson(obj) {
  if (socket && socket.readyState === WebSocket.OPEN) {
    const text = JSON.stringify(obj);
    socket.send(text);
    stats.bytesSent += text.length;
  }
}

const roomTime = (perfMs) => (perfMs + roomOffset) / 1000;

// Clock -------------------------------------------------------------------------------------

function clockReply(msg) {
  const now = performance.now();
  const rtt = now - msg.t;
  clockSamples.push({ rtt, offset: msg.room * 1000 - (msg.t + rtt / 2) });
  if (clockSamples.length > 12) clockSamples.shift();
  roomOffset = clockSamples.reduce((a, b) => (b.rtt < a.rtt ? b : a)).offset;
}

function pingClock() { sendJson({ type: "clock", t: performance.now() }); }
// Two clocks drift apart (tens of microseconds a second): line them up again now and then.
setInterval(pingClock, 10_000);

// Connection ---------------------------------------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/feed?token=${encodeURIComponent(token)}`);
  socket.binaryType = "arraybuffer";
  joined = false;
  clockSamples = [];
  socket.onopen = () => {
    if (left) { sendJson({ type: "leave" }); return; } // left while the link was down: say so
    sendJson({ type: "hello", codecs: typeof VideoDecoder !== "undefined" ? ["h264", "jpeg"] : ["jpeg"] });
    for (let k = 0; k < 5; k++) setTimeout(pingClock, k * 150);
  };
  socket.onmessage = (event) => {
    stats.bytesReceived += typeof event.data === "string" ? event.data.length : event.data.byteLength;
    if (typeof event.data !== "string") {
      const magic = new Uint8Array(event.data, 0, 4);
      if (magic[2] === 0x41) talkback(parseAudio(event.data)); // "IMA1"
      else worker.postMessage({ type: "video", buffer: event.data }, [event.data]);
      return;
    }
    const msg = JSON.parse(event.data);
    if (msg.type === "welcome") welcome(msg);
    else if (msg.type === "status") status(msg);
    else if (msg.type === "clock") clockReply(msg);
    else if (msg.type === "cue") cue(msg.cue, msg.text);
    else if (msg.type === "error") say(msg.message, 8, "error");
  };
  socket.onclose = (event) => {
    $("role").textContent = "disconnected";
    if (left) return;
    // Never welcomed: the token (or the page's address) was refused. Once welcomed, a failed
    // attempt is the network or a restarting room: keep trying.
    if (!role) { say("Refused: this link's token is not valid for the room. Ask the casting team for a new link."); return; }
    if (role !== "actor") return;
    if (event.code === 1001) { say("The room has closed. Thank you!"); return; }
    if (event.reason === "another page took over as the actor") {
      say("This audition continues in another window or device; this page has stopped.");
      stopDevices();
      return;
    }
    retries++;
    const wait = Math.min(10, 2 ** Math.min(retries, 4) / 2);
    say(`Connection lost (${event.reason || event.code}); reconnecting in ${wait} s… your character holds still meanwhile.`);
    setTimeout(connect, wait * 1000);
  };
}

worker.onmessage = (event) => {
  const msg = event.data; // the room's picture: acknowledged as the casting page does
  if (msg.type === "drawn") sendJson({ type: "ack", frame: msg.frame });
  else if (msg.type === "dropped") sendJson({ type: "ack", frame: msg.frame, drawn: false });
  else if (msg.type === "fallback") sendJson({ type: "codec", codec: "jpeg" });
};

function welcome(msg) {
  role = msg.role;
  retries = 0;
  $("role").textContent = role === "actor" ? "actor" : role;
  if (role !== "actor") {
    say("This is not an actor's link: open the casting page with it instead.");
    socket.close(1000, "not an actor's link");
    return;
  }
  $("consent-room").textContent = `${msg.status.scene} (${msg.status.avatar})`;
  status(msg.status);
  if (consented) { join(); say("Reconnected.", 3, "ok"); }
  else if (!$("consent").open) $("consent").showModal();
}

function status(s) {
  $("scene-title").textContent = s.scene;
  $("avatar-title").textContent = s.avatar;
  $("rolling").hidden = !s.take.rolling;
}

function cue(kind, text) {
  const el = $("cue");
  el.textContent = text; el.dataset.kind = kind; el.hidden = false;
  clearTimeout(cueTimer);
  cueTimer = setTimeout(() => { el.hidden = true; }, (kind === "note" ? 10 : 3) * 1000);
}

// Talkback -------------------------------------------------------------------------------------

let talkKey = 0;
function talkback(packet) {
  if (!player || roomOffset === null) return;
  const captured = packet.captureT * 1000 - roomOffset; // performance.now() clock
  const lag = talkLag.add(performance.now() - captured);
  player.push(packet.opus, captured + lag + 60, (talkKey += 20000)); // 60 ms absorbs jitter
  $("talk-state").textContent = "The director is talking to you.";
}

// Performing -----------------------------------------------------------------------------------

async function loadModel(name) {
  const fileset = await FilesetResolver.forVisionTasks("/vendor/tasks-vision/wasm");
  const made = await PoseLandmarker.createFromOptions(fileset, {
    baseOptions: { modelAssetPath: `/models/pose_landmarker_${name}.task`, delegate: "CPU" },
    runningMode: "VIDEO",
    numPoses: 1,
  });
  if (landmarker) landmarker.close();
  landmarker = made;
  modelName = name;
  $("model").value = name;
}

function poseMessage(roomT, world, image) {
  const { out, v } = upstreamMessage(1, 33, roomT, 33 * 13);
  const i16 = (x) => Math.max(-32768, Math.min(32767, Math.round(x * 10000)));
  for (let k = 0; k < 33; k++) {
    const w = world[k], p = image[k], o = 16 + k * 12;
    v.setInt16(o, i16(w.x)); v.setInt16(o + 2, i16(w.y)); v.setInt16(o + 4, i16(w.z));
    v.setInt16(o + 6, i16(p.x)); v.setInt16(o + 8, i16(p.y)); v.setInt16(o + 10, i16(p.z));
    v.setUint8(16 + 33 * 12 + k, Math.max(0, Math.min(255, Math.round((w.visibility ?? 1) * 255))));
  }
  return out;
}

let lastVideoTime = -1;
function onFrame(now, meta) {
  const video = $("self");
  if (!stream) return;
  video.requestVideoFrameCallback(onFrame);
  if (!landmarker || !joined || roomOffset === null || meta.mediaTime === lastVideoTime) return;
  lastVideoTime = meta.mediaTime;
  const captured = meta.captureTime || now; // when the camera took it, this page's clock
  const started = performance.now();
  const result = landmarker.detectForVideo(video, started);
  const ms = performance.now() - started;
  stats.modelMs.push(ms); if (stats.modelMs.length > 90) stats.modelMs.shift();
  stats.frames.push(started); while (stats.frames[0] < started - 2000) stats.frames.shift();
  if (result.worldLandmarks.length) {
    if (sendBinary(poseMessage(roomTime(captured), result.worldLandmarks[0], result.landmarks[0]))) stats.posesSent++;
  }
  rate();
}

function modelRate() { return stats.frames.length / 2; }

function rate() {
  const now = performance.now();
  const fps = modelRate();
  const median = [...stats.modelMs].sort((a, b) => a - b)[stats.modelMs.length >> 1] || 0;
  $("model-rate").textContent = `${fps.toFixed(0)} fps · ${median.toFixed(0)} ms a frame (${modelName})`;
  const seconds = (now - stats.since) / 1000;
  if (seconds > 1) $("sent").textContent = `${(stats.bytesSent * 8 / 1000 / seconds).toFixed(0)} kbit/s sent`;
  const warmedUp = now - stats.since > 4000;
  if (warmedUp && fps < SLOW_FPS) {
    slowSince = slowSince ?? now;
    if (now - slowSince > 3000) {
      say(`This computer works out your pose ${fps.toFixed(0)} times a second (${median.toFixed(0)} ms a frame); `
        + (modelName === "full" ? "choose the lite model (right) to keep up. " : "close other programs if you can. ")
        + "Your camera picture is still not sent.", 6, "info");
      slowSince = now;
    }
  } else slowSince = null;
}

async function start() {
  say("Starting your camera and microphone…");
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { width: 640, height: 480, frameRate: 30 },
      audio: { echoCancellation: true, noiseSuppression: true, channelCount: 1, sampleRate: 48000 },
    });
  } catch (e) {
    say(`The camera or microphone could not be opened (${e.name}): allow them for this page and reload.`, 0, "error");
    return;
  }
  const video = $("self");
  video.srcObject = stream;
  await video.play();
  say("Loading the pose model (it runs here, on this computer)…");
  try { await loadModel(modelName); } catch (e) {
    say(`The pose model could not start here (${e.message || e}); nothing is being sent.`, 0, "error");
    stopDevices();
    return;
  }
  consented = true;
  stats.since = performance.now();
  join();
  video.requestVideoFrameCallback(onFrame);
  const [track] = stream.getAudioTracks();
  if (track && await opusSupported()) {
    mic = new MicEncoder((captured, bytes) => {
      if (sendBinary(voiceMessage(false, roomTime(captured), bytes))) stats.voiceSent++;
    });
    await mic.start(track);
    meter(track, $("mic-level"));
  } else {
    say("This browser cannot encode your voice (no WebCodecs Opus): the room sees you but cannot hear you.", 10, "error");
  }
  player = new VoicePlayer();
  await player.start().catch(() => { player = null; });
  if (player) player.onLevel = (db) => { $("talk-level").style.width = `${Math.max(0, 100 + db * 100 / 60)}%`; };
  say("You're on. The room sees you as the character.", 4, "ok");
}

function meter(track, bar) {
  // The microphone's level, from its own samples (a second reader of the same track).
  const context = new AudioContext();
  const analyser = context.createAnalyser();
  context.createMediaStreamSource(new MediaStream([track])).connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  const tick = () => {
    analyser.getFloatTimeDomainData(buf);
    const rms = Math.sqrt(buf.reduce((s, x) => s + x * x, 0) / buf.length);
    const db = rms > 0 ? 20 * Math.log10(rms) : -120;
    bar.style.width = `${Math.max(0, 100 + db * 100 / 60)}%`;
    if (stream) requestAnimationFrame(tick);
  };
  tick();
}

function stopDevices() {
  consented = false;
  joined = false;
  if (mic) mic.stop();
  if (stream) for (const t of stream.getTracks()) t.stop();
  stream = null; mic = null;
}

$("agree").onclick = () => { start(); };
$("decline").onclick = () => {
  say("Nothing was started and nothing is sent. Close this page, or reload it if you change your mind.");
  left = true;
  if (socket) socket.close(1000, "the actor declined");
};
$("leave").onclick = () => {
  left = true;
  if (socket && socket.readyState === WebSocket.OPEN) sendJson({ type: "leave" });
  else connect(); // the link is down (reconnecting): the room still holds the character for us
  stopDevices();
  say("You left the audition; nothing is sent any more. Thank you! Reload this page to come back.");
};
$("model").onchange = (e) => { if (stream) loadModel(e.target.value); else modelName = e.target.value; };
document.addEventListener("click", () => { if (player && player.suspended) player.resume(); });

// For tests and benchmarks: what this page has sent, and how fast its model runs.
window.immersion = {
  sent: () => ({ ...stats, modelMs: [...stats.modelMs], frames: undefined, modelFps: modelRate(), roomOffset }),
  disconnect: () => socket && socket.close(4000, "closed from the page"),
  talkLevels: () => (player ? player.levels.slice() : []),
  consented: () => consented,
};
connect();

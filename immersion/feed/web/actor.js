// The actor's page: consent first; then the camera stays here while MediaPipe (in this
// browser) turns it into landmarks, which go to the room with the microphone's voice. The page
// shows the room's picture (the actor as the character), the director's cues and talkback.
// The body model runs on every frame; the face and hand landmarkers run in a worker (another
// core) on crops the body's image landmarks locate (upscaled: a face or hand is small in a
// webcam's picture), taking turns, and each one's last result goes with every pose until it
// runs again.
import { FilesetResolver, PoseLandmarker } from "/vendor/tasks-vision/vision_bundle.mjs";
import {
  MicEncoder, Offset, VoicePlayer, opusSupported, parseAudio, upstreamMessage, voiceMessage,
} from "/audio.js";
import { showSides } from "/prompter.js";
import { TermsPanel } from "/terms.js";

const CONSENT_VERSION = 4; // the consent text in actor.html; the room records which one was agreed
const SLOW_FPS = 15; // below this the performance reads as jerky: say so, offer the lite model
const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.search).get("token") || "";
const worker = new Worker("/decoder.js");
const offscreen = $("view").transferControlToOffscreen();
worker.postMessage({ type: "init", canvas: offscreen }, [offscreen]);
const terms = new TermsPanel(document); // the use of the takes, in a room with an audition

let socket = null;
let role = null;
let consented = false; // the actor agreed (on this page, once)
let starting = false; // they agreed and the camera and models are starting (not consented yet)
let joined = false; // this socket has told the room so: only then does anything else go
let left = false;
let retries = 0;
let roomOffset = null; // room clock (ms) minus performance.now(), from the best clock reply
let clockSamples = []; // [{rtt, offset}]
let landmarker = null;
let extras = null; // the face and hands worker, once its models are loaded
let useFace = true;
let useHands = true;
let pictureSent = ""; // "WxH" the room was last told
let modelName = "lite";
let stream = null;
let mic = null;
let player = null;
let partner = null; // the reader's voice (a scene partner playing a take): its own decoder
const talkLag = new Offset();
const partnerLag = new Offset();
let partnerKey = 0;
const stats = {
  bytesSent: 0, bytesReceived: 0, posesSent: 0, voiceSent: 0, modelMs: [], frames: [], since: performance.now(),
  // Per model: ms of each run (the last 90); how many poses carried each part.
  partMs: { body: [], face: [], hands: [] }, partsSent: { face: 0, left: 0, right: 0 },
  faceRuns: 0, faceFound: 0, handRuns: 0, handFound: 0,
};
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
  pictureSent = "";
  tellPicture();
}

function tellPicture() {
  // The camera picture's size (never the picture): image landmarks are fractions of it, and
  // the room's camera model (root motion) needs it.
  const video = $("self");
  const size = `${video.videoWidth}x${video.videoHeight}`;
  if (!joined || !video.videoWidth || size === pictureSent) return;
  sendJson({ type: "picture", width: video.videoWidth, height: video.videoHeight });
  pictureSent = size;
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
      if (magic[2] === 0x41) { // "IMA1"
        const packet = parseAudio(event.data);
        if (packet.source === "reader") partnerVoice(packet); else talkback(packet);
      }
      else worker.postMessage({ type: "video", buffer: event.data }, [event.data]);
      return;
    }
    const msg = JSON.parse(event.data);
    if (msg.type === "welcome") welcome(msg);
    else if (msg.type === "status") status(msg);
    else if (msg.type === "clock") clockReply(msg);
    else if (msg.type === "cue") cue(msg.cue, msg.text);
    else if (msg.type === "sides") sides(msg);
    else if (msg.type === "audition") audition(msg.audition);
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

// The sides on the teleprompter: the director puts them there; either of you scrolls them.
let shown = null;

function sides(msg) {
  shown = msg;
  showSides(msg);
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

// The scene partner's lines, as they are said on the set (the room sends them a little ahead).
function partnerVoice(packet) {
  if (!partner || roomOffset === null) return;
  const captured = packet.captureT * 1000 - roomOffset; // performance.now() clock
  const lag = partnerLag.add(performance.now() - captured);
  partner.push(packet.opus, captured + Math.max(lag, 0) + 60, (partnerKey += 20000));
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

function loadFaceAndHands() {
  // Neither is needed for the body: if they cannot start, the page says so and goes on.
  const worker = new Worker("/extras.worker.js");
  worker.onmessage = (event) => {
    const msg = event.data;
    if (msg.type === "ready") extras = worker;
    else if (msg.type === "failed") {
      say(`The face and hand models could not start here (${msg.error}); your body is still captured.`, 10, "error");
      worker.terminate();
    } else if (msg.type === "result") answer(msg);
  };
  worker.onerror = (e) => {
    say(`The face and hand models stopped (${e.message}); your body is still captured.`, 10, "error");
    extras = null; job = null;
    held.face = held.left = held.right = null; // nothing held goes on as if still seen
  };
  worker.postMessage({ type: "init" });
}

// MediaPipe's blendshape names, less its "_neutral", in the ARKit order of capture/face.py.
const ARKIT = [
  "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
  "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight",
  "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft",
  "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
  "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen", "jawRight", "mouthClose",
  "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
  "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft",
  "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper",
  "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight",
  "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
  "noseSneerLeft", "noseSneerRight", "tongueOut",
];
const ARKIT_INDEX = new Map(ARKIT.map((name, k) => [name, k]));

// Crops ----------------------------------------------------------------------------------------
// As capture/crops.py: the face's square around the head's landmarks, `scale` times their span
// (never under `minSide` px), kept inside the picture; a hand's sized by the forearm and the
// knuckles' reach, centred past the knuckles, running off the picture rather than off the hand
// (createImageBitmap pads it black); both drawn upscaled to CROP_PX.
const CROP_PX = 256; // the face detector takes 128, the mesh 192; palm detection 192, hands 224
const HEAD = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]; // nose, eyes, ears, mouth
const HAND = { left: [15, 19, 17, 21, 13], right: [16, 20, 18, 22, 14] }; // wrist, index, pinky, thumb, elbow
const WRIST = { left: 15, right: 16 };
const FACE_SCALE = 5.0;
const HAND_FOREARM_SPAN = 1.6;
const HAND_KNUCKLE_SPAN = 5.0;
const MIN_CROP_PX = 48;
const MATCH_WITHIN = 0.5; // a found hand's wrist farther from the body's (in crop sides) is not it
const PALM_METRES = [0.03, 0.2]; // wrist → middle knuckle of a real hand, as capture/hands.py
const VISIBLE = 0.5; // a body landmark less visible than this does not place a crop

function box(image, indices, width, height, scale, minSide) {
  const xs = indices.map((k) => image[k].x * width), ys = indices.map((k) => image[k].y * height);
  if (![...xs, ...ys].every(Number.isFinite)) return null;
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const side = Math.round(Math.min(Math.max(Math.max(x1 - x0, y1 - y0) * scale, minSide), width, height));
  if (side < 2) return null;
  const x = Math.round(Math.min(Math.max((x0 + x1) / 2 - side / 2, 0), width - side));
  const y = Math.round(Math.min(Math.max((y0 + y1) / 2 - side / 2, 0), height - side));
  return { x, y, side };
}

function handBox(image, part, width, height) {
  const [wrist, index, pinky, thumb, elbow] = HAND[part].map((k) => [image[k].x * width, image[k].y * height]);
  if (![wrist, index, pinky, thumb, elbow].flat().every(Number.isFinite)) return null;
  const knuckles = [(index[0] + pinky[0]) / 2, (index[1] + pinky[1]) / 2];
  const reach = Math.hypot(knuckles[0] - wrist[0], knuckles[1] - wrist[1]);
  const forearm = Math.hypot(wrist[0] - elbow[0], wrist[1] - elbow[1]);
  const side = Math.max(HAND_FOREARM_SPAN * forearm, HAND_KNUCKLE_SPAN * reach, MIN_CROP_PX);
  const cx = (wrist[0] + index[0] + pinky[0] + thumb[0]) / 4 + 0.5 * (knuckles[0] - wrist[0]);
  const cy = (wrist[1] + index[1] + pinky[1] + thumb[1]) / 4 + 0.5 * (knuckles[1] - wrist[1]);
  return { x: Math.round(cx - side / 2), y: Math.round(cy - side / 2), side: Math.round(side) };
}

function visible(image, indices, least = 1) {
  return indices.filter((k) => (image[k].visibility ?? 1) >= VISIBLE).length >= least;
}

// Face and hands ---------------------------------------------------------------------------------

const held = { face: null, left: null, right: null }; // each part's last result until it runs again
// The rota: the face, then a hand, in turn (left, then right), one job in the worker at a time,
// so the worker's core is busy while the body model runs on this one.
const ROTA = ["face", "left", "face", "right"];
let turn = 0;
let job = null; // {id, part, box, image (the body's image landmarks), width, height}
let jobs = 0;

function cropFor(part, image, w, h) {
  if (part === "face") {
    if (!useFace || !visible(image, HEAD, 3)) return null;
    return box(image, HEAD, w, h, FACE_SCALE, MIN_CROP_PX);
  }
  if (!useHands || !visible(image, [WRIST[part]])) return null;
  return handBox(image, part, w, h);
}

// While the body model runs slower than this, the worker rests as long as it last worked: the
// body (every frame) and the voice come first on a computer with few cores to share.
const BUSY_BELOW_FPS = 24;
let restUntil = 0;

function startExtras(video, image) {
  // The next part with something to crop gets the worker; the others are not in view (or
  // turned off): their held result goes.
  if (!extras || job || performance.now() < restUntil) return;
  const w = video.videoWidth, h = video.videoHeight;
  for (let k = 0; k < ROTA.length; k++) {
    const part = ROTA[turn++ % ROTA.length];
    const b = cropFor(part, image, w, h);
    if (!b) { held[part] = null; continue; }
    job = { id: ++jobs, part, box: b, image, width: w, height: h };
    const id = job.id;
    createImageBitmap(video, b.x, b.y, b.side, b.side,
      { resizeWidth: CROP_PX, resizeHeight: CROP_PX, resizeQuality: "medium" })
      .then((bitmap) => extras.postMessage({ type: "run", id, part, bitmap, t: performance.now() }, [bitmap]))
      .catch(() => { job = null; });
    return;
  }
}

function answer(msg) {
  if (!job || msg.id !== job.id) return;
  const { part, box: b, image, width: w, height: h } = job;
  job = null;
  if (modelRate() < BUSY_BELOW_FPS) restUntil = performance.now() + (msg.ms || 0);
  if (msg.error) { held[part] = null; return; }
  if (part === "face") {
    keep(stats.partMs.face, msg.ms);
    stats.faceRuns++;
    held.face = msg.blendshapes ? faceFrom(msg) : null;
    if (held.face) stats.faceFound++;
    return;
  }
  keep(stats.partMs.hands, msg.ms);
  stats.handRuns++;
  held[part] = null;
  if (!msg.world) return;
  // The found hand's wrist, back in the picture, must be nearer this side's body wrist.
  const at = [(b.x + msg.wrist[0] * b.side) / w, (b.y + msg.wrist[1] * b.side) / h];
  const far = (p) => Math.hypot((at[0] - p.x) * w, (at[1] - p.y) * h);
  const other = WRIST[part === "left" ? "right" : "left"];
  const mine = far(image[WRIST[part]]);
  if (mine > far(image[other]) || mine > MATCH_WITHIN * b.side) return;
  const [wx, wy, wz] = msg.world[0], [mx, my, mz] = msg.world[9];
  const palm = Math.hypot(mx - wx, my - wy, mz - wz);
  if (palm < PALM_METRES[0] || palm > PALM_METRES[1]) return; // not a hand, whatever it found
  stats.handFound++;
  held[part] = { world: msg.world, score: msg.score };
}

function faceFrom(msg) {
  const weights = new Float32Array(ARKIT.length);
  for (const [name, score] of msg.blendshapes) {
    const k = ARKIT_INDEX.get(name);
    if (k !== undefined) weights[k] = score;
  }
  // The landmarker returns only faces past its presence threshold, with no score of its own.
  return { weights, quat: msg.matrix ? rotationQuat(msg.matrix) : null, score: 1 };
}

function rotationQuat(d) {
  // The 4×4 facial transformation matrix is column-major; its 3×3 carries the face's scale:
  // normalise its columns (Gram–Schmidt), then the quaternion [x, y, z, w] with w ≥ 0.
  const col = (c) => [d[4 * c], d[4 * c + 1], d[4 * c + 2]];
  const norm = (v) => { const n = Math.hypot(...v); return v.map((x) => x / n); };
  const dot = (a, b) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  const a = norm(col(0));
  const b = norm(col(1).map((x, k) => x - dot(col(1), a) * a[k]));
  const c = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
  const [m00, m10, m20, m01, m11, m21, m02, m12, m22] = [...a, ...b, ...c];
  let q;
  const tr = m00 + m11 + m22;
  if (tr > 0) {
    const s = Math.sqrt(tr + 1) * 2;
    q = [(m21 - m12) / s, (m02 - m20) / s, (m10 - m01) / s, s / 4];
  } else if (m00 > m11 && m00 > m22) {
    const s = Math.sqrt(1 + m00 - m11 - m22) * 2;
    q = [s / 4, (m01 + m10) / s, (m02 + m20) / s, (m21 - m12) / s];
  } else if (m11 > m22) {
    const s = Math.sqrt(1 + m11 - m00 - m22) * 2;
    q = [(m01 + m10) / s, s / 4, (m12 + m21) / s, (m02 - m20) / s];
  } else {
    const s = Math.sqrt(1 + m22 - m00 - m11) * 2;
    q = [(m02 + m20) / s, (m12 + m21) / s, s / 4, (m10 - m01) / s];
  }
  const n = Math.hypot(...q) * (q[3] < 0 ? -1 : 1);
  return q.every(Number.isFinite) && n ? q.map((x) => x / n) : null;
}

function keep(list, ms) { list.push(ms); if (list.length > 90) list.shift(); }

const i16 = (x) => Math.max(-32768, Math.min(32767, Math.round(x)));
const u8 = (x) => Math.max(0, Math.min(255, Math.round(x * 255)));

function poseMessage(roomT, world, image) {
  // protocol.py's pose message: 429 bytes of body, then the parts byte 5 flags.
  const { face, left, right } = held;
  const size = 33 * 13 + (face ? 61 : 0) + (left ? 127 : 0) + (right ? 127 : 0);
  const { out, v } = upstreamMessage(1, 33, roomT, size);
  out[5] = (face ? 1 : 0) | (left ? 2 : 0) | (right ? 4 : 0);
  for (let k = 0; k < 33; k++) {
    const w = world[k], p = image[k], o = 16 + k * 12;
    v.setInt16(o, i16(w.x * 1e4)); v.setInt16(o + 2, i16(w.y * 1e4)); v.setInt16(o + 4, i16(w.z * 1e4));
    v.setInt16(o + 6, i16(p.x * 1e4)); v.setInt16(o + 8, i16(p.y * 1e4)); v.setInt16(o + 10, i16(p.z * 1e4));
    v.setUint8(16 + 33 * 12 + k, u8(w.visibility ?? 1));
  }
  let o = 16 + 33 * 13;
  if (face) {
    for (let k = 0; k < 52; k++) v.setUint8(o + k, u8(face.weights[k]));
    for (let k = 0; k < 4; k++) v.setInt16(o + 52 + 2 * k, face.quat ? i16(face.quat[k] * 32767) : 0);
    v.setUint8(o + 60, u8(face.score));
    o += 61;
  }
  for (const [side, hand] of [["left", left], ["right", right]]) {
    if (!hand) continue;
    for (let k = 0; k < 21; k++) {
      const p = hand.world[k];
      v.setInt16(o + 6 * k, i16(p[0] * 1e4)); v.setInt16(o + 6 * k + 2, i16(p[1] * 1e4)); v.setInt16(o + 6 * k + 4, i16(p[2] * 1e4));
    }
    v.setUint8(o + 126, u8(hand.score));
    o += 127;
  }
  return out;
}

function countSent(pose) {
  // Only what left: a message the socket refused (not drained yet) counts nothing.
  stats.posesSent++;
  const parts = pose[5];
  if (parts & 1) stats.partsSent.face++;
  if (parts & 2) stats.partsSent.left++;
  if (parts & 4) stats.partsSent.right++;
}

let lastVideoTime = -1;
function onFrame(now, meta) {
  const video = $("self");
  if (!stream) return;
  video.requestVideoFrameCallback(onFrame);
  if (!landmarker || !joined || roomOffset === null || meta.mediaTime === lastVideoTime) return;
  lastVideoTime = meta.mediaTime;
  tellPicture();
  const captured = meta.captureTime || now; // when the camera took it, this page's clock
  const started = performance.now();
  const result = landmarker.detectForVideo(video, started);
  const bodyMs = performance.now() - started;
  keep(stats.partMs.body, bodyMs);
  if (result.worldLandmarks.length) {
    startExtras(video, result.landmarks[0]);
    const pose = poseMessage(roomTime(captured), result.worldLandmarks[0], result.landmarks[0]);
    if (sendBinary(pose)) countSent(pose);
  } else {
    held.face = held.left = held.right = null;
  }
  const ms = performance.now() - started;
  keep(stats.modelMs, ms);
  stats.frames.push(started); while (stats.frames[0] < started - 2000) stats.frames.shift();
  rate();
}

function modelRate() { return stats.frames.length / 2; }

function middle(list) { return [...list].sort((a, b) => a - b)[list.length >> 1] || 0; }

function rate() {
  const now = performance.now();
  const fps = modelRate();
  const median = middle(stats.modelMs);
  const parts = [`body ${middle(stats.partMs.body).toFixed(0)}`];
  if (extras && useFace) parts.push(`face ${middle(stats.partMs.face).toFixed(0)}`);
  if (extras && useHands) parts.push(`hands ${middle(stats.partMs.hands).toFixed(0)}`);
  $("model-rate").textContent = `${fps.toFixed(0)} fps · ${median.toFixed(0)} ms a frame (${modelName}: ${parts.join(", ")} ms)`;
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
  say("Loading the pose, face and hand models (they run here, on this computer)…");
  try { await loadModel(modelName); } catch (e) {
    say(`The pose model could not start here (${e.message || e}); nothing is being sent.`, 0, "error");
    stopDevices();
    return;
  }
  loadFaceAndHands();
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
  partner = new VoicePlayer();
  await partner.start().catch(() => { partner = null; });
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

// The room's audition: a new one (or a new proposal for it) while the actor performs, or starts
// to, asks them to agree to its use.
function audition(a) {
  if (terms.shown(a) && (consented || starting) && !$("consent").open) {
    $("agree").textContent = "I agree to this use";
    $("consent").showModal();
  }
}

$("agree").onclick = (event) => {
  const agreed = terms.message(CONSENT_VERSION);
  if (terms.audition && !agreed) {
    event.preventDefault();
    say("Write how your takes may be used, or accept the proposal.", 6, "error");
    return;
  }
  if (agreed) sendJson(agreed);
  if (!consented && !starting) {
    starting = true;
    start().finally(() => { starting = false; });
  }
};
$("decline").onclick = () => {
  if (consented) { // a new audition's use, not agreed: the performance goes on, its takes unagreed
    say("You did not agree to this audition's use of your takes; tell the director.", 10, "error");
    return;
  }
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
$("sides-up").onclick = () => { if (shown) sendJson({ type: "scroll", line: Math.max(0, shown.line - 1) }); };
$("sides-down").onclick = () => { if (shown) sendJson({ type: "scroll", line: shown.line + 1 }); };
$("calibrate").onclick = () => {
  // The room takes the next second of face and head as this actor's rest.
  if (!joined) return;
  sendJson({ type: "calibrate" });
  say("Relax and look at the camera for a second…", 2, "info");
};
$("model").onchange = (e) => { if (stream) loadModel(e.target.value); else modelName = e.target.value; };
$("use-face").onchange = (e) => { useFace = e.target.checked; };
$("use-hands").onchange = (e) => { useHands = e.target.checked; };
document.addEventListener("click", () => {
  if (player && player.suspended) player.resume();
  if (partner && partner.suspended) partner.resume();
});

// For tests and benchmarks: what this page has sent, and how fast its model runs.
window.immersion = {
  sent: () => ({
    ...stats, modelMs: [...stats.modelMs], frames: undefined, modelFps: modelRate(), roomOffset,
    partMs: Object.fromEntries(Object.entries(stats.partMs).map(([k, v]) => [k, [...v]])),
    partsSent: { ...stats.partsSent },
  }),
  disconnect: () => socket && socket.close(4000, "closed from the page"),
  talkLevels: () => (player ? player.levels.slice() : []),
  partnerLevels: () => (partner ? partner.levels.slice() : []), // the reader's voice, played
  consented: () => consented,
};
connect();

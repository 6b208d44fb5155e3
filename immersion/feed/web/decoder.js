// Decodes the mirror feed off the main thread and draws it onto the page's canvas
// (an OffscreenCanvas handed over at start). H.264 through WebCodecs; JPEG through
// createImageBitmap. Posts {type:"drawn"} or {type:"dropped"} per frame so the page can
// acknowledge it. Frames are handled strictly in order: a delta must never overtake the
// keyframe (and decoder set-up) it depends on.
"use strict";
const HEADER = 48;
let ctx = null;
let decoder = null;
let configured = null;
const pending = new Map(); // timestamp (frame number) -> header

function parse(buffer) {
  const v = new DataView(buffer);
  const magic = String.fromCharCode(v.getUint8(0), v.getUint8(1), v.getUint8(2), v.getUint8(3));
  if (magic !== "IMF1" || v.getUint8(4) !== 1) throw new Error("not an IMF1 video message");
  return {
    codec: v.getUint8(5) === 1 ? "h264" : "jpeg",
    keyframe: (v.getUint8(6) & 1) === 1,
    frame: v.getUint32(8), skipped: v.getUint16(12),
    width: v.getUint16(14), height: v.getUint16(16),
    captureT: v.getFloat64(20), renderT: v.getFloat64(28), sendT: v.getFloat64(36),
    payload: new Uint8Array(buffer, HEADER, v.getUint32(44)),
  };
}

function avcCodec(data) {
  // The SPS (NAL type 7) names the profile and level: avc1.PPCCLL.
  for (let i = 0; i + 6 < data.length; i++) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1 && (data[i + 3] & 0x1f) === 7) {
      const hex = (b) => b.toString(16).padStart(2, "0").toUpperCase();
      return "avc1." + hex(data[i + 4]) + hex(data[i + 5]) + hex(data[i + 6]);
    }
  }
  return null;
}

function draw(image, h) {
  if (ctx.canvas.width !== h.width || ctx.canvas.height !== h.height) {
    ctx.canvas.width = h.width; ctx.canvas.height = h.height;
  }
  ctx.drawImage(image, 0, 0, h.width, h.height);
  image.close();
  if (stamp) drawStamp();
  postMessage({ type: "drawn", frame: h.frame, skipped: h.skipped, codec: h.codec,
                renderT: h.renderT, captureT: h.captureT,
                drawnAt: (performance.timeOrigin + performance.now()) / 1000 });
}

// A presentation's guest page: the viewer's name and the time, drawn into every picture on
// this canvas (a corner, semi-transparent), so a screenshot or a screen recording carries
// them. The page draws it, not the room: the frames themselves are everyone's.
let stamp = null;
function drawStamp() {
  const { width, height } = ctx.canvas;
  const size = Math.max(11, Math.round(height / 22));
  const when = new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC";
  const text = `${stamp} · ${when}`;
  ctx.save();
  ctx.font = `600 ${size}px sans-serif`;
  const w = Math.min(ctx.measureText(text).width + size, width), h = Math.round(size * 1.6);
  ctx.globalAlpha = 0.55;
  ctx.fillStyle = "#000";
  ctx.fillRect(width - w, height - h, w, h);
  ctx.globalAlpha = 0.8;
  ctx.fillStyle = "#fff";
  ctx.textBaseline = "middle";
  ctx.fillText(text, width - w + size / 2, height - h / 2, width - size);
  ctx.restore();
}

function dropped(h) { postMessage({ type: "dropped", frame: h.frame }); }

function fallback(reason) {
  if (decoder) { try { decoder.close(); } catch (e) { /* already closed */ } }
  decoder = null; configured = null; pending.clear();
  postMessage({ type: "fallback", reason: String(reason) });
}

async function h264(h) {
  if (typeof VideoDecoder === "undefined") return fallback("no WebCodecs VideoDecoder");
  if (h.keyframe) {
    const codec = avcCodec(h.payload);
    if (codec && codec !== configured) {
      const config = { codec, optimizeForLatency: true, hardwareAcceleration: "no-preference" };
      const support = await VideoDecoder.isConfigSupported(config).catch(() => ({ supported: false }));
      if (!support.supported) { dropped(h); return fallback("H.264 " + codec + " is not supported here"); }
      if (!decoder) {
        decoder = new VideoDecoder({
          output: (frame) => { const hd = pending.get(frame.timestamp); pending.delete(frame.timestamp);
                               if (hd) draw(frame, hd); else frame.close(); },
          error: (e) => fallback(e.message || e),
        });
      }
      decoder.configure(config);
      configured = codec;
    }
  }
  if (!decoder || !configured) return dropped(h); // wait for a keyframe
  pending.set(h.frame, h);
  decoder.decode(new EncodedVideoChunk({ type: h.keyframe ? "key" : "delta",
                                         timestamp: h.frame, data: h.payload }));
}

async function jpeg(h) {
  const bitmap = await createImageBitmap(new Blob([h.payload], { type: "image/jpeg" }));
  draw(bitmap, h);
}

function probe() {
  // What is on the canvas now, for tests: mean and spread of brightness, and the mean colour
  // of each cell of an 8x8 grid (row by row), from every other pixel.
  const { width, height } = ctx.canvas;
  const data = ctx.getImageData(0, 0, width, height).data;
  const G = 8, sums = new Float64Array(G * G * 3), counts = new Uint32Array(G * G);
  let sum = 0, sq = 0, n = 0;
  for (let y = 0; y < height; y += 2) {
    for (let x = 0; x < width; x += 2) {
      const i = (y * width + x) * 4;
      const c = Math.floor(y * G / height) * G + Math.floor(x * G / width);
      sums[3 * c] += data[i]; sums[3 * c + 1] += data[i + 1]; sums[3 * c + 2] += data[i + 2];
      counts[c]++;
      const l = (data[i] + data[i + 1] + data[i + 2]) / 3; sum += l; sq += l * l; n++;
    }
  }
  const cells = Array.from(counts, (k, c) => [0, 1, 2].map((j) => sums[3 * c + j] / Math.max(k, 1)));
  const mean = sum / n;
  return { width, height, mean, std: Math.sqrt(Math.max(sq / n - mean * mean, 0)), cells };
}

async function video(buffer) {
  let h;
  try { h = parse(buffer); } catch (e) { return postMessage({ type: "bad", reason: e.message }); }
  try { await (h.codec === "h264" ? h264(h) : jpeg(h)); }
  catch (e) { dropped(h); if (h.codec === "h264") fallback(e.message || e); }
}

let queue = Promise.resolve();
onmessage = (event) => {
  const msg = event.data;
  if (msg.type === "init") ctx = msg.canvas.getContext("2d");
  else if (msg.type === "probe") postMessage({ type: "probe", id: msg.id, result: probe() });
  else if (msg.type === "video") queue = queue.then(() => video(msg.buffer));
  else if (msg.type === "stamp") stamp = msg.text || null;
};

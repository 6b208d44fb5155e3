// Voice in the room's pages, through WebCodecs: a microphone into 20 ms Opus packets
// (MicEncoder), and Opus packets back into sound at the times the page chooses (VoicePlayer).
// Shared by the casting page (the actor's voice; a director's talkback) and the actor's page
// (talkback). Times are performance.now() milliseconds unless a name says otherwise.
export const OPUS = { codec: "opus", sampleRate: 48000, numberOfChannels: 1 };
const AUDIO_HEADER = 16;

// An IMA1 audio message from the room: {source: "voice"|"talkback"|"reader", seq, captureT, opus}.
const AUDIO_SOURCES = { 1: "voice", 2: "talkback", 3: "reader" };
export function parseAudio(buffer) {
  const v = new DataView(buffer);
  return {
    source: AUDIO_SOURCES[v.getUint8(4)] || "voice",
    seq: v.getUint16(6),
    captureT: v.getFloat64(8),
    opus: new Uint8Array(buffer, AUDIO_HEADER),
  };
}

// An IMU1 message to the room (protocol.py's UPSTREAM): the 16-byte header, then ``bodyBytes``
// for the caller to fill. Kind 1 landmarks, 2 the actor's voice, 3 a director's talkback.
export function upstreamMessage(kind, count, roomT, bodyBytes) {
  const out = new Uint8Array(16 + bodyBytes);
  const v = new DataView(out.buffer);
  out.set([0x49, 0x4d, 0x55, 0x31]); // "IMU1"
  v.setUint8(4, kind);
  v.setUint16(6, count);
  v.setFloat64(8, roomT);
  return { out, v };
}

export function voiceMessage(talkback, roomT, opus) {
  const { out } = upstreamMessage(talkback ? 3 : 2, 0, roomT, opus.byteLength);
  out.set(opus, 16);
  return out;
}

// The least delay seen from an event's own clock to ours, over a sliding window: what turns a
// device's timestamps into performance.now() (the fastest delivery is the truest offset).
export class Offset {
  constructor(keep = 200) { this.keep = keep; this.seen = []; }
  add(value) {
    this.seen.push(value);
    if (this.seen.length > this.keep) this.seen.shift();
    return this.get();
  }
  get() { return this.seen.length ? Math.min(...this.seen) : 0; }
}

export async function opusSupported() {
  if (typeof AudioEncoder === "undefined" || typeof AudioDecoder === "undefined"
      || typeof MediaStreamTrackProcessor === "undefined") return false;
  const enc = await AudioEncoder.isConfigSupported({ ...OPUS, bitrate: 32000 }).catch(() => null);
  const dec = await AudioDecoder.isConfigSupported(OPUS).catch(() => null);
  return Boolean(enc && enc.supported && dec && dec.supported);
}

// A microphone track into Opus packets: onPacket(captureMs, bytes), captureMs when the first
// sample of the packet was captured (performance.now() clock). The encoding runs in a worker.
export class MicEncoder {
  constructor(onPacket, bitrate = 32000) {
    this.onPacket = onPacket;
    this.bitrate = bitrate;
    this.worker = null;
    this.track = null;
  }

  async start(track) {
    this.track = track.clone(); // ours to stop, whatever else reads the track
    const { readable } = new MediaStreamTrackProcessor({ track: this.track });
    this.worker = new Worker("/voice.worker.js");
    this.worker.onmessage = (e) => {
      if (e.data.error) { console.warn("voice:", e.data.error); return; }
      this.onPacket(e.data.capturedWall - performance.timeOrigin, e.data.bytes);
    };
    this.worker.postMessage({ readable, bitrate: this.bitrate }, [readable]);
  }

  stop() {
    if (this.track) this.track.stop(); // ends the stream; the worker flushes and closes
    this.track = null; this.worker = null;
  }
}

// Opus packets into sound, each at the performance.now() time the caller gives it.
export class VoicePlayer {
  constructor() {
    this.context = null;
    this.node = null;
    this.decoder = null;
    this.when = new Map(); // packet timestamp (µs) -> play time (ms)
    this.levels = []; // [{t: performance ms, db}] of what was played, the last 60 s
    this.onLevel = () => {};
    this.late = 0;
    this.counts = { pushed: 0, decoded: 0, scheduled: 0 };
  }

  async start() {
    this.context = new AudioContext({ sampleRate: OPUS.sampleRate, latencyHint: "interactive" });
    await this.context.audioWorklet.addModule("/player.worklet.js");
    this.node = new AudioWorkletNode(this.context, "immersion-player", { outputChannelCount: [1] });
    this.node.connect(this.context.destination);
    this.node.port.onmessage = (e) => {
      const m = e.data;
      const t = this.perfAt(m.frame / OPUS.sampleRate);
      this.late = m.late;
      this.levels.push({ t, db: m.db });
      while (this.levels.length && this.levels[0].t < t - 60000) this.levels.shift();
      this.onLevel(m.db);
    };
    this.decoder = new AudioDecoder({
      output: (data) => this.play(data),
      error: (e) => console.warn("voice decoder:", e.message || e),
    });
    this.decoder.configure(OPUS);
  }

  get suspended() { return !this.context || this.context.state !== "running"; }

  resume() { return this.context ? this.context.resume() : Promise.resolve(); }

  setVolume(volume) { if (this.node) this.node.port.postMessage({ type: "volume", volume }); }

  // The context's time (s) for a performance.now() time (ms), and back.
  contextAt(perfMs) {
    const ts = this.context.getOutputTimestamp();
    if (ts.performanceTime) return ts.contextTime + (perfMs - ts.performanceTime) / 1000;
    return this.context.currentTime + (perfMs - performance.now()) / 1000 + this.context.baseLatency;
  }

  perfAt(contextT) {
    const ts = this.context.getOutputTimestamp();
    if (ts.performanceTime) return ts.performanceTime + (contextT - ts.contextTime) * 1000;
    return performance.now() + (contextT - this.context.currentTime) * 1000;
  }

  push(opus, playAtMs, key) {
    if (!this.decoder || this.decoder.state !== "configured") return;
    this.counts.pushed++;
    this.when.set(key, playAtMs);
    if (this.when.size > 500) this.when.delete(this.when.keys().next().value);
    this.decoder.decode(new EncodedAudioChunk({ type: "key", timestamp: key, data: opus }));
  }

  play(data) {
    this.counts.decoded++;
    const at = this.when.get(data.timestamp);
    this.when.delete(data.timestamp);
    const samples = new Float32Array(data.numberOfFrames);
    data.copyTo(samples, { planeIndex: 0, format: "f32-planar" });
    data.close();
    if (at === undefined || this.suspended) return;
    const frame = Math.round(this.contextAt(at) * OPUS.sampleRate);
    this.counts.scheduled++;
    this.node.port.postMessage({ type: "samples", at: frame, samples }, [samples.buffer]);
  }

  close() {
    if (this.decoder && this.decoder.state !== "closed") this.decoder.close();
    if (this.context) this.context.close();
  }
}

// The picture's lag here (capture → drawn, ms): the median of the last 60 pictures.
export class PictureLag {
  constructor(kept = 60) { this.values = []; this.kept = kept; }
  add(ms) { this.values.push(ms); if (this.values.length > this.kept) this.values.shift(); }
  get() {
    if (!this.values.length) return null;
    const sorted = [...this.values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }
}

// When a voice packet plays, as a delay after its capture (ms): never before the picture of the
// same moment is drawn, and never before the latest of the last 50 packets' arrivals plus
// ``jitterMs`` (packets come in bursts when the sender's computer is busy).
export class VoiceTiming {
  constructor(jitterMs = 10) { this.lags = []; this.jitterMs = jitterMs; }
  delay(capturedMs, arrivedMs, pictureMs) {
    this.lags.push(arrivedMs - capturedMs);
    if (this.lags.length > 50) this.lags.shift();
    return Math.max(Math.max(...this.lags) + this.jitterMs, pictureMs ?? 0);
  }
}

// The page's one VoicePlayer, started on first need: ``unsupported()`` when this browser has no
// Opus in WebCodecs, else ``ready(player)`` once it plays. Returns the function to call for it.
export function lazyPlayer(unsupported, ready) {
  let starting = null;
  return () => {
    if (!starting) {
      starting = opusSupported().then(async (ok) => {
        if (!ok) { unsupported(); return null; }
        const made = new VoicePlayer();
        await made.start();
        ready(made);
        return made;
      });
    }
    return starting;
  };
}

// A Listen button's words and look for ``player`` (null: not started).
export function showListening(button, player) {
  button.textContent = !player || player.suspended ? "Listen" : "Listening";
  button.classList.toggle("active", Boolean(player && !player.suspended));
}

// Plays decoded voice at the times the page schedules it: a ring of samples indexed by the
// audio context's own frame count, so a packet lands exactly where its capture time says and a
// lost one leaves silence instead of shifting everything after it. Reports the level of what
// it played every 20 ms (RMS, dBFS), for the meter and the tests.
"use strict";
const RING = 48000 * 4; // 4 s: far more than any delay the page asks for

class Player extends AudioWorkletProcessor {
  constructor() {
    super();
    this.ring = new Float32Array(RING);
    this.volume = 1;
    this.late = 0;
    this.sum = 0;
    this.count = 0;
    this.port.onmessage = (e) => {
      const m = e.data;
      if (m.type === "volume") { this.volume = m.volume; return; }
      // m.at: the context frame its first sample plays at; m.samples: Float32Array
      let start = m.at, samples = m.samples;
      if (start + samples.length <= currentFrame) { this.late++; return; } // all of it too late
      if (start < currentFrame) { samples = samples.subarray(currentFrame - start); start = currentFrame; }
      if (start - currentFrame >= RING - samples.length) return; // absurdly early: not ours to hold
      for (let i = 0; i < samples.length; i++) this.ring[(start + i) % RING] = samples[i];
    };
  }

  process(inputs, outputs) {
    const out = outputs[0][0];
    for (let i = 0; i < out.length; i++) {
      const k = (currentFrame + i) % RING;
      const v = this.ring[k];
      this.ring[k] = 0;
      out[i] = v * this.volume;
      this.sum += v * v;
      this.count++;
    }
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    if (this.count >= 960) {
      const rms = Math.sqrt(this.sum / this.count);
      this.port.postMessage({ type: "level", db: rms > 0 ? 20 * Math.log10(rms) : -120,
                              frame: currentFrame, late: this.late });
      this.sum = 0; this.count = 0;
    }
    return true;
  }
}

registerProcessor("immersion-player", Player);

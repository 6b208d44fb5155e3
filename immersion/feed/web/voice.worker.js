// Encodes a microphone into 20 ms Opus packets off the page's main thread, which the pose model
// keeps busy: a starved reader would let the track drop audio. The page hands over the track's
// readable stream; each packet comes back with its capture time (wall clock, ms).
//
// Capture times are kept per sample, not taken from the encoder's output timestamps: those
// count samples from the first input, while the track's own clock can jump (a device that
// restarts, a fake one that loops its file), so they drift apart.
"use strict";
const RATE = 48000;
const seen = []; // wall ms at arrival minus the track's time at each buffer's end, ms
let expected = null; // the track time (µs) the next buffer should start at
let fed = 0; // samples handed to the encoder
let encoded = 0; // samples the packets so far cover
const marks = []; // {sample, wall}: the wall time (ms) each buffer's first sample was captured

function captureWall(sample) {
  let mark = marks[0];
  for (const m of marks) { if (m.sample <= sample) mark = m; else break; }
  while (marks.length > 2 && marks[1].sample <= sample) marks.shift();
  return mark.wall + ((sample - mark.sample) * 1000) / RATE;
}

onmessage = async (event) => {
  const { readable, bitrate } = event.data;
  const encoder = new AudioEncoder({
    output: (chunk) => {
      const bytes = new Uint8Array(chunk.byteLength);
      chunk.copyTo(bytes);
      const wall = captureWall(encoded);
      encoded += Math.round((chunk.duration * RATE) / 1e6);
      postMessage({ capturedWall: wall, bytes }, [bytes.buffer]);
    },
    error: (e) => postMessage({ error: String(e.message || e) }),
  });
  encoder.configure({ codec: "opus", sampleRate: RATE, numberOfChannels: 1, bitrate,
                      opus: { frameDuration: 20000 } });
  const reader = readable.getReader();
  for (;;) {
    let result;
    try { result = await reader.read(); } catch (e) { break; }
    if (result.done) break;
    const data = result.value;
    if (data.sampleRate !== RATE || data.numberOfChannels !== 1) {
      postMessage({ error: `the microphone gives ${data.sampleRate} Hz × ${data.numberOfChannels}` });
      data.close();
      break;
    }
    // The track's clock against the wall clock: the fastest delivery is the truest; a jump
    // in the track's clock starts the estimate afresh.
    if (expected !== null && Math.abs(data.timestamp - expected) > 50000) seen.length = 0;
    expected = data.timestamp + data.duration;
    seen.push(performance.timeOrigin + performance.now() - expected / 1000);
    if (seen.length > 200) seen.shift();
    marks.push({ sample: fed, wall: data.timestamp / 1000 + Math.min(...seen) });
    fed += data.numberOfFrames;
    encoder.encode(data);
    data.close();
  }
  if (encoder.state !== "closed") { await encoder.flush().catch(() => {}); encoder.close(); }
  close();
};

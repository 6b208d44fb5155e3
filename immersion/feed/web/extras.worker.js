// The face and hand landmarkers, off the page's main thread (a second core runs them beside the
// body model): each job is one crop the page cut from its camera picture (an ImageBitmap, the
// picture never leaves this computer), and its answer the blendshapes and head rotation, or a
// hand's world landmarks and where its wrist lies in the crop.
// A classic worker: MediaPipe loads its wasm with importScripts, which module workers lack; its
// CommonJS bundle fills `exports`.
self.exports = {};
importScripts("/vendor/tasks-vision/vision_bundle.cjs");
const { FaceLandmarker, FilesetResolver, HandLandmarker } = self.exports;

let face = null;
const hands = { left: null, right: null }; // one per side: each tracks its own crop in VIDEO mode

async function init() {
  const files = await FilesetResolver.forVisionTasks("/vendor/tasks-vision/wasm");
  // The face in IMAGE mode, as capture/face_estimator.py: the crop follows the head, and VIDEO
  // mode's tracking, made for a still camera, lost it more often (on face.y4m: found in 49% of
  // runs, against 82% in IMAGE mode, for the detector's few ms more).
  face = await FaceLandmarker.createFromOptions(files, {
    baseOptions: { modelAssetPath: "/models/face_landmarker.task", delegate: "CPU" },
    runningMode: "IMAGE", numFaces: 1,
    outputFaceBlendshapes: true, outputFacialTransformationMatrixes: true,
  });
  for (const side of ["left", "right"]) {
    hands[side] = await HandLandmarker.createFromOptions(files, {
      baseOptions: { modelAssetPath: "/models/hand_landmarker.task", delegate: "CPU" },
      runningMode: "VIDEO", numHands: 1,
    });
  }
}

function run(job) {
  const started = performance.now();
  const out = { type: "result", id: job.id, part: job.part };
  if (job.part === "face") {
    const result = face.detect(job.bitmap);
    if (result.faceBlendshapes.length) {
      out.blendshapes = result.faceBlendshapes[0].categories.map((c) => [c.categoryName, c.score]);
      // Column-major (checked: the translation is data[12..14]).
      out.matrix = result.facialTransformationMatrixes[0]?.data ?? null;
    }
  } else {
    const result = hands[job.part].detectForVideo(job.bitmap, job.t);
    if (result.worldLandmarks.length) {
      // The label names the hand whose shape the depth was built for, not the actor's side
      // (the body's wrist decides that): a silhouette fits a left hand seen from one face and a
      // right hand from the other. Taken for the other hand, its depth is mirrored back.
      const label = result.handedness[0]?.[0];
      const depth = label && label.categoryName.toLowerCase() !== job.part ? -1 : 1;
      out.world = result.worldLandmarks[0].map((p) => [p.x, p.y, depth * p.z]);
      out.wrist = [result.landmarks[0][0].x, result.landmarks[0][0].y];
      out.score = label?.score ?? 1;
    }
  }
  job.bitmap.close();
  out.ms = performance.now() - started;
  return out;
}

onmessage = async (event) => {
  const msg = event.data;
  if (msg.type === "init") {
    try { await init(); postMessage({ type: "ready" }); } catch (e) {
      postMessage({ type: "failed", error: String(e.message || e) });
    }
  } else if (msg.type === "run") {
    try { postMessage(run(msg)); } catch (e) {
      msg.bitmap.close();
      postMessage({ type: "result", id: msg.id, part: msg.part, ms: 0, error: String(e.message || e) });
    }
  }
};

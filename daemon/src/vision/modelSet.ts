import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { repoRoot } from '../system/paths.js';
import { loadModelManifest, verifyModels, type ModelEntry, type ModelManifest } from './modelManifest.js';
import type { InputNorm } from './align.js';

/** Which manifest entries the pipeline runs, resolved from config and the manifest's defaults. */
export interface ModelChoice {
  /** The detector run first on every frame. */
  detector: ModelEntry;
  /** Run when `detector` finds nothing (null: no second detector). */
  fallbackDetector: ModelEntry | null;
  landmarks: ModelEntry;
  embedder: ModelEntry;
  antispoof: ModelEntry | null;
  liveness: ModelEntry | null;
}

export interface ModelSelection {
  modelsDir?: string;
  /** Embedder id or family (e.g. faceapi-resnet, faceapi-resnet128); resolved with `precision`. */
  recognitionModel?: string;
  precision?: 'int8' | 'fp32';
  /**
   * Detector id, or 'auto': MediaPipe's short-range detector (128×128, ≈ 0.7 ms) first and the
   * manifest default (BlazeFace 256, ≈ 3.5 ms) only on frames where it finds nothing.
   */
  detector?: string;
  antispoof?: boolean;
  liveness?: boolean;
}

export function defaultModelsDir(): string {
  return join(repoRoot(), 'models');
}

function family(id: string): string {
  return id.replace(/-(int8|fp32)$/, '').replace(/128$/, '');
}

/** The embedder entry: an exact id, else `<family>-<precision>`, else the default embedder's family at that precision. */
export function resolveEmbedder(m: ModelManifest, name: string | undefined, precision: 'int8' | 'fp32' | undefined): ModelEntry {
  const embedders = m.models.filter((e) => e.task === 'embedder');
  const exact = name ? embedders.find((e) => e.id === name) : undefined;
  if (exact && (!precision || exact.precision === precision)) return exact;
  const fams = [name ? family(name) : null, m.defaults.embedder ? family(m.defaults.embedder) : null].filter((f): f is string => !!f);
  for (const f of fams) {
    const hit = embedders.find((e) => family(e.id) === f && (!precision || e.precision === precision));
    if (hit) return hit;
  }
  if (exact) return exact;
  throw new Error(
    `no embedder '${name ?? m.defaults.embedder ?? ''}' (${precision ?? 'any precision'}) in the model manifest; available: ${embedders.map((e) => e.id).join(', ')}`,
  );
}

function byTask(m: ModelManifest, task: ModelEntry['task'], id?: string): ModelEntry | null {
  const want = id && id !== 'auto' ? id : m.defaults[task];
  return m.models.find((e) => e.task === task && e.id === want) ?? m.models.find((e) => e.task === task) ?? null;
}

/** The detector 'auto' puts first when the manifest has it. */
export const FAST_DETECTOR_ID = 'facemesh-detection-short';

export function chooseModels(m: ModelManifest, sel: ModelSelection): ModelChoice {
  const auto = !sel.detector || sel.detector === 'auto';
  let detector = byTask(m, 'detector', sel.detector);
  let fallbackDetector: ModelEntry | null = null;
  const fast = m.models.find((e) => e.task === 'detector' && e.id === FAST_DETECTOR_ID);
  if (auto && fast && detector && fast.id !== detector.id) {
    fallbackDetector = detector;
    detector = fast;
  }
  const landmarks = byTask(m, 'landmarks');
  if (!detector) throw new Error('the model manifest has no detector');
  if (!landmarks) throw new Error('the model manifest has no landmarks model');
  return {
    detector,
    fallbackDetector,
    landmarks,
    embedder: resolveEmbedder(m, sel.recognitionModel, sel.precision),
    antispoof: sel.antispoof === false ? null : byTask(m, 'antispoof'),
    liveness: sel.liveness === false ? null : byTask(m, 'liveness'),
  };
}

export function inputNorm(e: ModelEntry): InputNorm {
  const n = e.normalization;
  const s = n.scale || 1;
  // (pixel·scale − mean)/std = (pixel − mean/scale)/(std/scale)
  return {
    layout: e.input.layout === 'NCHW' ? 'nchw' : 'nhwc',
    mean: [n.mean[0] / s, n.mean[1] / s, n.mean[2] / s],
    std: [n.std[0] / s, n.std[1] / s, n.std[2] / s],
    channels: n.channelOrder === 'BGR' ? 'bgr' : 'rgb',
  };
}

/** Spatial input size (height, width) of an image model. */
export function inputSize(e: ModelEntry): { width: number; height: number } {
  const s = e.input.shape;
  return e.input.layout === 'NCHW' ? { height: s[2]!, width: s[3]! } : { height: s[1]!, width: s[2]! };
}

export interface SessionOptions {
  intraOpThreads?: number;
  interOpThreads?: number;
}

/**
 * The onnxruntime session options of every model (exported for the thread test).
 *
 * Threads: with one intra-op thread (the default) nothing spins. With more, the pool's threads
 * spin-wait between the parallel sections of a run (waking a sleeping thread for each of a small
 * network's ~100 kernels costs more than the kernel: 2 threads without spinning measured slower
 * than 1) and `force_spinning_stop` ends the spinning the moment the run returns. Without that
 * stop, a pool keeps a core busy after its run (measured: 45 ms of CPU in the 50 ms after a
 * FaceMesh run), stealing it from the next model of the frame (36 ms vs 12 ms per frame on 2
 * cores) and from the rest of the unit.
 */
export function sessionOptions(o: SessionOptions): ort.InferenceSession.SessionOptions {
  const threads = o.intraOpThreads ?? 1;
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: o.interOpThreads ?? 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    extra: {
      session: {
        set_denormal_as_zero: '1',
        force_spinning_stop: '1',
        intra_op: { allow_spinning: threads > 1 ? '1' : '0' },
        inter_op: { allow_spinning: '0' },
      },
    },
  };
}

export async function createSession(modelsDir: string, e: ModelEntry, o: SessionOptions): Promise<ort.InferenceSession> {
  // The files are in their fast form already (PRelu rewritten by `npm run models`, models/tools/onnxPasses.ts).
  return ort.InferenceSession.create(join(modelsDir, e.file), sessionOptions(o));
}

/** Loads and verifies the manifest, for the files the choice uses. Throws an Error naming the bad file and `npm run models`. */
export function loadAndVerify(modelsDir: string, sel: ModelSelection): { manifest: ModelManifest; choice: ModelChoice } {
  const manifest = loadModelManifest(modelsDir);
  const choice = chooseModels(manifest, sel);
  const ids = [choice.detector, choice.fallbackDetector, choice.landmarks, choice.embedder, choice.antispoof, choice.liveness]
    .filter((e): e is ModelEntry => !!e)
    .map((e) => e.id);
  verifyModels(modelsDir, ids);
  return { manifest, choice };
}

/** The embedder `vision.recognitionModel` / `vision.precision` select, read from the manifest (no session): its id and dimension. */
export function configuredEmbedder(v: { modelsDir: string; recognitionModel: string; precision: 'int8' | 'fp32' }): { id: string; dim: number } {
  const e = resolveEmbedder(loadModelManifest(v.modelsDir || defaultModelsDir()), v.recognitionModel, v.precision);
  const out = e.outputs[0]?.shape;
  return { id: e.id, dim: out?.[out.length - 1] ?? 0 };
}

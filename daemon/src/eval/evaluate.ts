import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { Gallery } from '../gallery/gallery.js';
import { decodeImage } from '../vision/decode.js';
import type { FacePipeline } from '../vision/pipeline.js';
import type { Dataset } from './dataset.js';
import { equalErrorRate, rocCurve, sortedScores, tarAtFar } from './metrics.js';

export type Precision = 'int8' | 'fp32';

export interface ImageResult {
  path: string;
  identity: string | null;
  detected: boolean;
  faces: number;
  /** Embedding per key: a precision of the primary embedder ('int8' / 'fp32') and/or a manifest model id. */
  embeddings: Partial<Record<string, Float32Array>>;
}

export interface PrecisionReport {
  model: string;
  'tar_at_far_1e-2': number;
  'tar_at_far_1e-3': number;
  'tar_at_far_1e-4': number;
  eer: number;
  rank1: number;
  distractor_false_accept_rate: number;
  detection_failures: number;
  genuine_pairs: number;
  impostor_pairs: number;
  threshold: number;
  /** where the open-set threshold came from (config default, saved faces-lfw distribution, this run, --threshold) */
  threshold_source: string;
  'threshold_at_far_1e-3': number;
  'threshold_at_far_1e-4': number;
  open_set: {
    probes: number;
    correct_accepts: number;
    wrong_accepts: number;
    rejected: number;
    tpir: number;
    distractors: number;
    distractors_accepted: number;
  };
  roc: Array<{ far: number; tar: number; threshold: number }>;
  score_stats: { genuine_min: number; genuine_mean: number; impostor_max: number; impostor_mean: number; distractor_max: number };
}

export interface EvalReport {
  dataset: string;
  images: number;
  identities: number;
  distractors: number;
  clahe: boolean;
  margin: number;
  detection_failed_images: string[];
  /** The primary embedder (first --embedder) at each precision. */
  int8?: PrecisionReport;
  fp32?: PrecisionReport;
  /** Every evaluated model, by manifest id. */
  models: Record<string, PrecisionReport>;
}

/**
 * Embeds the largest face of every image with every pipeline's embedder(s), keyed by manifest
 * model id. The first pipeline detects, runs the mesh and finds the five points once per
 * image; the others only align (their own chip geometry) and embed from those points.
 */
export async function describeDataset(pipelines: FacePipeline[], ds: Dataset, onProgress?: (done: number, total: number) => void): Promise<ImageResult[]> {
  const [first, ...rest] = pipelines;
  if (!first) throw new Error('describeDataset needs a pipeline');
  const out: ImageResult[] = [];
  for (const [i, im] of ds.images.entries()) {
    const r: ImageResult = { path: im.path, identity: im.identity, detected: false, faces: 0, embeddings: {} };
    try {
      const img = await decodeImage(readFileSync(im.path));
      const f = await first.describeLargestFace(img, first.precisions);
      if (f) {
        r.detected = true;
        r.faces = f.faces;
        for (const p of first.precisions) r.embeddings[first.embedderId(p)] = f.embeddings[p];
        for (const other of rest) {
          for (const p of other.precisions) {
            const { chip } = other.alignChip(img, f.face.landmarks5, p);
            r.embeddings[other.embedderId(p)] = await other.embedChip(chip, p);
          }
        }
      }
    } catch {
      /* an unreadable image is a detection failure */
    }
    out.push(r);
    onProgress?.(i + 1, ds.images.length);
  }
  return out;
}

/** Throttled progress on stderr (TTY or not): at most one line every `everyMs`, and the last one. */
export function progressReporter(
  label: string,
  everyMs = 2000,
  write: (s: string) => void = (s) => process.stderr.write(s),
): (done: number, total: number) => void {
  const t0 = Date.now();
  let last = 0;
  return (done, total) => {
    const now = Date.now();
    if (done < total && now - last < everyMs) return;
    last = now;
    const s = (now - t0) / 1000;
    const eta = done > 0 && done < total ? ` ETA ${Math.round((s / done) * (total - done))} s` : '';
    write(`${label}: ${done}/${total} (${Math.floor((done / Math.max(1, total)) * 100)} %) ${Math.round(s)} s${eta}\n`);
  };
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

const mean = (v: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]!;
  return v.length ? s / v.length : 0;
};
/** The smallest or largest value (0 for none), without spreading the array into arguments. */
const extreme = (v: number[], pick: (a: number, b: number) => number): number => (v.length ? v.reduce((a, b) => pick(a, b)) : 0);

/**
 * Metrics for one precision. Pairs: every two identity images (genuine when same identity),
 * plus every distractor against every identity image (impostor). Distractor–distractor pairs
 * are left out (they carry no identity). A genuine pair with an undetected image counts as a
 * false reject; an impostor pair with one is dropped (it cannot be falsely accepted).
 */
/**
 * Every genuine and impostor pair score of one embedding key (see evaluatePrecision), in typed
 * arrays sized once (1.1 M impostor pairs on faces-lfw = 9 MB), plus the genuine pairs that
 * could not be scored.
 */
export function pairScores(results: ImageResult[], p: string): { scores: { genuine: Float64Array; impostor: Float64Array }; missedGenuine: number } {
  let nG = 0,
    nI = 0;
  for (let i = 0; i < results.length; i++)
    for (let j = i + 1; j < results.length; j++) {
      const a = results[i]!,
        b = results[j]!;
      if (a.identity === null && b.identity === null) continue;
      if (a.identity !== null && a.identity === b.identity) nG++;
      else nI++;
    }
  const genuine = new Float64Array(nG);
  const impostor = new Float64Array(nI);
  let g = 0,
    k = 0,
    missedGenuine = 0;
  for (let i = 0; i < results.length; i++) {
    const a = results[i]!;
    const ea = a.embeddings[p];
    for (let j = i + 1; j < results.length; j++) {
      const b = results[j]!;
      if (a.identity === null && b.identity === null) continue;
      const isGenuine = a.identity !== null && a.identity === b.identity;
      const eb = b.embeddings[p];
      if (!ea || !eb) {
        if (isGenuine) missedGenuine++;
        continue;
      }
      const s = dot(ea, eb);
      if (isGenuine) genuine[g++] = s;
      else impostor[k++] = s;
    }
  }
  return { scores: { genuine: genuine.subarray(0, g), impostor: impostor.subarray(0, k) }, missedGenuine };
}

export function evaluatePrecision(
  results: ImageResult[],
  p: string,
  threshold: number,
  margin: number,
  model: string,
  thresholdSource = 'given',
): PrecisionReport {
  const { scores, missedGenuine } = pairScores(results, p);
  const impostorPairs = scores.impostor.length;
  // open set: the first detected image of each identity enrolled, the rest (and distractors) probe;
  // the gallery takes the embedder's dimension (the length of its embeddings), whatever the model.
  const dim = results.find((r) => r.embeddings[p])?.embeddings[p]?.length ?? 1;
  const gallery = new Gallery(dim);
  const enrolled = new Set<number>();
  const entries: { personId: string; embedding: Float32Array }[] = [];
  const seen = new Set<string>();
  results.forEach((r, i) => {
    const e = r.embeddings[p];
    if (r.identity && e && !seen.has(r.identity)) {
      seen.add(r.identity);
      enrolled.add(i);
      entries.push({ personId: r.identity, embedding: e });
    }
  });
  gallery.load(entries);
  let probes = 0,
    rank1 = 0,
    correctAccepts = 0,
    wrongAccepts = 0,
    rejected = 0,
    distractors = 0,
    distractorsAccepted = 0;
  const distractorScores: number[] = [];
  results.forEach((r, i) => {
    if (enrolled.has(i)) return;
    const e = r.embeddings[p];
    if (r.identity === null) {
      distractors++;
      if (!e) return;
      const m = gallery.match(e, threshold, margin);
      distractorScores.push(m.score);
      if (m.decision === 'match') distractorsAccepted++;
      return;
    }
    probes++;
    if (!e) {
      rejected++;
      return;
    }
    const m = gallery.match(e, threshold, margin);
    if (m.personId === r.identity) rank1++;
    if (m.decision === 'match') {
      if (m.personId === r.identity) correctAccepts++;
      else wrongAccepts++;
    } else rejected++;
  });
  const t2 = tarAtFar(scores, 1e-2, missedGenuine);
  const t3 = tarAtFar(scores, 1e-3, missedGenuine);
  const t4 = tarAtFar(scores, 1e-4, missedGenuine);
  const gs = sortedScores(scores.genuine);
  const is = sortedScores(scores.impostor);
  return {
    model,
    'tar_at_far_1e-2': t2.tar,
    'tar_at_far_1e-3': t3.tar,
    'tar_at_far_1e-4': t4.tar,
    eer: equalErrorRate(scores, missedGenuine).eer,
    rank1: probes ? rank1 / probes : 0,
    distractor_false_accept_rate: distractors ? distractorsAccepted / distractors : 0,
    detection_failures: results.filter((r) => !r.embeddings[p]).length,
    genuine_pairs: scores.genuine.length + missedGenuine,
    impostor_pairs: impostorPairs,
    threshold,
    threshold_source: thresholdSource,
    'threshold_at_far_1e-3': t3.threshold,
    'threshold_at_far_1e-4': t4.threshold,
    open_set: {
      probes,
      correct_accepts: correctAccepts,
      wrong_accepts: wrongAccepts,
      rejected,
      tpir: probes ? correctAccepts / probes : 0,
      distractors,
      distractors_accepted: distractorsAccepted,
    },
    roc: rocCurve(scores, missedGenuine),
    score_stats: {
      // From the sorted copies and folds, never Math.min(...xs): a spread of 1.2 M impostor scores overflows the call stack.
      genuine_min: gs.length ? gs[0]! : 0,
      genuine_mean: mean(gs),
      impostor_max: is.length ? is[is.length - 1]! : 0,
      impostor_mean: mean(is),
      distractor_max: extreme(distractorScores, Math.max),
    },
  };
}

export interface ModelToEvaluate {
  /** embedding key in the results (manifest model id) */
  id: string;
  threshold: number;
  thresholdSource: string;
}

export function buildReport(
  ds: Dataset,
  results: ImageResult[],
  models: ModelToEvaluate[],
  margin: number,
  clahe: boolean,
  primary: Partial<Record<Precision, string>> = {},
): EvalReport {
  const report: EvalReport = {
    dataset: ds.root,
    images: ds.images.length,
    identities: ds.identities.length,
    distractors: ds.images.filter((i) => i.identity === null).length,
    clahe,
    margin,
    detection_failed_images: results.filter((r) => !r.detected).map((r) => relative(ds.root, r.path)),
    models: {},
  };
  for (const m of models) report.models[m.id] = evaluatePrecision(results, m.id, m.threshold, margin, m.id, m.thresholdSource);
  for (const p of ['int8', 'fp32'] as const) {
    const id = primary[p];
    if (id && report.models[id]) report[p] = report.models[id];
  }
  return report;
}

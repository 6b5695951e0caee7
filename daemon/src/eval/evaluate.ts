import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { Gallery } from '../gallery/gallery.js';
import { decodeImage } from '../vision/decode.js';
import type { FacePipeline } from '../vision/pipeline.js';
import type { Dataset } from './dataset.js';
import { equalErrorRate, rocCurve, tarAtFar, type PairScores } from './metrics.js';

export type Precision = 'int8' | 'fp32';

export interface ImageResult {
  path: string;
  identity: string | null;
  detected: boolean;
  faces: number;
  embeddings: Partial<Record<Precision, Float32Array>>;
}

export interface PrecisionReport {
  model: string;
  'tar_at_far_1e-2': number;
  'tar_at_far_1e-3': number;
  eer: number;
  rank1: number;
  distractor_false_accept_rate: number;
  detection_failures: number;
  genuine_pairs: number;
  impostor_pairs: number;
  threshold: number;
  'threshold_at_far_1e-3': number;
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
  int8?: PrecisionReport;
  fp32?: PrecisionReport;
}

export async function describeDataset(
  pipeline: FacePipeline,
  ds: Dataset,
  precisions: Precision[],
  onProgress?: (done: number, total: number) => void,
): Promise<ImageResult[]> {
  const out: ImageResult[] = [];
  for (const [i, im] of ds.images.entries()) {
    let r: ImageResult = { path: im.path, identity: im.identity, detected: false, faces: 0, embeddings: {} };
    try {
      const img = await decodeImage(readFileSync(im.path));
      const f = await pipeline.describeLargestFace(img, precisions);
      if (f) r = { ...r, detected: true, faces: f.faces, embeddings: f.embeddings };
    } catch {
      /* an unreadable image is a detection failure */
    }
    out.push(r);
    onProgress?.(i + 1, ds.images.length);
  }
  return out;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

const mean = (v: number[]): number => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);
/** The smallest or largest value (0 for none), without spreading the array into arguments. */
const extreme = (v: number[], pick: (a: number, b: number) => number): number => (v.length ? v.reduce((a, b) => pick(a, b)) : 0);

/**
 * Metrics for one precision. Pairs: every two identity images (genuine when same identity),
 * plus every distractor against every identity image (impostor). Distractor–distractor pairs
 * are left out (they carry no identity). A genuine pair with an undetected image counts as a
 * false reject; an impostor pair with one is dropped (it cannot be falsely accepted).
 */
export function evaluatePrecision(results: ImageResult[], p: Precision, threshold: number, margin: number, model: string): PrecisionReport {
  const scores: PairScores = { genuine: [], impostor: [] };
  let missedGenuine = 0;
  let impostorPairs = 0;
  for (let i = 0; i < results.length; i++) {
    for (let j = i + 1; j < results.length; j++) {
      const a = results[i]!,
        b = results[j]!;
      if (a.identity === null && b.identity === null) continue;
      const genuine = a.identity !== null && a.identity === b.identity;
      const ea = a.embeddings[p],
        eb = b.embeddings[p];
      if (!ea || !eb) {
        if (genuine) missedGenuine++;
        continue;
      }
      const s = dot(ea, eb);
      if (genuine) scores.genuine.push(s);
      else {
        scores.impostor.push(s);
        impostorPairs++;
      }
    }
  }
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
  return {
    model,
    'tar_at_far_1e-2': t2.tar,
    'tar_at_far_1e-3': t3.tar,
    eer: equalErrorRate(scores, missedGenuine).eer,
    rank1: probes ? rank1 / probes : 0,
    distractor_false_accept_rate: distractors ? distractorsAccepted / distractors : 0,
    detection_failures: results.filter((r) => !r.embeddings[p]).length,
    genuine_pairs: scores.genuine.length + missedGenuine,
    impostor_pairs: impostorPairs,
    threshold,
    'threshold_at_far_1e-3': t3.threshold,
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
      // Folds, not Math.min(...xs): a spread of 1.2 M impostor scores overflows the call stack.
      genuine_min: extreme(scores.genuine, Math.min),
      genuine_mean: mean(scores.genuine),
      impostor_max: extreme(scores.impostor, Math.max),
      impostor_mean: mean(scores.impostor),
      distractor_max: extreme(distractorScores, Math.max),
    },
  };
}

export function buildReport(
  ds: Dataset,
  results: ImageResult[],
  models: Partial<Record<Precision, string>>,
  threshold: number,
  margin: number,
  clahe: boolean,
): EvalReport {
  const report: EvalReport = {
    dataset: ds.root,
    images: ds.images.length,
    identities: ds.identities.length,
    distractors: ds.images.filter((i) => i.identity === null).length,
    clahe,
    margin,
    detection_failed_images: results.filter((r) => !r.detected).map((r) => relative(ds.root, r.path)),
  };
  for (const p of ['int8', 'fp32'] as const) {
    const model = models[p];
    if (model) report[p] = evaluatePrecision(results, p, threshold, margin, model);
  }
  return report;
}

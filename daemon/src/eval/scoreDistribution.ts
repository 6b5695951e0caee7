/**
 * The measured score distribution of one embedder, saved as a small JSON file per model
 * (models/calibration/impostors/<model-id>.json, written by `npm run eval -- --save-scores DIR`
 * on faces-lfw): what the operating point needs to set a threshold for a target false-accept
 * rate per comparison — and from it, per stranger visit at a gallery size — and to state the
 * false-reject rate that goes with it.
 *
 *   impostor.tail[i] = [t, n]: n impostor pairs score ≥ t (grid of `step` from the score at
 *                     FAR 1e-2 up to the maximum), so FAR(t) = n / impostor.pairs
 *   impostor.top:     the highest impostor scores, exact (descending), for the extreme tail
 *   impostor.thresholds: smallest threshold with FAR ≤ 1e-2 … 1e-5 (null when the pairs cannot
 *                     resolve it: fewer than 10 pairs would be allowed)
 *   genuine.frr[i] = [t, f]: fraction f of genuine pairs (undetected ones included) below t, on
 *                     the same grid; genuine.quantiles: the score below which q of them fall
 */
import { countAtLeast, sortedScores, thresholdAtFar, type PairScores } from './metrics.js';

export interface ScoreDistribution {
  schema: 1;
  model: string;
  dataset: { name: string; images: number; identities: number; distractors: number };
  impostor: {
    pairs: number;
    max: number;
    mean: number;
    thresholds: Record<'1e-2' | '1e-3' | '1e-4' | '1e-5', number | null>;
    step: number;
    tail: [number, number][];
    top: number[];
  };
  genuine: {
    pairs: number;
    /** genuine pairs with an undetected image: rejects at any threshold */
    missed: number;
    min: number;
    mean: number;
    quantiles: Record<string, number>;
    frr: [number, number][];
  };
}

const r6 = (x: number): number => Number(x.toFixed(6));
const FARS = { '1e-2': 1e-2, '1e-3': 1e-3, '1e-4': 1e-4, '1e-5': 1e-5 } as const;

export function scoreDistribution(
  model: string,
  dataset: ScoreDistribution['dataset'],
  scores: PairScores,
  missedGenuine: number,
  o: { step?: number; top?: number } = {},
): ScoreDistribution {
  const step = o.step ?? 0.0025;
  const im = sortedScores(scores.impostor);
  const g = sortedScores(scores.genuine);
  const nI = im.length;
  const nG = g.length + missedGenuine;
  const thresholds = {} as ScoreDistribution['impostor']['thresholds'];
  for (const [k, far] of Object.entries(FARS) as [keyof typeof FARS, number][]) thresholds[k] = nI * far >= 10 ? r6(thresholdAtFar(im, far)) : null;
  const start = nI ? Math.floor(thresholdAtFar(im, 1e-2) / step) * step : 0;
  const max = nI ? im[nI - 1]! : 0;
  const tail: [number, number][] = [];
  const frr: [number, number][] = [];
  for (let t = start; t <= max + step; t += step) {
    const tr = r6(t);
    tail.push([tr, countAtLeast(im, tr)]);
    frr.push([tr, r6((nG - countAtLeast(g, tr)) / Math.max(1, nG))]);
  }
  const top: number[] = [];
  for (let i = nI - 1; i >= Math.max(0, nI - (o.top ?? 100)); i--) top.push(r6(im[i]!));
  const quantiles: Record<string, number> = {};
  for (const q of [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5]) {
    // the score below which a fraction q of ALL genuine pairs falls (missed pairs sit below everything)
    const k = Math.ceil(q * nG) - 1 - missedGenuine;
    quantiles[String(q)] = k < 0 ? -1 : r6(g[Math.min(g.length - 1, k)] ?? -1);
  }
  const mean = (v: Float64Array): number => (v.length ? r6(v.reduce((a, b) => a + b, 0) / v.length) : 0);
  return {
    schema: 1,
    model,
    dataset,
    impostor: { pairs: nI, max: r6(max), mean: mean(im), thresholds, step, tail, top },
    genuine: { pairs: nG, missed: missedGenuine, min: g.length ? r6(g[0]!) : 0, mean: mean(g), quantiles, frr },
  };
}

/** FAR per comparison at threshold t from a saved distribution (tail counts; exact top scores above the grid). */
export function farAt(d: ScoreDistribution, t: number): number {
  if (d.impostor.pairs === 0) return 0;
  if (t > (d.impostor.tail[0]?.[0] ?? Infinity)) {
    const n = d.impostor.top.filter((s) => s >= t).length;
    if (n < d.impostor.top.length) return n / d.impostor.pairs;
  }
  let n = d.impostor.pairs;
  for (const [tt, c] of d.impostor.tail) if (tt <= t) n = c;
  return n / d.impostor.pairs;
}

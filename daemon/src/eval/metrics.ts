/**
 * Verification and identification metrics over cosine scores.
 * Convention: a pair is accepted when score >= threshold.
 *
 * Memory and time: faces-lfw gives ~1.1 M impostor pairs per embedder. Scores may be plain
 * arrays or typed arrays; each score array is copied into a Float64Array and sorted ONCE (cached
 * per array object), and every metric is a binary search or a linear sweep over the sorted copy:
 * no spreading into arguments or Sets, no re-sorting per FAR target.
 */
export interface PairScores {
  genuine: ArrayLike<number>;
  impostor: ArrayLike<number>;
}

const sortedCache = new WeakMap<object, Float64Array>();

/** Ascending copy of the scores (cached per array object: do not mutate an array after scoring it). */
export function sortedScores(v: ArrayLike<number>): Float64Array {
  const hit = sortedCache.get(v as object);
  if (hit && hit.length === v.length) return hit;
  const s = Float64Array.from(v).sort();
  sortedCache.set(v as object, s);
  return s;
}

/** Number of values ≥ t in an ascending array. */
export function countAtLeast(sorted: Float64Array, t: number): number {
  let lo = 0,
    hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return sorted.length - lo;
}

/** Smallest threshold whose false-accept rate is ≤ far (strictly above the k-th highest impostor score). */
export function thresholdAtFar(impostor: ArrayLike<number>, far: number): number {
  if (impostor.length === 0) return -1;
  const s = sortedScores(impostor);
  const allowed = Math.floor(far * s.length);
  // accept at most `allowed` impostors: threshold just above the (allowed+1)-th highest
  return nextUp(s[s.length - 1 - allowed]!);
}

function nextUp(x: number): number {
  return x + Math.max(1e-9, Math.abs(x) * 1e-9);
}

export function acceptRate(scores: ArrayLike<number>, threshold: number): number {
  if (scores.length === 0) return 0;
  return countAtLeast(sortedScores(scores), threshold) / scores.length;
}

/** TAR at a FAR target; `missedGenuine` genuine pairs that could not be scored (detection failures) count as rejects. */
export function tarAtFar(p: PairScores, far: number, missedGenuine = 0): { tar: number; threshold: number; far: number } {
  const threshold = thresholdAtFar(p.impostor, far);
  const accepted = countAtLeast(sortedScores(p.genuine), threshold);
  return { tar: accepted / Math.max(1, p.genuine.length + missedGenuine), threshold, far: acceptRate(p.impostor, threshold) };
}

/** Equal error rate: where FRR (with missed genuines counted) and FAR cross, sweeping every score as threshold (one merge pass). */
export function equalErrorRate(p: PairScores, missedGenuine = 0): { eer: number; threshold: number } {
  const g = sortedScores(p.genuine);
  const im = sortedScores(p.impostor);
  const nG = g.length + missedGenuine;
  let best = { eer: 1, threshold: 0, gap: Infinity };
  let gi = 0,
    ii = 0;
  while (gi < g.length || ii < im.length) {
    const t = ii >= im.length || (gi < g.length && g[gi]! <= im[ii]!) ? g[gi]! : im[ii]!;
    while (gi < g.length && g[gi]! < t) gi++;
    while (ii < im.length && im[ii]! < t) ii++;
    const frr = (gi + missedGenuine) / Math.max(1, nG);
    const far = (im.length - ii) / Math.max(1, im.length);
    const gap = Math.abs(frr - far);
    if (gap < best.gap) best = { eer: (frr + far) / 2, threshold: t, gap };
    // step past every score equal to t
    while (gi < g.length && g[gi]! <= t) gi++;
    while (ii < im.length && im[ii]! <= t) ii++;
  }
  return { eer: best.eer, threshold: best.threshold };
}

/** ROC points (FAR, TAR) at log-spaced FAR values, for reports. */
export function rocCurve(p: PairScores, missedGenuine = 0, fars = [1e-4, 1e-3, 1e-2, 1e-1]): Array<{ far: number; tar: number; threshold: number }> {
  return fars.map((f) => {
    const r = tarAtFar(p, f, missedGenuine);
    return { far: f, tar: r.tar, threshold: r.threshold };
  });
}

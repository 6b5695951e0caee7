/**
 * Verification and identification metrics over cosine scores.
 * Convention: a pair is accepted when score >= threshold.
 */
export interface PairScores {
  genuine: number[];
  impostor: number[];
}

/** Smallest threshold whose false-accept rate is ≤ far (strictly above the k-th highest impostor score). */
export function thresholdAtFar(impostor: readonly number[], far: number): number {
  if (impostor.length === 0) return -1;
  const sorted = [...impostor].sort((a, b) => b - a);
  const allowed = Math.floor(far * sorted.length);
  // accept at most `allowed` impostors: threshold just above the (allowed+1)-th highest
  const t = sorted[allowed]!;
  return nextUp(t);
}

function nextUp(x: number): number {
  return x + Math.max(1e-9, Math.abs(x) * 1e-9);
}

export function acceptRate(scores: readonly number[], threshold: number): number {
  if (scores.length === 0) return 0;
  let n = 0;
  for (const s of scores) if (s >= threshold) n++;
  return n / scores.length;
}

/** TAR at a FAR target; `missedGenuine` genuine pairs that could not be scored (detection failures) count as rejects. */
export function tarAtFar(p: PairScores, far: number, missedGenuine = 0): { tar: number; threshold: number; far: number } {
  const threshold = thresholdAtFar(p.impostor, far);
  const accepted = p.genuine.filter((s) => s >= threshold).length;
  return { tar: accepted / Math.max(1, p.genuine.length + missedGenuine), threshold, far: acceptRate(p.impostor, threshold) };
}

/** Equal error rate: where FRR (with missed genuines counted) and FAR cross, by sweeping every score as threshold. */
export function equalErrorRate(p: PairScores, missedGenuine = 0): { eer: number; threshold: number } {
  const all = [...new Set([...p.genuine, ...p.impostor])].sort((a, b) => a - b);
  const g = [...p.genuine].sort((a, b) => a - b);
  const im = [...p.impostor].sort((a, b) => a - b);
  const nG = g.length + missedGenuine;
  let best = { eer: 1, threshold: 0, gap: Infinity };
  let gi = 0,
    ii = 0;
  for (const t of all) {
    while (gi < g.length && g[gi]! < t) gi++;
    while (ii < im.length && im[ii]! < t) ii++;
    const frr = (gi + missedGenuine) / Math.max(1, nG);
    const far = (im.length - ii) / Math.max(1, im.length);
    const gap = Math.abs(frr - far);
    if (gap < best.gap) best = { eer: (frr + far) / 2, threshold: t, gap };
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

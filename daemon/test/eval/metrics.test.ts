import { describe, expect, it } from 'vitest';
import { progressReporter } from '../../src/eval/evaluate.js';
import { equalErrorRate, tarAtFar, thresholdAtFar } from '../../src/eval/metrics.js';
import { farAt, scoreDistribution } from '../../src/eval/scoreDistribution.js';

function scores(n: number, seed: number, mean: number, spread: number, step = 0): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const v = mean + spread * (s / 2 ** 32 - 0.5);
    return step ? Math.round(v / step) * step : v; // step > 0: many ties
  });
}

/** The definitions, brute force. */
function bruteEer(g: number[], im: number[], missed: number): number {
  let best = { eer: 1, gap: Infinity };
  for (const t of [...new Set([...g, ...im])].sort((a, b) => a - b)) {
    const frr = (g.filter((x) => x < t).length + missed) / (g.length + missed);
    const far = im.filter((x) => x >= t).length / im.length;
    if (Math.abs(frr - far) < best.gap) best = { eer: (frr + far) / 2, gap: Math.abs(frr - far) };
  }
  return best.eer;
}

describe('metrics over sorted typed arrays', () => {
  for (const step of [0, 0.01]) {
    it(`match the brute-force definitions${step ? ' with many tied scores' : ''}`, () => {
      const g = scores(400, 3, 0.7, 0.5, step);
      const im = scores(5000, 5, 0.3, 0.6, step);
      for (const far of [1e-3, 1e-2, 1e-1]) {
        const t = thresholdAtFar(im, far);
        expect(im.filter((x) => x >= t).length).toBeLessThanOrEqual(Math.floor(far * im.length));
        const r = tarAtFar({ genuine: g, impostor: im }, far, 7);
        expect(r.tar).toBeCloseTo(g.filter((x) => x >= t).length / (g.length + 7), 12);
      }
      expect(equalErrorRate({ genuine: Float64Array.from(g), impostor: Float64Array.from(im) }, 7).eer).toBeCloseTo(bruteEer(g, im, 7), 12);
    });
  }

  it('handle a million impostor scores quickly (faces-lfw scale)', () => {
    const im = new Float64Array(1_100_000).map((_, i) => Math.sin(i * 12.9898) * 0.5);
    const g = new Float64Array(3000).map((_, i) => 0.6 + Math.sin(i) * 0.3);
    const t0 = performance.now();
    const r = [1e-4, 1e-3, 1e-2].map((f) => tarAtFar({ genuine: g, impostor: im }, f));
    equalErrorRate({ genuine: g, impostor: im });
    expect(r[0]!.far).toBeLessThanOrEqual(1e-4);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
});

describe('score distribution file', () => {
  it('gives the FAR thresholds, tail counts and FRR the operating point needs', () => {
    const g = scores(2000, 7, 0.75, 0.4);
    const im = scores(200_000, 9, 0.1, 0.6);
    const d = scoreDistribution('m', { name: 'x', images: 1, identities: 1, distractors: 0 }, { genuine: g, impostor: im }, 10);
    expect(d.impostor.pairs).toBe(200_000);
    expect(d.genuine.pairs).toBe(2010);
    expect(d.impostor.thresholds['1e-3']).toBeCloseTo(thresholdAtFar(im, 1e-3), 5);
    expect(d.impostor.thresholds['1e-5']).toBeNull(); // 2 allowed pairs cannot resolve it
    for (const [t, n] of d.impostor.tail) expect(n).toBe(im.filter((x) => x >= t).length);
    const [t, f] = d.genuine.frr[d.genuine.frr.length >> 1]!;
    expect(f).toBeCloseTo((g.filter((x) => x < t).length + 10) / 2010, 5);
    // farAt is exact on the grid and from the top scores above it
    expect(d.impostor.tail.length).toBeGreaterThanOrEqual(2);
    const [tg, ng] = d.impostor.tail[1]!;
    expect(farAt(d, tg)).toBeCloseTo(ng / 200_000, 12);
    expect(farAt(d, d.impostor.max)).toBe(1 / 200_000);
  });
});

describe('progress on long runs', () => {
  it('writes throttled lines (not only on a TTY) and always the last one', () => {
    const lines: string[] = [];
    const tick = progressReporter('eval: images', 60_000, (s) => lines.push(s));
    for (let i = 1; i <= 1000; i++) tick(i, 1000);
    expect(lines.length).toBe(2); // the first and the last
    expect(lines[1]).toMatch(/^eval: images: 1000\/1000 \(100 %\)/);
  });
});

import { describe, expect, it } from 'vitest';
import { evaluatePrecision, type ImageResult } from '../../src/eval/evaluate.js';
import { l2normalize } from '../../src/util/vector.js';

/** A unit-length vector near `base` (a person) with a little noise, of any dimension. */
function near(base: Float32Array, seed: number): Float32Array {
  const v = Float32Array.from(base);
  for (let i = 0; i < v.length; i++) v[i] = v[i]! + 0.05 * Math.sin(seed * 7.3 + i * 1.7);
  return l2normalize(v);
}

/** A pseudo-random unit vector per person (seeded, so the test is the same every run). */
function person(dim: number, k: number): Float32Array {
  let x = (k + 1) * 2654435761;
  const v = new Float32Array(dim);
  for (let i = 0; i < dim; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    v[i] = x / 2 ** 32 - 0.5;
  }
  return l2normalize(v);
}

describe('eval with an embedder of any dimension (bug 6 of the ownership review)', () => {
  it.each([128, 192, 512])('evaluates %i-d embeddings: the open-set gallery takes the embedder dimension', (dim) => {
    const results: ImageResult[] = [];
    for (let k = 0; k < 4; k++) {
      const base = person(dim, k);
      for (let j = 0; j < 3; j++)
        results.push({ path: `p${k}/${j}.jpg`, identity: `p${k}`, detected: true, faces: 1, embeddings: { int8: near(base, k * 10 + j) } });
    }
    const r = evaluatePrecision(results, 'int8', 0.9, 0.02, `test-${dim}`);
    expect(r.open_set.probes).toBe(8);
    expect(r.rank1).toBe(1);
    expect(r.genuine_pairs).toBe(12);
  });

  it('reports the score extremes of a very large impostor set without overflowing the stack', () => {
    const dim = 8;
    const results: ImageResult[] = [];
    // 1,700 single-image identities → ~1.4 M impostor pairs (the faces-lfw scale that crashed Math.max(...scores)).
    for (let k = 0; k < 1700; k++) results.push({ path: `${k}.jpg`, identity: `p${k}`, detected: true, faces: 1, embeddings: { int8: person(dim, k) } });
    const r = evaluatePrecision(results, 'int8', 0.99, 0.02, 'test');
    expect(r.impostor_pairs).toBe((1700 * 1699) / 2);
    expect(r.score_stats.impostor_max).toBeLessThanOrEqual(1.0001);
    expect(r.score_stats.impostor_max).toBeGreaterThan(r.score_stats.impostor_mean);
  });
});

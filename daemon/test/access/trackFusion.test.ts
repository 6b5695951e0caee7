import { describe, expect, it } from 'vitest';
import { decideTrack, fuseEmbeddings, type TrackFrame } from '../../src/access/trackFusion.js';
import { Gallery } from '../../src/gallery/gallery.js';
import { l2normalize } from '../../src/util/vector.js';

const DIM = 64;
function unit(seed: number): Float32Array {
  let x = seed * 2654435761;
  const v = new Float32Array(DIM);
  for (let i = 0; i < DIM; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    v[i] = x / 2 ** 32 - 0.5;
  }
  return l2normalize(v);
}
/** a·base + b·other, normalised: a probe whose cosine to `base` is about a (for orthogonal-ish vectors). */
function mix(base: Float32Array, a: number, other: Float32Array, b: number): Float32Array {
  return l2normalize(Float32Array.from(base, (v, i) => a * v + b * other[i]!));
}

describe('track decision (fused embedding + K agreeing frames + threshold + margin)', () => {
  const people = Array.from({ length: 50 }, (_, k) => unit(k + 1));
  const g = new Gallery(DIM);
  g.load(people.map((embedding, k) => ({ personId: `p${k}`, embedding })));
  const search = (probe: Float32Array) => g.search(probe, 2);
  const opts = { threshold: 0.6, margin: 0.05, minFrames: 3, minQuality: 0.5 };

  it('grants an enrolled person whose frames are noisy views of their template', () => {
    const frames: TrackFrame[] = Array.from({ length: 6 }, (_, i) => ({ embedding: mix(people[7]!, 1, unit(1000 + i), 0.6), quality: 0.9 }));
    const d = decideTrack(frames, search, opts);
    expect(d.decision).toBe('match');
    expect(d.personId).toBe('p7');
    expect(d.agreeingFrames).toBeGreaterThanOrEqual(3);
  });

  it('denies a stranger even though some single frames pass the threshold (frame decision would grant)', () => {
    // a stranger: mostly their own face; two of ten frames drift close to p3 (lookalike moments)
    const stranger = unit(5000);
    const frames: TrackFrame[] = Array.from({ length: 10 }, (_, i) => ({
      embedding: i === 2 || i === 6 ? mix(people[3]!, 1, stranger, 0.5) : mix(stranger, 1, people[3]!, 0.45),
      quality: 0.9,
    }));
    const singleFrameGrants = frames.filter((f) => g.match(f.embedding, opts.threshold, opts.margin).decision === 'match').length;
    expect(singleFrameGrants).toBeGreaterThanOrEqual(2);
    const d = decideTrack(frames, search, opts);
    expect(d.decision).not.toBe('match');
  });

  it('waits (pending) while too few good frames are seen, and ignores low-quality frames', () => {
    const good = { embedding: mix(people[1]!, 1, unit(77), 0.3), quality: 0.9 };
    expect(decideTrack([good, good], search, opts).decision).toBe('pending');
    const blurred = { embedding: people[2]!, quality: 0.1 };
    const d = decideTrack([good, good, blurred, blurred, blurred], search, opts);
    expect(d.goodFrames).toBe(2);
    expect(d.decision).toBe('pending');
    expect(decideTrack([good, good, good], search, opts).decision).toBe('match');
  });

  it('fuses by quality weight', () => {
    const a = unit(1),
      b = unit(2);
    const f = fuseEmbeddings(
      [
        { embedding: a, quality: 0.9 },
        { embedding: b, quality: 0.6 },
        { embedding: unit(3), quality: 0.2 },
      ],
      0.5,
    )!;
    const want = l2normalize(Float32Array.from(a, (v, i) => 0.9 * v + 0.6 * b[i]!));
    for (let i = 0; i < DIM; i++) expect(f[i]).toBeCloseTo(want[i]!, 6);
    expect(fuseEmbeddings([{ embedding: a, quality: 0.1 }], 0.5)).toBeNull();
  });
});

/**
 * Presentation-attack checks on the real samples of the shared spoof set (NUAA live/print crops,
 * Silent-Face's live / print / screen stills): the homography (planarity) check and MiniFASNet.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scoreStills, stillPairs, type PairSample, type StillSample } from '../../src/eval/padEval.js';
import { PLANARITY_DEFAULTS } from '../../src/vision/liveness/planarity.js';
import { MiniFasNet } from '../../src/vision/miniFasNet.js';
import { defaultModelsDir } from '../../src/vision/modelSet.js';
import { FacePipeline } from '../../src/vision/pipeline.js';
import { DATA, SKIP_DATA } from './sharedData.js';

describe.skipIf(SKIP_DATA)('presentation-attack checks on real samples', () => {
  let pipeline: FacePipeline;
  let fas: MiniFasNet;
  let stills: StillSample[] = [];
  let pairs: PairSample[] = [];
  beforeAll(async () => {
    pipeline = await FacePipeline.create({ precision: 'int8' });
    fas = await MiniFasNet.create(defaultModelsDir());
    const r = await scoreStills(pipeline, fas, join(DATA, 'spoof'));
    stills = r.stills;
    pairs = stillPairs(r.stills, r.meshes);
  }, 300_000);
  afterAll(async () => {
    await pipeline?.release();
    await fas?.release();
  });

  it('the homography check separates printed photos from live faces (NUAA pairs of one subject)', () => {
    const { minMotion, planarBelow } = PLANARITY_DEFAULTS;
    const live = pairs.filter((p) => p.species === 'bona_fide');
    const print = pairs.filter((p) => p.species === 'print');
    expect(live.length).toBeGreaterThanOrEqual(100);
    expect(print.length).toBeGreaterThanOrEqual(100);
    const median = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1]!;
    // a print's landmarks fit one homography better than a live head's do
    expect(median(print.map((p) => p.ratio))).toBeLessThan(median(live.map((p) => p.ratio)) - 0.15);
    const planar = (p: PairSample): boolean => p.motion >= minMotion && p.ratio < planarBelow;
    const bpcer = live.filter(planar).length / live.length;
    const printCaught = print.filter(planar).length / print.length;
    expect(bpcer).toBeLessThanOrEqual(0.15);
    expect(printCaught).toBeGreaterThanOrEqual(0.6); // APCER ≤ 40 %: a supporting check, not a decision alone
  });

  it('MiniFASNet scores printed photos and the screen replay far lower than live faces', () => {
    const real = (sp: string): number[] => stills.filter((s) => s.species === sp && s.minifasnet !== null).map((s) => s.minifasnet!);
    const live = real('bona_fide');
    const print = real('print');
    const screen = real('screen_replay');
    expect(print.filter((v) => v >= 0.5).length / print.length).toBeLessThanOrEqual(0.15);
    expect(screen.every((v) => v < 0.3)).toBe(true);
    expect(live.filter((v) => v >= 0.3).length / live.length).toBeGreaterThanOrEqual(0.75);
  });

  it('MiniFASNet scores random noise as real: it must never decide alone', async () => {
    let seed = 5;
    let real = 0;
    for (let k = 0; k < 10; k++) {
      const x = Float32Array.from({ length: 3 * 128 * 128 }, () => ((seed = (seed * 1103515245 + 12345) % 2147483648) >>> 23) % 256);
      if ((await fas.scoreInput(x)).real >= 0.5) real++;
    }
    expect(real).toBeGreaterThanOrEqual(8);
  });
});

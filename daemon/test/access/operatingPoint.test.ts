import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCalibration, operatingPoint, OperatingPoints, SECURITY_LEVELS, thresholdForFar } from '../../src/access/operatingPoint.js';
import { defaultModelsDir } from '../../src/vision/modelSet.js';
import { tempDir } from '../helpers/blinkd.js';

// The real saved score distributions (faces-lfw, 1,090,800 impostor pairs) of the shipped embedders.
const MODELS = defaultModelsDir();
const mfn = loadCalibration(MODELS, 'mobilefacenet512-int8');
const dlib = loadCalibration(MODELS, 'faceapi-resnet-int8');

describe('operating point (threshold from the calibration, the security level and the gallery size)', () => {
  it('one person at a level = the per-comparison threshold the evaluation measured for that FAR', () => {
    expect(operatingPoint(mfn, { level: 'standard', people: 1 }).threshold).toBe(mfn.impostor.thresholds['1e-4']);
    expect(operatingPoint(mfn, { level: 'convenience', people: 1 }).threshold).toBe(mfn.impostor.thresholds['1e-3']);
    expect(operatingPoint(dlib, { level: 'high', people: 1 }).threshold).toBe(dlib.impostor.thresholds['1e-5']);
  });

  it('the threshold rises as the gallery grows, and the measured FAR per comparison stays within target ÷ people', () => {
    let last = -1;
    for (const people of [1, 5, 10, 50, 100, 1000]) {
      const p = operatingPoint(mfn, { level: 'convenience', people });
      expect(p.threshold).toBeGreaterThanOrEqual(last);
      last = p.threshold;
      expect(p.farPerComparisonTarget).toBeCloseTo(SECURITY_LEVELS.convenience / people, 12);
      if (p.resolved) expect(p.farPerComparison).toBeLessThanOrEqual(p.farPerComparisonTarget);
      expect(p.farPerVisit).toBeCloseTo(1 - Math.pow(1 - p.farPerComparison, people), 12);
    }
    // 10 people at convenience (1e-3 per visit) need 1e-4 per comparison: the standard point of one person
    expect(operatingPoint(mfn, { level: 'convenience', people: 10 }).threshold).toBe(operatingPoint(mfn, { level: 'standard', people: 1 }).threshold);
    // stricter levels are stricter
    const at = (level: keyof typeof SECURITY_LEVELS) => operatingPoint(mfn, { level, people: 20 }).threshold;
    expect(at('high')).toBeGreaterThan(at('standard'));
    expect(at('standard')).toBeGreaterThan(at('convenience'));
  });

  it('a target below what the pairs can show puts the threshold above every measured impostor and says so', () => {
    const p = operatingPoint(mfn, { level: 'high', people: 100 }); // 1e-7 per comparison, 1.09 M pairs
    expect(p.resolved).toBe(false);
    expect(p.threshold).toBeGreaterThan(mfn.impostor.max);
    expect(p.farPerComparison).toBe(0);
    expect(p.warnings.join()).toMatch(/below what 1090800 calibration pairs can show/);
    // exactly one impostor pair allowed: just above the second-highest impostor score
    expect(thresholdForFar(mfn, 1.5 / mfn.impostor.pairs).threshold).toBeCloseTo(mfn.impostor.top[1]!, 5);
  });

  it('the margin is dlib’s measured 0.02 carried to each model in units of its genuine−impostor separation', () => {
    expect(operatingPoint(dlib, { level: 'standard', people: 1 }).margin).toBeCloseTo(0.02, 6);
    const m = operatingPoint(mfn, { level: 'standard', people: 1 }).margin;
    expect(m).toBeCloseTo((0.02 * (mfn.genuine.mean - mfn.impostor.mean)) / (dlib.genuine.mean - dlib.impostor.mean), 5);
    expect(operatingPoint(mfn, { level: 'standard', people: 1, margin: 0.05 })).toMatchObject({ margin: 0.05, marginSource: 'access.margin' });
  });

  it('access.threshold overrides, but a number below the model’s FAR 1e-2 point (meant for another embedder) is refused', () => {
    expect(operatingPoint(mfn, { level: 'standard', people: 3, threshold: 0.45 })).toMatchObject({ threshold: 0.45, thresholdSource: 'access.threshold' });
    const low = operatingPoint(dlib, { level: 'standard', people: 3, threshold: 0.45 }); // an MFN number on dlib: nearly everyone would match
    expect(low.thresholdSource).toBe('calibration');
    expect(low.threshold).toBeGreaterThan(0.93);
    expect(low.warnings[0]).toMatch(/below faceapi-resnet-int8's FAR 1e-2 threshold .* ignored/);
    const high = operatingPoint(mfn, { level: 'standard', people: 3, threshold: 0.926 }); // the old dlib default on MFN: refuses nearly everyone
    expect(high.threshold).toBe(0.926);
    expect(high.frr).toBeGreaterThanOrEqual(0.5); // at least half: above the median genuine score
    expect(high.warnings[0]).toMatch(/rejects at least \d+ % of genuine pairs/);
  });

  it('the owner follows the running model and the number of people; a missing or broken calibration refuses everyone', () => {
    let people = 1;
    let model: string | null = 'mobilefacenet512-int8';
    const access = { securityLevel: 'standard' as const, threshold: null, margin: null };
    const op = new OperatingPoints(access, MODELS, { model: () => model, people: () => people });
    const t1 = op.thresholds().threshold;
    people = 200;
    expect(op.thresholds().threshold).toBeGreaterThan(t1);
    expect(op.levels().levels.map((l) => l.level)).toEqual(['high', 'standard', 'convenience']);
    model = 'nonexistent-int8';
    expect(op.thresholds().threshold).toBeGreaterThan(1); // nobody can match
    expect(op.levels().error).toMatch(/no calibration for embedder nonexistent-int8/);

    const t = tempDir();
    try {
      mkdirSync(join(t.dir, 'calibration', 'impostors'), { recursive: true });
      writeFileSync(join(t.dir, 'calibration', 'impostors', 'x-int8.json'), JSON.stringify({ schema: 1, model: 'x-int8', impostor: { pairs: -1 } }));
      expect(() => loadCalibration(t.dir, 'x-int8')).toThrow(/x-int8\.json: dataset: Required/);
    } finally {
      t.cleanup();
    }
  });
});

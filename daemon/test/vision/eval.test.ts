import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evalMain } from '../../src/eval/main.js';
import { DATA, SKIP_DATA } from './sharedData.js';

const KEYS = [
  'tar_at_far_1e-2',
  'tar_at_far_1e-3',
  'eer',
  'rank1',
  'distractor_false_accept_rate',
  'detection_failures',
  'genuine_pairs',
  'impostor_pairs',
  'threshold',
  'tar_at_far_1e-4',
  'threshold_at_far_1e-4',
];

describe.skipIf(SKIP_DATA)('npm run eval on the shared faces', () => {
  it('writes the JSON keys for int8 and fp32, meets the accuracy bar, and INT8 stays within 1 point of FP32', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'blink-eval-'));
    try {
      const file = join(dir, 'eval.json');
      expect(await evalMain(['--data', join(DATA, 'faces'), '--json', file])).toBe(0);
      const r = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, number>>;
      for (const p of ['int8', 'fp32']) {
        for (const k of KEYS) expect(typeof r[p]![k], `${p}.${k}`).toBe('number');
        expect(r[p]!.genuine_pairs).toBeGreaterThan(100);
        expect(r[p]!.impostor_pairs).toBeGreaterThan(1000);
        expect(r[p]!['tar_at_far_1e-3']).toBeGreaterThanOrEqual(0.99);
        expect(r[p]!.rank1).toBeGreaterThanOrEqual(0.97);
        expect(r[p]!.distractor_false_accept_rate).toBe(0);
      }
      for (const k of ['tar_at_far_1e-2', 'tar_at_far_1e-3', 'rank1']) expect(Math.abs(r.int8![k]! - r.fp32![k]!), k).toBeLessThanOrEqual(0.01);
      expect(Math.abs(r.int8!.eer! - r.fp32!.eer!)).toBeLessThanOrEqual(0.01);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(SKIP_DATA)('npm run eval -- --embedder (any manifest embedder)', () => {
  it('evaluates MobileFaceNet-512 at INT8 and FP32 and saves each score distribution', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'blink-eval-'));
    try {
      const file = join(dir, 'eval.json');
      const scores = join(dir, 'scores');
      expect(await evalMain(['--data', join(DATA, 'faces'), '--embedder', 'mobilefacenet512', '--json', file, '--save-scores', scores])).toBe(0);
      const r = JSON.parse(readFileSync(file, 'utf8')) as { models: Record<string, Record<string, number>> };
      expect(Object.keys(r.models).sort()).toEqual(['mobilefacenet512-fp32', 'mobilefacenet512-int8']);
      for (const m of Object.values(r.models)) {
        expect(m['tar_at_far_1e-3']).toBeGreaterThanOrEqual(0.99);
        expect(typeof m['tar_at_far_1e-4']).toBe('number');
      }
      for (const id of Object.keys(r.models)) expect(existsSync(join(scores, `${id}.json`))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('refuses an embedder the manifest does not have, naming the ones it has', async () => {
    await expect(evalMain(['--data', join(DATA, 'faces'), '--embedder', 'arcface-r100'])).rejects.toThrow(
      /no embedder 'arcface-r100'.*available: .*mobilefacenet512-int8/,
    );
  });
});

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

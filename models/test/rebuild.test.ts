/**
 * `npm run models` must rebuild every committed model file byte for byte. This downloads the
 * pinned tarballs from the npm registry into the model cache (BLINK_MODEL_CACHE) on first run.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { buildAll } from '../tools/main.js';
import { sha256 } from '../tools/manifest.js';
import { MODELS_DIR } from './helpers.js';

describe('model rebuild is byte-identical', () => {
  const out = mkdtempSync(join(tmpdir(), 'blink-models-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('rebuilds every committed .onnx and manifest.json with the same sha256, also after a session set the CPU denormal mode', async () => {
    // onnxruntime's set_denormal_as_zero (the daemon's pipeline option, used by --calibrate) sets
    // DAZ/FTZ on this JS thread: float32 subnormals read by the tools then come out as 0. The
    // build must give the same bytes either way (models/tools/onnxBuilder.ts ftz()).
    const s = await ort.InferenceSession.create(readFileSync(join(MODELS_DIR, 'onnx', 'liveness.onnx')), {
      extra: { session: { set_denormal_as_zero: '1' } },
    });
    await s.release();
    const built = await buildAll(out, MODELS_DIR);
    const committed = JSON.parse(readFileSync(join(MODELS_DIR, 'manifest.json'), 'utf8')) as typeof built;
    expect(built.models.map((m) => m.id)).toEqual(committed.models.map((m) => m.id));
    for (const m of built.models) {
      if (m.source.kind === 'user') continue;
      const rebuilt = sha256(readFileSync(join(out, m.file)));
      const onDisk = sha256(readFileSync(join(MODELS_DIR, m.file)));
      expect({ file: m.file, sha256: rebuilt }).toEqual({ file: m.file, sha256: onDisk });
    }
    expect(readFileSync(join(out, 'manifest.json'), 'utf8')).toBe(readFileSync(join(MODELS_DIR, 'manifest.json'), 'utf8'));
  }, 600_000);
});

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelManifest, modelFor, verifyModels } from '../../daemon/src/vision/modelManifest.js';
import { MODELS_DIR } from './helpers.js';

describe('verifyModels', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'blink-verify-'));
    cpSync(join(MODELS_DIR, 'manifest.json'), join(dir, 'manifest.json'));
    cpSync(join(MODELS_DIR, 'onnx'), join(dir, 'onnx'), { recursive: true });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('accepts the committed model files and resolves defaults', () => {
    const m = verifyModels(MODELS_DIR);
    expect(m.models.length).toBeGreaterThanOrEqual(7);
    // the default embedder: MobileFaceNet-512 INT8, 112×112 ArcFace chip, NCHW, batch symbolic
    expect(modelFor(m, 'embedder')).toMatchObject({ id: 'mobilefacenet512-int8', input: { name: 'input', shape: [-1, 3, 112, 112], layout: 'NCHW' } });
    expect(() => verifyModels(dir)).not.toThrow();
  });

  it('throws naming the tampered file and how to rebuild', () => {
    const file = join(dir, 'onnx', 'detector-blazeface.onnx');
    const bytes = readFileSync(file);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] ?? 0) ^ 0xff;
    writeFileSync(file, bytes);
    expect(() => verifyModels(dir)).toThrow(/detector-blazeface\.onnx/);
    expect(() => verifyModels(dir)).toThrow(/npm run models/);
    expect(() => verifyModels(dir, ['blazeface'])).toThrow(/sha256/);
    // other models still verify when asked for individually
    expect(() => verifyModels(dir, ['faceapi-resnet-int8', 'facemesh'])).not.toThrow();
  });

  it('throws naming a missing file and unknown ids', () => {
    rmSync(join(dir, 'onnx', 'liveness.onnx'));
    expect(() => verifyModels(dir, ['liveness'])).toThrow(/liveness\.onnx/);
    expect(() => verifyModels(dir, ['nope'])).toThrow(/nope/);
    expect(() => loadModelManifest(join(dir, 'missing'))).toThrow(/npm run models/);
  });
});

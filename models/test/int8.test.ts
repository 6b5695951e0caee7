/**
 * INT8 vs FP32 recognition on aligned real face crops that were NOT used for calibration
 * (calibration: face-api.js chips; evaluation: dlib "johns" chips x 6 mirror/shift variants).
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { augment, EVAL_CHIP_IDENTITIES, faceApiInput, loadAlignedChips } from '../tools/faceCrops.js';
import { cosine, MODELS_DIR, requireTestData, runDataTests } from './helpers.js';

const FP32 = join(MODELS_DIR, 'onnx', 'embedder-faceapi-resnet.fp32.onnx');
const INT8 = join(MODELS_DIR, 'onnx', 'embedder-faceapi-resnet.int8.onnx');

describe('INT8 recognition model file', () => {
  it('is at most 35% of the FP32 file and is in QDQ form', () => {
    const ratio = statSync(INT8).size / statSync(FP32).size;
    console.log(`INT8/FP32 size: ${(ratio * 100).toFixed(1)}%`);
    expect(ratio).toBeLessThanOrEqual(0.35);
    const text = readFileSync(INT8).toString('latin1');
    expect(text).toContain('QuantizeLinear');
    expect(text).toContain('DequantizeLinear');
  });
});

describe.skipIf(!runDataTests)('INT8 vs FP32 embeddings on held-out aligned face crops', () => {
  let inputs: Float32Array[] = [];
  beforeAll(async () => {
    const faces = join(requireTestData(), 'faces');
    inputs = augment(await loadAlignedChips(faces, EVAL_CHIP_IDENTITIES), 6).map(faceApiInput);
  });

  it('mean cosine >= 0.98 and min >= 0.95 over >= 100 crops', async () => {
    expect(inputs.length).toBeGreaterThanOrEqual(100);
    const s32 = await ort.InferenceSession.create(FP32);
    const s8 = await ort.InferenceSession.create(INT8);
    const cos: number[] = [];
    for (const x of inputs) {
      const feeds = { input: new ort.Tensor('float32', x, [1, 150, 150, 3]) };
      const a = (await s32.run(feeds)).embedding?.data as Float32Array;
      const b = (await s8.run(feeds)).embedding?.data as Float32Array;
      cos.push(cosine(a, b));
    }
    const mean = cos.reduce((p, c) => p + c, 0) / cos.length;
    const min = Math.min(...cos);
    console.log(`INT8 vs FP32 over ${cos.length} crops: mean cosine ${mean.toFixed(5)}, min ${min.toFixed(5)}`);
    expect(mean).toBeGreaterThanOrEqual(0.98);
    expect(min).toBeGreaterThanOrEqual(0.95);
  });
});

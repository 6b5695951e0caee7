import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { packTensor, warpRgb, warpToTensor, type InputNorm } from '../../src/vision/align.js';
import { rewriteForRuntime } from '../../src/vision/onnxRewrite.js';
import { defaultModelsDir } from '../../src/vision/modelSet.js';

/** Deterministic noise image. */
function noiseImage(width: number, height: number, seed = 7): { width: number; height: number; data: Uint8Array } {
  let s = seed;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (s = (s * 1103515245 + 12345) % 2147483648) >>> 23;
  return { width, height, data };
}

describe('warpToTensor (fused crop + normalise)', () => {
  const img = noiseImage(64, 48);
  const transforms = [
    { a: 0.5, b: 0, tx: 0, ty: 4 }, // letterbox, downscale
    { a: 1.3, b: 0.4, tx: -20, ty: -10 }, // rotated, partly outside the image
    { a: 2, b: -0.3, tx: -60, ty: 20 }, // mostly outside
  ];
  const norms: InputNorm[] = [
    { layout: 'nhwc', mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5], channels: 'rgb' },
    { layout: 'nchw', mean: [122.782, 117.001, 104.298], std: [255, 255, 255], channels: 'bgr' },
  ];
  it('gives exactly packTensor(warpRgb(…)) for every layout, channel order and border case', () => {
    for (const t of transforms) {
      for (const norm of norms) {
        const want = packTensor(warpRgb(img, t, 32, 32), 32, 32, norm, new Float32Array(32 * 32 * 3));
        const got = warpToTensor(img, t, 32, 32, norm, new Float32Array(32 * 32 * 3));
        expect(Array.from(got)).toEqual(Array.from(want));
      }
    }
  });
  it('writes at an offset (batched input) without touching the rest', () => {
    const out = new Float32Array(2 * 8 * 8 * 3).fill(-9);
    warpToTensor(img, transforms[0]!, 8, 8, norms[0]!, out, 8 * 8 * 3);
    expect(out[0]).toBe(-9);
    expect(out[8 * 8 * 3 - 1]).toBe(-9);
    expect(out.subarray(8 * 8 * 3).every((v) => v >= -1 && v <= 1)).toBe(true);
  });
});

describe('load-time ONNX rewrite (PRelu → Relu/Sub/Mul/Add)', () => {
  const file = join(defaultModelsDir(), 'onnx', 'landmarks-facemesh.onnx');
  it('replaces every PRelu of FaceMesh and the outputs stay bit-identical', async () => {
    const bytes = readFileSync(file);
    const { bytes: rewritten, report } = rewriteForRuntime(bytes);
    expect(report.prelu).toBe(28);
    expect(report.preluKept).toBe(0);
    expect(rewritten.length).toBeGreaterThan(bytes.length);
    const opts = { intraOpNumThreads: 1, graphOptimizationLevel: 'all' } as const;
    const [a, b] = await Promise.all([ort.InferenceSession.create(bytes, opts), ort.InferenceSession.create(rewritten, opts)]);
    try {
      const img = noiseImage(192, 192, 3);
      const input = new Float32Array(192 * 192 * 3);
      for (let i = 0; i < input.length; i++) input[i] = img.data[i]! / 255;
      const feeds = { input: new ort.Tensor('float32', input, [1, 192, 192, 3]) };
      const [ra, rb] = [await a.run(feeds), await b.run(feeds)];
      for (const name of a.outputNames) expect(Array.from(rb[name]!.data as Float32Array)).toEqual(Array.from(ra[name]!.data as Float32Array));
    } finally {
      await Promise.all([a.release(), b.release()]);
    }
  });
  it('leaves a model without PRelu as the same bytes', () => {
    const bytes = readFileSync(join(defaultModelsDir(), 'onnx', 'antispoof.onnx'));
    const { bytes: out, report } = rewriteForRuntime(bytes);
    expect(report.prelu).toBe(0);
    expect(out).toBe(bytes);
  });
  it('refuses truncated bytes with a clear error', () => {
    const bytes = readFileSync(file).subarray(0, 1000);
    expect(() => rewriteForRuntime(bytes)).toThrow(/onnx: truncated/);
  });
});

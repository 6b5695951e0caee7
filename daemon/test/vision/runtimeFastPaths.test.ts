import { describe, expect, it } from 'vitest';
import { packTensor, warpRgb, warpToTensor, type InputNorm } from '../../src/vision/align.js';

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

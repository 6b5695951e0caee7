import { describe, expect, it } from 'vitest';
import { applySimilarity, arcfaceTemplate, dlibChipTemplate, estimateSimilarity, invertSimilarity, packTensor, warpRgb } from '../../src/vision/align.js';

describe('similarity alignment', () => {
  it('recovers a known rotation + scale + translation from five points (Umeyama)', () => {
    const src = [
      { x: 10, y: 20 },
      { x: 50, y: 22 },
      { x: 30, y: 40 },
      { x: 15, y: 60 },
      { x: 45, y: 61 },
    ];
    const th = (23 * Math.PI) / 180,
      s = 1.7;
    const truth = { a: s * Math.cos(th), b: s * Math.sin(th), tx: -12.5, ty: 33 };
    const dst = src.map((p) => applySimilarity(truth, p));
    const t = estimateSimilarity(src, dst);
    expect(t.a).toBeCloseTo(truth.a, 9);
    expect(t.b).toBeCloseTo(truth.b, 9);
    expect(t.tx).toBeCloseTo(truth.tx, 9);
    expect(t.ty).toBeCloseTo(truth.ty, 9);
    const back = applySimilarity(invertSimilarity(t), dst[2]!);
    expect(back.x).toBeCloseTo(30, 9);
    expect(back.y).toBeCloseTo(40, 9);
  });

  it('is a least-squares fit under noise (residual below the noise scale)', () => {
    const src = dlibChipTemplate(150, 0.25).map((p) => ({ x: p.x * 2 + 100, y: p.y * 2 + 50 }));
    const dst = dlibChipTemplate(150, 0.25);
    const noisy = src.map((p, i) => ({ x: p.x + (i % 2 ? 1 : -1), y: p.y + (i % 3 ? 1 : -1) }));
    const t = estimateSimilarity(noisy, dst);
    expect(Math.hypot(t.a, t.b)).toBeCloseTo(0.5, 1);
    for (const [i, p] of noisy.entries()) {
      const q = applySimilarity(t, p);
      expect(Math.hypot(q.x - dst[i]!.x, q.y - dst[i]!.y)).toBeLessThan(1.5);
    }
  });

  it('places the dlib 150×150 chip (padding 0.25) and ArcFace template where they belong', () => {
    const d = dlibChipTemplate(150, 0.25);
    // eye centres of dlib's mean face (0.2255, 0.2160) and (0.7548, 0.2160) mapped through (0.25 + p)/1.5·150
    expect(d[0]!.x).toBeCloseTo(((0.25 + 0.225492) / 1.5) * 150, 2);
    expect(d[1]!.x).toBeCloseTo(((0.25 + 0.754761) / 1.5) * 150, 2);
    expect(d[0]!.y).toBeCloseTo(d[1]!.y, 6);
    expect(d[2]!.x).toBeCloseTo(((0.25 + 0.490127) / 1.5) * 150, 3);
    const a = arcfaceTemplate(112);
    expect(a[0]).toEqual({ x: 38.2946, y: 51.6963 });
    expect(a[4]!.x).toBeCloseTo(70.7299, 4);
  });

  it('warps pixels bilinearly through the transform and packs normalised tensors', () => {
    // 4×4 image, value = x*10 + y in the red channel
    const img = { width: 4, height: 4, data: new Uint8Array(48) };
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) img.data[(y * 4 + x) * 3] = x * 10 + y;
    // translation by (-1, -1): crop(0,0) = image(1,1)
    const crop = warpRgb(img, { a: 1, b: 0, tx: -1, ty: -1 }, 2, 2);
    expect([crop[0], crop[3], crop[6], crop[9]]).toEqual([11, 21, 12, 22]);
    // half-pixel shift interpolates
    const half = warpRgb(img, { a: 1, b: 0, tx: -0.5, ty: 0 }, 1, 1);
    expect(half[0]).toBe(5);
    const t = packTensor(crop, 2, 2, { layout: 'nchw', mean: [1, 0, 0], std: [2, 1, 1], channels: 'rgb' }, new Float32Array(12));
    expect(t[0]).toBe(5);
    expect(t[3]).toBe(10.5);
  });
});

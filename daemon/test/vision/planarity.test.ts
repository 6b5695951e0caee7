import { describe, expect, it } from 'vitest';
import { applyHomography, fitHomography, fitPair, planarity } from '../../src/vision/liveness/planarity.js';

/** A face-like 3-D point cloud (mm): an ellipsoid cap with a nose ridge, centred on the origin. */
function faceCloud(n = 468, seed = 3): [number, number, number][] {
  let s = seed;
  const rnd = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const pts: [number, number, number][] = [];
  while (pts.length < n) {
    const x = rnd() * 70,
      y = rnd() * 90;
    if ((x / 70) ** 2 + (y / 90) ** 2 > 1) continue;
    const cap = 60 * Math.sqrt(Math.max(0, 1 - (x / 75) ** 2 - (y / 95) ** 2));
    const nose = 25 * Math.exp(-(x ** 2) / 120 - (y - 5) ** 2 / 900);
    pts.push([x, y, cap + nose]);
  }
  return pts;
}

/** Pinhole projection after rotating by yaw/pitch (degrees) and translating; + pixel noise. */
function project(
  pts: [number, number, number][],
  yaw: number,
  pitch: number,
  o: { dist?: number; f?: number; noise?: number; seed?: number; tx?: number } = {},
): Float32Array {
  const f = o.f ?? 800,
    d = o.dist ?? 600;
  const [cy, sy, cp, sp] = [
    Math.cos((yaw * Math.PI) / 180),
    Math.sin((yaw * Math.PI) / 180),
    Math.cos((pitch * Math.PI) / 180),
    Math.sin((pitch * Math.PI) / 180),
  ];
  let s = o.seed ?? 9;
  const rnd = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  const out = new Float32Array(pts.length * 3);
  pts.forEach(([x, y, z], i) => {
    const x1 = cy * x + sy * z,
      z1 = -sy * x + cy * z;
    const y2 = cp * y - sp * z1,
      z2 = sp * y + cp * z1;
    const depth = d - z2;
    out[i * 3] = 320 + (o.tx ?? 0) + (f * x1) / depth + (o.noise ?? 0) * rnd();
    out[i * 3 + 1] = 240 + (f * y2) / depth + (o.noise ?? 0) * rnd();
    out[i * 3 + 2] = 0;
  });
  return out;
}

const flat = (pts: [number, number, number][]): [number, number, number][] => pts.map(([x, y]) => [x, y, 0]);

describe('fitHomography (normalised DLT)', () => {
  it('recovers a known projective map exactly', () => {
    const H = [1.1, 0.05, 12, -0.03, 0.95, -7, 0.0004, -0.0002, 1];
    const src = [
      { x: 10, y: 20 },
      { x: 300, y: 40 },
      { x: 280, y: 310 },
      { x: 30, y: 250 },
      { x: 150, y: 150 },
      { x: 90, y: 60 },
    ];
    const dst = src.map((p) => applyHomography(H, p));
    const G = fitHomography(src, dst);
    for (let k = 0; k < 9; k++) expect(G[k]).toBeCloseTo(H[k]!, 6);
  });
  it('needs four points', () => {
    expect(() => fitHomography([{ x: 0, y: 0 }], [{ x: 0, y: 0 }])).toThrow(/≥ 4 point pairs/);
  });
});

describe('planarity of two views', () => {
  const cloud = faceCloud();
  it('a photo (plane) turned by 15° fits a homography; a head turned by 15° does not', () => {
    const photo = fitPair(project(flat(cloud), 0, 0, { noise: 0.3, seed: 1 }), project(flat(cloud), 15, 5, { noise: 0.3, seed: 2 }));
    const head = fitPair(project(cloud, 0, 0, { noise: 0.3, seed: 1 }), project(cloud, 15, 5, { noise: 0.3, seed: 2 }));
    expect(photo.motion).toBeGreaterThan(0.01); // the photo did move beyond a similarity (perspective)
    expect(head.motion).toBeGreaterThan(0.01);
    expect(photo.residual).toBeLessThan(0.006); // landmark noise only (0.3 px on a ≈ 50 px face radius)
    expect(head.residual).toBeGreaterThan(3 * photo.residual);
  });
  it('a face that only slides has too little motion to judge', () => {
    const r = planarity([project(cloud, 0, 0), project(cloud, 0, 0, { tx: 30 }), project(cloud, 0, 0, { tx: 60 })]);
    expect(r.verdict).toBe('insufficient-motion');
    expect(r.score).toBeNull();
  });
  it('judges a sequence: photo planar, head not planar', () => {
    const yaws = [0, 4, 8, 12, 16, 20];
    const photo = planarity(yaws.map((y, i) => project(flat(cloud), y, y / 3, { noise: 0.3, seed: i + 1 })));
    const head = planarity(yaws.map((y, i) => project(cloud, y, y / 3, { noise: 0.3, seed: i + 1 })));
    expect(photo.verdict).toBe('planar');
    expect(head.verdict).toBe('not-planar');
    expect(head.usable).toBeGreaterThan(0);
  });
});

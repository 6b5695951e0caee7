import type { Point } from './types.js';

/**
 * Face alignment: a least-squares similarity transform (Umeyama 1991) from five detected
 * landmarks to the five points of the crop a recognition network was trained on, and a
 * bilinear warp of an interleaved RGB buffer through it.
 *
 * A transform is kept as the 2×3 matrix [a, -b, tx; b, a, ty] mapping source → destination:
 *   x' = a·x − b·y + tx,  y' = b·x + a·y + ty   (scale s = √(a²+b²), angle θ = atan2(b, a)).
 */
export interface Similarity {
  a: number;
  b: number;
  tx: number;
  ty: number;
}

/** The five-point layout every aligner uses: subject's right eye (image left), left eye, nose tip, right mouth corner (image left), left mouth corner. */
export type FivePoints = readonly [Point, Point, Point, Point, Point];

/**
 * dlib's mean face shape (landmarks 17–67 of the 68-point model, unit square), from
 * dlib/image_transforms/interpolation.h get_face_chip_details. Five points derived from it:
 * eye centres are the means of the six eye-contour points (36–41, 42–47), the nose tip is
 * point 30, the mouth corners points 48 and 54.
 */
const DLIB_MEAN_X = [
  0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004, 0.490127, 0.490127, 0.490127, 0.490127, 0.36688,
  0.426036, 0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918, 0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335,
  0.254149, 0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721, 0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127,
  0.552157, 0.689874, 0.553364, 0.490127, 0.42689,
];
const DLIB_MEAN_Y = [
  0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915, 0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326,
  0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733, 0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077,
  0.245099, 0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805, 0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746,
  0.785343, 0.778746, 0.784792, 0.824182, 0.831803, 0.824182,
];

function dlibMean(indices68: number[]): Point {
  let x = 0;
  let y = 0;
  for (const i of indices68) {
    x += DLIB_MEAN_X[i - 17] as number;
    y += DLIB_MEAN_Y[i - 17] as number;
  }
  return { x: x / indices68.length, y: y / indices68.length };
}

/** dlib `get_face_chip_details(shape, size, padding)` geometry expressed as five points in chip pixels. */
export function dlibChipTemplate(size = 150, padding = 0.25): FivePoints {
  const unit = [dlibMean([36, 37, 38, 39, 40, 41]), dlibMean([42, 43, 44, 45, 46, 47]), dlibMean([30]), dlibMean([48]), dlibMean([54])];
  const pts = unit.map((p) => ({ x: ((padding + p.x) / (2 * padding + 1)) * size, y: ((padding + p.y) / (2 * padding + 1)) * size }));
  return pts as unknown as FivePoints;
}

/** The standard ArcFace 112×112 template (insightface utils/face_align.py), scaled to `size`. */
export function arcfaceTemplate(size = 112): FivePoints {
  const k = size / 112;
  const pts: [number, number][] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
  ];
  return pts.map(([x, y]) => ({ x: x * k, y: y * k })) as unknown as FivePoints;
}

/**
 * Least-squares similarity transform src → dst (Umeyama). For 2-D points the optimal rotation
 * and scale have the closed form a = Σ(x·x' + y·y')/Σ|p|², b = Σ(x·y' − y·x')/Σ|p|² on centred points,
 * which is Umeyama's SVD solution without reflection.
 */
export function estimateSimilarity(src: readonly Point[], dst: readonly Point[]): Similarity {
  const n = src.length;
  if (n < 2 || dst.length !== n) throw new Error(`estimateSimilarity needs ≥2 matching points, got ${n} and ${dst.length}`);
  let sx = 0,
    sy = 0,
    dx = 0,
    dy = 0;
  for (let i = 0; i < n; i++) {
    sx += src[i]!.x;
    sy += src[i]!.y;
    dx += dst[i]!.x;
    dy += dst[i]!.y;
  }
  sx /= n;
  sy /= n;
  dx /= n;
  dy /= n;
  let num1 = 0,
    num2 = 0,
    den = 0;
  for (let i = 0; i < n; i++) {
    const px = src[i]!.x - sx,
      py = src[i]!.y - sy;
    const qx = dst[i]!.x - dx,
      qy = dst[i]!.y - dy;
    num1 += px * qx + py * qy;
    num2 += px * qy - py * qx;
    den += px * px + py * py;
  }
  if (den < 1e-12) throw new Error('estimateSimilarity: source points are degenerate (all equal)');
  const a = num1 / den;
  const b = num2 / den;
  return { a, b, tx: dx - (a * sx - b * sy), ty: dy - (b * sx + a * sy) };
}

export function applySimilarity(t: Similarity, p: Point): Point {
  return { x: t.a * p.x - t.b * p.y + t.tx, y: t.b * p.x + t.a * p.y + t.ty };
}

export function invertSimilarity(t: Similarity): Similarity {
  const d = t.a * t.a + t.b * t.b;
  const a = t.a / d;
  const b = -t.b / d;
  return { a, b, tx: -(a * t.tx - b * t.ty), ty: -(b * t.tx + a * t.ty) };
}

/** image → crop transform for a square region of `size` image pixels centred at (cx, cy), rotated by −angle, onto an out×out crop. */
export function squareRoiTransform(cx: number, cy: number, size: number, angle: number, out: number): Similarity {
  const k = out / size;
  const a = k * Math.cos(-angle),
    b = k * Math.sin(-angle);
  return { a, b, tx: out / 2 - (a * cx - b * cy), ty: out / 2 - (b * cx + a * cy) };
}

export function similarityScale(t: Similarity): number {
  return Math.hypot(t.a, t.b);
}

export function similarityAngleDeg(t: Similarity): number {
  return (Math.atan2(t.b, t.a) * 180) / Math.PI;
}

/** An interleaved 8-bit RGB image (the decoded frame). `data` may be a view into a larger buffer. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * The bilinear sample at source position (fx, fy) where some of its four neighbours lie outside
 * the image: outside pixels count as black (their weights are zeroed), as dlib's
 * extract_image_chip. Writes the three channels, rounded to bytes, into `out` (source order).
 */
function borderSample(src: RgbImage, fx: number, fy: number, out: Int32Array): void {
  const { data, width: W, height: H } = src;
  const x0 = Math.floor(fx);
  const y0 = Math.floor(fy);
  if (x0 < -1 || y0 < -1 || x0 >= W || y0 >= H) {
    out.fill(0);
    return;
  }
  const wx = fx - x0;
  const wy = fy - y0;
  const xa = x0 < 0 ? 0 : x0,
    xb = x0 + 1 >= W ? W - 1 : x0 + 1;
  const ya = y0 < 0 ? 0 : y0,
    yb = y0 + 1 >= H ? H - 1 : y0 + 1;
  const w00 = x0 < 0 || y0 < 0 ? 0 : (1 - wx) * (1 - wy);
  const w10 = x0 + 1 >= W || y0 < 0 ? 0 : wx * (1 - wy);
  const w01 = x0 < 0 || y0 + 1 >= H ? 0 : (1 - wx) * wy;
  const w11 = x0 + 1 >= W || y0 + 1 >= H ? 0 : wx * wy;
  const i00 = (ya * W + xa) * 3,
    i10 = (ya * W + xb) * 3,
    i01 = (yb * W + xa) * 3,
    i11 = (yb * W + xb) * 3;
  for (let c = 0; c < 3; c++) out[c] = (w00 * data[i00 + c]! + w10 * data[i10 + c]! + w01 * data[i01 + c]! + w11 * data[i11 + c]! + 0.5) | 0;
}

/**
 * Writes a `size`×`size` crop of `src` seen through `toCrop` (source → crop transform) into
 * `out` as interleaved RGB bytes. Bilinear sampling; pixels outside the source are black
 * (as dlib's extract_image_chip).
 */
export function warpRgb(src: RgbImage, toCrop: Similarity, width: number, height: number, out: Uint8Array = new Uint8Array(width * height * 3)): Uint8Array {
  const inv = invertSimilarity(toCrop);
  const { data, width: W, height: H } = src;
  const row = W * 3;
  const edge = new Int32Array(3);
  let o = 0;
  for (let y = 0; y < height; y++) {
    // source position of (0, y) and the per-x step
    let fx = -inv.b * y + inv.tx;
    let fy = inv.a * y + inv.ty;
    for (let x = 0; x < width; x++, fx += inv.a, fy += inv.b, o += 3) {
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      const wx = fx - x0;
      const wy = fy - y0;
      if (x0 >= 0 && y0 >= 0 && x0 < W - 1 && y0 < H - 1) {
        // interior: all four neighbours inside
        const w00 = (1 - wx) * (1 - wy),
          w10 = wx * (1 - wy),
          w01 = (1 - wx) * wy,
          w11 = wx * wy;
        const i = (y0 * W + x0) * 3,
          j = i + row;
        out[o] = w00 * data[i]! + w10 * data[i + 3]! + w01 * data[j]! + w11 * data[j + 3]! + 0.5;
        out[o + 1] = w00 * data[i + 1]! + w10 * data[i + 4]! + w01 * data[j + 1]! + w11 * data[j + 4]! + 0.5;
        out[o + 2] = w00 * data[i + 2]! + w10 * data[i + 5]! + w01 * data[j + 2]! + w11 * data[j + 5]! + 0.5;
        continue;
      }
      borderSample(src, fx, fy, edge);
      out[o] = edge[0]!;
      out[o + 1] = edge[1]!;
      out[o + 2] = edge[2]!;
    }
  }
  return out;
}

/** Each InputNorm's byte → normalised float table (built once per norm: the models keep theirs). */
const normTables = new WeakMap<InputNorm, Float32Array>();

/**
 * Byte value → normalised float for the three output channels of `norm` (channel order applied),
 * 257 entries each: a sum of weights a hair over 1 may round to 256, which reads as 255.
 */
function normTable(norm: InputNorm): Float32Array {
  let lut = normTables.get(norm);
  if (lut) return lut;
  lut = new Float32Array(3 * 257);
  for (let k = 0; k < 3; k++) {
    const ch = norm.channels === 'bgr' ? 2 - k : k;
    const m = norm.mean[ch]!,
      sd = 1 / norm.std[ch]!;
    for (let v = 0; v <= 256; v++) lut[k * 257 + v] = ((v > 255 ? 255 : v) - m) * sd;
  }
  normTables.set(norm, lut);
  return lut;
}

/**
 * warpRgb and packTensor in one pass: the crop goes straight into the network's float input
 * (NHWC, or NCHW), without the intermediate byte crop. Each sample is rounded to a byte value
 * first, so the tensor is identical to packTensor(warpRgb(…)); the normalisation is a table lookup.
 */
export function warpToTensor(src: RgbImage, toCrop: Similarity, width: number, height: number, norm: InputNorm, out: Float32Array, offset = 0): Float32Array {
  const inv = invertSimilarity(toCrop);
  const { data, width: W, height: H } = src;
  const row = W * 3;
  const swap = norm.channels === 'bgr';
  // output channel k reads source channel ch[k]
  const c0 = swap ? 2 : 0,
    c2 = swap ? 0 : 2;
  const lut = normTable(norm);
  const nchw = norm.layout === 'nchw';
  const plane = width * height;
  // NHWC: channel k of pixel p at offset + 3p + k; NCHW: at offset + k·plane + p
  const step = nchw ? 1 : 3,
    d1 = nchw ? plane : 1,
    d2 = nchw ? 2 * plane : 2;
  const xIn = W - 1,
    yIn = H - 1;
  const edge = new Int32Array(3);
  let o = offset;
  for (let y = 0; y < height; y++) {
    let fx = -inv.b * y + inv.tx;
    let fy = inv.a * y + inv.ty;
    for (let x = 0; x < width; x++, fx += inv.a, fy += inv.b, o += step) {
      let r: number, g: number, b: number;
      if (fx >= 0 && fy >= 0 && fx < xIn && fy < yIn) {
        // interior: all four neighbours inside (fx ≥ 0, so `| 0` is the floor)
        const x0 = fx | 0,
          y0 = fy | 0;
        const wx = fx - x0,
          wy = fy - y0;
        const w00 = (1 - wx) * (1 - wy),
          w10 = wx * (1 - wy),
          w01 = (1 - wx) * wy,
          w11 = wx * wy;
        const i = (y0 * W + x0) * 3,
          j = i + row;
        r = (w00 * data[i + c0]! + w10 * data[i + 3 + c0]! + w01 * data[j + c0]! + w11 * data[j + 3 + c0]! + 0.5) | 0;
        g = (w00 * data[i + 1]! + w10 * data[i + 4]! + w01 * data[j + 1]! + w11 * data[j + 4]! + 0.5) | 0;
        b = (w00 * data[i + c2]! + w10 * data[i + 3 + c2]! + w01 * data[j + c2]! + w11 * data[j + 3 + c2]! + 0.5) | 0;
      } else {
        borderSample(src, fx, fy, edge);
        r = edge[c0]!;
        g = edge[1]!;
        b = edge[c2]!;
      }
      out[o] = lut[r]!;
      out[o + d1] = lut[257 + g]!;
      out[o + d2] = lut[514 + b]!;
    }
  }
  return out;
}

/** How a network wants its float input: channel order and per-channel (v − mean) / std. */
export interface InputNorm {
  layout: 'nchw' | 'nhwc';
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  /** 'bgr' swaps channels while packing. */
  channels: 'rgb' | 'bgr';
}

/** Packs an interleaved RGB byte crop into a float tensor buffer (offset for batching). */
export function packTensor(rgb: Uint8Array, width: number, height: number, norm: InputNorm, out: Float32Array, offset = 0): Float32Array {
  const n = width * height;
  const [m0, m1, m2] = norm.channels === 'bgr' ? [norm.mean[2], norm.mean[1], norm.mean[0]] : norm.mean;
  const [s0, s1, s2] = norm.channels === 'bgr' ? [1 / norm.std[2], 1 / norm.std[1], 1 / norm.std[0]] : [1 / norm.std[0], 1 / norm.std[1], 1 / norm.std[2]];
  const swap = norm.channels === 'bgr';
  if (norm.layout === 'nchw') {
    for (let i = 0, p = 0; i < n; i++, p += 3) {
      const r = rgb[p]!,
        g = rgb[p + 1]!,
        b = rgb[p + 2]!;
      out[offset + i] = ((swap ? b : r) - m0) * s0;
      out[offset + n + i] = (g - m1) * s1;
      out[offset + 2 * n + i] = ((swap ? r : b) - m2) * s2;
    }
  } else {
    for (let i = 0, p = 0; i < n; i++, p += 3) {
      const r = rgb[p]!,
        g = rgb[p + 1]!,
        b = rgb[p + 2]!;
      out[offset + p] = ((swap ? b : r) - m0) * s0;
      out[offset + p + 1] = (g - m1) * s1;
      out[offset + p + 2] = ((swap ? r : b) - m2) * s2;
    }
  }
  return out;
}

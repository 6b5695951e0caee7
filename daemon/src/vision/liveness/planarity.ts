/**
 * Geometric presentation-attack check: is the "face" a plane?
 *
 * A printed photo or a phone/tablet screen is a plane, so whatever it does in front of the
 * camera, the images of its points in two frames are related by one homography (a 3×3
 * projective map). A real head is not a plane: when it turns or nods, the nose tip, the eye
 * sockets and the face outline move against each other (parallax) and no homography maps one
 * frame's landmarks onto the next one's.
 *
 * For two meshes of the same face (FaceMesh's 468 points, image pixels) this module fits
 *   - a similarity (Umeyama, 4 DOF): how much the face moved beyond translation/zoom/roll,
 *     `motion` = RMS residual of that fit;
 *   - a homography (normalised DLT, 8 DOF: Hartley's normalisation, then the null vector of the
 *     2N×9 system from ml-matrix's SVD): `residual` = RMS transfer error of that fit.
 * Both are divided by the face's RMS radius in the first frame, so they are scale-free.
 *
 * A pair only counts when `motion` ≥ minMotion: a face that does not move (or only slides,
 * zooms, rolls) is explained by a similarity and says nothing about depth. The pair's score is
 * residual / motion: the share of the non-similarity motion a homography cannot explain (≈ 0 for
 * a plane, larger for a head). Over a sequence the score is the median over the pairs that
 * count; the verdict is `planar` when it is below `planarBelow`, `not-planar` when above,
 * `insufficient-motion` when no pair counts.
 *
 * Landmarks: by default the texture-anchored ones (eye contours, brows, lips). FaceMesh regresses
 * every point with a 3-D face prior, and the face oval and the nose are where that prior shows
 * most: on a tilted photo it moves them as if a head had turned. Measured (docs/EVALUATION.md):
 * this set separates better than all 468 points, but the separation is weak — the check is a
 * supporting signal, never a decision on its own.
 */
import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { estimateSimilarity } from '../align.js';

/** 468 × (x, y, z) in image pixels, as FacePipeline returns it (z unused). */
export type MeshPoints = Float32Array;

export interface PlanarityOptions {
  /** Pairs whose similarity residual (relative to the face radius) is below this carry no depth information. */
  minMotion?: number;
  /** residual/motion below which the sequence is judged planar. */
  planarBelow?: number;
  /** Landmark indices to use (default PLANARITY_LANDMARKS; pass null-free list, e.g. all 468). */
  indices?: readonly number[];
}

import { LEFT_EYE_CONTOUR, RIGHT_EYE_CONTOUR } from '../meshIndices.js';

/** FaceMesh brows and outer lips (with the eye contours: the texture-anchored points). */
const BROWS = [70, 63, 105, 66, 107, 55, 65, 52, 53, 46, 336, 296, 334, 293, 300, 285, 295, 282, 283, 276];
const LIPS_OUTER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146];
export const PLANARITY_LANDMARKS: readonly number[] = [...RIGHT_EYE_CONTOUR, ...LEFT_EYE_CONTOUR, ...BROWS, ...LIPS_OUTER];

/** BPCER 9.8 %, APCER (print) 28 % on the NUAA pairs of the shared spoof set (docs/EVALUATION.md). */
export const PLANARITY_DEFAULTS: Required<Omit<PlanarityOptions, 'indices'>> = { minMotion: 0.01, planarBelow: 0.5 };

export interface PairFit {
  /** frame indices */
  a: number;
  b: number;
  /** RMS residual of the best similarity, relative to the face radius */
  motion: number;
  /** RMS transfer error of the best homography, relative to the face radius */
  residual: number;
  /** residual / motion */
  ratio: number;
}

export type PlanarityVerdict = 'planar' | 'not-planar' | 'insufficient-motion';

export interface PlanarityResult {
  verdict: PlanarityVerdict;
  /** median residual/motion over the pairs with enough motion (null when none) */
  score: number | null;
  pairs: PairFit[];
  /** how many pairs had enough motion */
  usable: number;
}

type P2 = { x: number; y: number };

function points(mesh: MeshPoints, idx: readonly number[] | undefined): P2[] {
  const n = Math.floor(mesh.length / 3);
  const ids = idx ?? Array.from({ length: n }, (_, i) => i);
  return ids.map((i) => ({ x: mesh[i * 3]!, y: mesh[i * 3 + 1]! }));
}

/** Hartley normalisation: centroid to the origin, mean distance √2. Returns the 3×3 transform and the mapped points. */
function normaliser(p: P2[]): { t: number[]; q: P2[] } {
  let cx = 0,
    cy = 0;
  for (const v of p) {
    cx += v.x;
    cy += v.y;
  }
  cx /= p.length;
  cy /= p.length;
  let d = 0;
  for (const v of p) d += Math.hypot(v.x - cx, v.y - cy);
  d /= p.length;
  const s = d > 0 ? Math.SQRT2 / d : 1;
  return { t: [s, 0, -s * cx, 0, s, -s * cy, 0, 0, 1], q: p.map((v) => ({ x: s * (v.x - cx), y: s * (v.y - cy) })) };
}

function mul3(a: number[], b: number[]): number[] {
  const o = new Array<number>(9).fill(0);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) for (let k = 0; k < 3; k++) o[r * 3 + c]! += a[r * 3 + k]! * b[k * 3 + c]!;
  return o;
}

function inv3(m: number[]): number[] {
  const [a, b, c, d, e, f, g, h, i] = m as [number, number, number, number, number, number, number, number, number];
  const A = e * i - f * h,
    B = -(d * i - f * g),
    C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (Math.abs(det) < 1e-300) throw new Error('planarity: singular normalisation');
  return [A, -(b * i - c * h), b * f - c * e, B, a * i - c * g, -(a * f - c * d), C, -(a * h - b * g), a * e - b * d].map((v) => v / det);
}

/** Homography H (row-major 3×3, H[8] = 1 when possible) with q ≈ H·p, by the normalised DLT. Needs ≥ 4 points in general position. */
export function fitHomography(src: readonly P2[], dst: readonly P2[]): number[] {
  if (src.length !== dst.length || src.length < 4) throw new Error(`planarity: a homography needs ≥ 4 point pairs, got ${src.length} and ${dst.length}`);
  const ns = normaliser([...src]);
  const nd = normaliser([...dst]);
  const rows: number[][] = [];
  for (let k = 0; k < src.length; k++) {
    const { x, y } = ns.q[k]!;
    const { x: u, y: v } = nd.q[k]!;
    rows.push([-x, -y, -1, 0, 0, 0, u * x, u * y, u]);
    rows.push([0, 0, 0, -x, -y, -1, v * x, v * y, v]);
  }
  const svd = new SingularValueDecomposition(new Matrix(rows), { computeLeftSingularVectors: false, computeRightSingularVectors: true, autoTranspose: false });
  const V = svd.rightSingularVectors;
  const sv = svd.diagonal;
  let j = 0;
  for (let k = 1; k < sv.length; k++) if (sv[k]! < sv[j]!) j = k;
  const hn = V.getColumn(j);
  // denormalise: H = Td⁻¹ · Hn · Ts
  const H = mul3(mul3(inv3(nd.t), hn), ns.t);
  const s = Math.abs(H[8]!) > 1e-12 ? H[8]! : 1;
  return H.map((v) => v / s);
}

export function applyHomography(H: readonly number[], p: P2): P2 {
  const w = H[6]! * p.x + H[7]! * p.y + H[8]!;
  return { x: (H[0]! * p.x + H[1]! * p.y + H[2]!) / w, y: (H[3]! * p.x + H[4]! * p.y + H[5]!) / w };
}

function rmsRadius(p: P2[]): number {
  let cx = 0,
    cy = 0;
  for (const v of p) {
    cx += v.x;
    cy += v.y;
  }
  cx /= p.length;
  cy /= p.length;
  let s = 0;
  for (const v of p) s += (v.x - cx) ** 2 + (v.y - cy) ** 2;
  return Math.sqrt(s / p.length);
}

/** Similarity and homography residuals of one pair of meshes (relative to the face radius in `a`). */
export function fitPair(
  a: MeshPoints,
  b: MeshPoints,
  indices: readonly number[] | undefined = PLANARITY_LANDMARKS,
): { motion: number; residual: number; ratio: number } {
  const p = points(a, indices);
  const q = points(b, indices);
  if (p.length !== q.length) throw new Error(`planarity: meshes of ${p.length} and ${q.length} points`);
  const r = rmsRadius(p);
  if (!(r > 0)) throw new Error('planarity: degenerate mesh (all points equal)');
  const S = estimateSimilarity(p, q);
  const H = fitHomography(p, q);
  let es = 0,
    eh = 0;
  for (let k = 0; k < p.length; k++) {
    const s = { x: S.a * p[k]!.x - S.b * p[k]!.y + S.tx, y: S.b * p[k]!.x + S.a * p[k]!.y + S.ty };
    const h = applyHomography(H, p[k]!);
    es += (s.x - q[k]!.x) ** 2 + (s.y - q[k]!.y) ** 2;
    eh += (h.x - q[k]!.x) ** 2 + (h.y - q[k]!.y) ** 2;
  }
  // residuals in units of the face radius; the similarity is fitted src → dst, so scale by its zoom too
  const zoom = Math.hypot(S.a, S.b) || 1;
  const motion = Math.sqrt(es / p.length) / (r * zoom);
  const residual = Math.sqrt(eh / p.length) / (r * zoom);
  return { motion, residual, ratio: motion > 0 ? residual / motion : 0 };
}

/**
 * Planarity of a sequence of meshes of one face. Pairs: every frame against every later one
 * (up to `maxPairs`, spread evenly), so slow motion over a track is used, not only frame-to-frame.
 */
export function planarity(meshes: readonly MeshPoints[], o: PlanarityOptions & { maxPairs?: number } = {}): PlanarityResult {
  const minMotion = o.minMotion ?? PLANARITY_DEFAULTS.minMotion;
  const planarBelow = o.planarBelow ?? PLANARITY_DEFAULTS.planarBelow;
  const all: [number, number][] = [];
  for (let a = 0; a < meshes.length; a++) for (let b = a + 1; b < meshes.length; b++) all.push([a, b]);
  const max = o.maxPairs ?? 64;
  const chosen = all.length <= max ? all : Array.from({ length: max }, (_, k) => all[Math.floor((k * all.length) / max)]!);
  const pairs: PairFit[] = chosen.map(([a, b]) => ({ a, b, ...fitPair(meshes[a]!, meshes[b]!, o.indices ?? PLANARITY_LANDMARKS) }));
  const usable = pairs.filter((p) => p.motion >= minMotion).map((p) => p.ratio);
  if (usable.length === 0) return { verdict: 'insufficient-motion', score: null, pairs, usable: 0 };
  usable.sort((x, y) => x - y);
  const mid = usable.length >> 1;
  const score = usable.length % 2 ? usable[mid]! : (usable[mid - 1]! + usable[mid]!) / 2;
  return { verdict: score < planarBelow ? 'planar' : 'not-planar', score, pairs, usable: usable.length };
}

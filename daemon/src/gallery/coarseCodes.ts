/**
 * The compact gallery's INT8 coarse rows: how projected rows and the projected probe are
 * quantised, and the contract of the graph that scores them (models/tools/galleryMatmul.ts builds
 * it from these constants). Codes are column-major [p, rows] so one probe row streams them once.
 */
/** The manifest id of the compact gallery's INT8 coarse search graph (models/tools/galleryMatmul.ts). */
export const GALLERY_COARSE = 'gallery-coarse-int8';
/**
 * The probe codes are round(x / s) + 128 (uint8: MLAS's fast U8S8 kernel). The graph has NO zero
 * point — with one (128) MLAS first sums every code column, and the GEMV over 100k × 128 takes
 * 2.3 ms instead of 0.7 ms here — so its int32 scores carry 128 × (the row's code sum), which
 * the gallery subtracts per row (codeSums) before scaling.
 */
export const COARSE_PROBE_OFFSET = 128;

/** Each row's code sum over the p code columns (column-major codes, stride = rows). */
export function codeSums(codes: Int8Array, rows: number, p: number): Int32Array {
  const out = new Int32Array(rows);
  for (let k = 0; k < p; k++) for (let r = 0, base = k * rows; r < rows; r++) out[r] = out[r]! + codes[base + r]!;
  return out;
}

/**
 * Quantises row `row` (p values of `src` from `at`) into column-major `codes` (stride `stride`)
 * symmetrically: codes = round(x / s) with s = max|x| / 127. Returns s (0 for an all-zero row).
 */
export function quantizeColumn(src: Float32Array, at: number, p: number, codes: Int8Array, row: number, stride: number): number {
  let max = 0;
  for (let k = 0; k < p; k++) max = Math.max(max, Math.abs(src[at + k]!));
  const s = max / 127;
  for (let k = 0; k < p; k++) codes[k * stride + row] = s > 0 ? Math.round(src[at + k]! / s) : 0;
  return s;
}

/** The projected probe as the coarse graph reads it: uint8 round(x / s) + COARSE_PROBE_OFFSET, s = max|x| / 127 (s drops out of the ranking). */
export function quantizeProbe(x: Float32Array): Uint8Array {
  let max = 0;
  for (const v of x) max = Math.max(max, Math.abs(v));
  const s = max / 127;
  return Uint8Array.from(x, (v) => (s > 0 ? Math.round(v / s) : 0) + COARSE_PROBE_OFFSET);
}

/** Column-major codes [p, rows] moved from row stride `from` to row stride `to` (the first `rows` rows). */
export function relayout(codes: Int8Array, from: number, to: number, rows: number, p: number): Int8Array {
  const out = new Int8Array(p * to);
  for (let k = 0; k < p; k++) out.set(codes.subarray(k * from, k * from + rows), k * to);
  return out;
}

/**
 * com.microsoft QLinearAdd (uint8, both inputs full tensors) as onnxruntime's MLAS computes it on
 * x86-64 and on arm64, in plain JS, so the quantizer can choose scales for which both give the
 * exactly rounded result on every one of the 256×256 input pairs.
 *
 * The two kernels (onnxruntime/core/mlas/lib: intrinsics/avx2/qladd_avx2.cpp, qladd.cpp):
 *   x86-64 (AVX2): r_a = fl(s_a/s_c), r_b = fl(s_b/s_c), fixed = fl(z_c − (r_a·z_a + r_b·z_b));
 *     y = fma(a, r_a, fma(b, r_b, fixed)) in float32, then round half to even (cvtps2dq).
 *   arm64 (NEON): the greater ratio's exponent e sets shift = 21 − e, multipliers
 *     m = rint(r·2^shift) (22 bits); acc = (a−z_a)·m_a + (b−z_b)·m_b in int32, minus 1 when
 *     negative, then a rounding right shift: round half AWAY from zero; + z_c, saturated.
 *     Outside its limits (a ratio < 2^-14 or ≥ 256, …) it falls back to a float loop.
 * The exact result is round_half_even((s_a·(a−z_a) + s_b·(b−z_b))/s_c) + z_c, saturated to uint8.
 *
 * The kernels miss it where the exact value is within their error of a half-integer: on exact
 * ties (x86 rounds them to even, NEON away from zero) and near them (x86 float32 rounding, NEON's
 * 22-bit multipliers). With free scales the fractional parts of (a−z_a)·r_a + (b−z_b)·r_b spread
 * over [0, 1) and some of the 65,536 pairs land that close (measured on the shipped
 * MobileFaceNet-512: a few per add, not on the same pairs on the two platforms). addRatioScales
 * makes both ratios k/255 (255 odd): every exact value is then a multiple of 1/255 plus z_c, at
 * least 1/510 ≈ 2·10⁻³ from any half-integer, while both kernels' errors stay below 2·10⁻⁴ for
 * ratios below 1, so both round every pair exactly.
 */

const f32 = Math.fround;

/** Round half to even (nearbyint in the default rounding mode). */
function rintEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

const clampU8 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

export interface AddParams {
  sa: number;
  za: number;
  sb: number;
  zb: number;
  sc: number;
  zc: number;
}

/** The exactly rounded QLinearAdd result (float32 scales taken as exact reals; doubles are exact here). */
export function exactAdd(p: AddParams, a: number, b: number): number {
  return clampU8(rintEven((p.sa * (a - p.za) + p.sb * (b - p.zb)) / p.sc) + p.zc);
}

/**
 * x86-64 AVX2 kernel. `contract` is how the compiler may have evaluated the fixed part's
 * r_a·z_a + r_b·z_b: two products and a sum, or one fused multiply-add either way round.
 */
export function x86Add(p: AddParams, a: number, b: number, contract: 'none' | 'fmaA' | 'fmaB' = 'none'): number {
  const ra = f32(p.sa / p.sc);
  const rb = f32(p.sb / p.sc);
  const zsum =
    contract === 'fmaA' ? f32(ra * p.za + f32(rb * p.zb)) : contract === 'fmaB' ? f32(rb * p.zb + f32(ra * p.za)) : f32(f32(ra * p.za) + f32(rb * p.zb));
  const fixed = f32(p.zc - zsum);
  // a·r is exact in a double (8 + 24 bits), and so is its sum with a float32 here: one rounding = fma
  const t = f32(b * rb + fixed);
  const y = f32(a * ra + t);
  return clampU8(rintEven(y));
}

function f32Exponent(x: number): number {
  const v = new DataView(new ArrayBuffer(4));
  v.setFloat32(0, x);
  return ((v.getUint32(0) >>> 23) & 0xff) - 127;
}

/** MLAS's float fallback loop (used by the NEON kernel outside its fixed-point limits). */
function rawAdd(p: AddParams, a: number, b: number): number {
  const va = f32(p.sa * (a - p.za));
  const vb = f32(p.sb * (b - p.zb));
  let vc = f32(f32(va + vb) / p.sc);
  vc = Math.min(Math.max(vc, -p.zc), 255 - p.zc);
  return clampU8(rintEven(f32(vc + p.zc)));
}

/** The NEON fixed-point parameters, or null where MLAS falls back to its float loop. */
export function neonParams(p: AddParams): { shift: number; ma: number; mb: number } | null {
  const ra = f32(p.sa / p.sc);
  const rb = f32(p.sb / p.sc);
  const lo = 6.103515625e-5;
  if (ra < lo || ra >= 256 || rb < lo || rb >= 256) return null;
  const shift = 21 - f32Exponent(Math.max(ra, rb));
  if (shift > 31 || shift < 13) return null;
  const mult = 2 ** shift;
  const ma = rintEven(ra * mult);
  const mb = rintEven(rb * mult);
  if (!(ma < 0x400000 && mb < 0x400000 && (ma >= 0x200000 || mb >= 0x200000))) return null;
  return { shift, ma, mb };
}

/** arm64 NEON kernel. */
export function neonAdd(p: AddParams, a: number, b: number, k = neonParams(p)): number {
  if (!k) return rawAdd(p, a, b);
  let acc = (a - p.za) * k.ma + (b - p.zb) * k.mb;
  if (acc < 0) acc -= 1;
  const r = Math.floor((acc + 2 ** (k.shift - 1)) / 2 ** k.shift);
  return clampU8(Math.max(-32768, Math.min(32767, r)) + p.zc);
}

/** Input pairs (of all 65,536) where a kernel differs from the exactly rounded result. */
export function addMisses(p: AddParams): { x86: number; arm64: number } {
  const k = neonParams(p);
  let x86 = 0;
  let arm64 = 0;
  for (let a = 0; a < 256; a++) {
    for (let b = 0; b < 256; b++) {
      const want = exactAdd(p, a, b);
      if (x86Add(p, a, b) !== want || x86Add(p, a, b, 'fmaA') !== want || x86Add(p, a, b, 'fmaB') !== want) x86++;
      if (neonAdd(p, a, b, k) !== want) arm64++;
    }
  }
  return { x86, arm64 };
}

/** The odd denominator of the ratios addRatioScales chooses. */
export const RATIO_DENOMINATOR = 255;

/**
 * Scales for an add whose input `a` has a fixed scale and input `b` a free one (the output of a
 * convolution only this add reads): s_c ≥ sc (the calibrated output scale, so its range is still
 * covered) with s_a/s_c = k_a/255, and s_b ≥ sb with s_b/s_c = k_b/255, as float32. Null when the
 * ratio s_a/sc is below 1/255 (no k_a ≥ 1).
 */
export function addRatioScales(sa: number, sb: number, sc: number): { sb: number; sc: number; ka: number; kb: number } | null {
  const D = RATIO_DENOMINATOR;
  const ka = Math.floor((D * sa) / sc);
  if (ka < 1) return null;
  const newSc = f32((sa * D) / ka);
  const kb = Math.max(1, Math.ceil((D * sb) / newSc - 1e-9));
  return { sb: f32((newSc * kb) / D), sc: newSc, ka, kb };
}

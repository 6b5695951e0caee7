/** Nearest-rank percentile (p in 0..100) of unsorted values; NaN for none. The one definition the benches report. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Arithmetic mean; NaN for none. */
export function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** Rounded to two decimals (for JSON reports). */
export const round2 = (x: number): number => Math.round(x * 100) / 100;

/**
 * The principal subspace of a large gallery: an orthonormal basis B [D,P] (row-major) of the P
 * directions that carry most of the templates' energy, found from a sample of rows by a few
 * rounds of randomized subspace iteration (Y = Sᵀ·S·Y, orthonormalised). Projected rows x·B are
 * what the coarse search scores; the exact FP32 re-score makes the decision, so the basis only
 * has to be good, not exact.
 */

/** c[n,p] = a[n,d] · b[d,p], all row-major: the contract of the gallery-matmul graph. */
export type MatMul = (a: Float32Array, n: number, d: number, b: Float32Array, p: number) => Promise<Float32Array> | Float32Array;

/** The same product in plain JS (small sizes, and when onnxruntime is not loaded). */
export function matmulJs(a: Float32Array, n: number, d: number, b: Float32Array, p: number): Float32Array {
  const c = new Float32Array(n * p);
  for (let r = 0; r < n; r++) {
    const out = r * p;
    for (let i = 0; i < d; i++) {
      const x = a[r * d + i]!;
      if (x === 0) continue;
      const row = i * p;
      for (let k = 0; k < p; k++) c[out + k] = c[out + k]! + x * b[row + k]!;
    }
  }
  return c;
}

function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = m[r * cols + c]!;
  return t;
}

/** Orthonormalises the columns of y [d,p] (modified Gram-Schmidt, in double precision); in place. */
function orthonormalColumns(y: Float32Array, d: number, p: number): void {
  const cols = Array.from({ length: p }, (_, k) => {
    const v = new Float64Array(d);
    for (let i = 0; i < d; i++) v[i] = y[i * p + k]!;
    return v;
  });
  let spare = 0;
  for (let k = 0; k < p; k++) {
    const v = cols[k]!;
    for (;;) {
      for (let j = 0; j < k; j++) {
        const u = cols[j]!;
        let dot = 0;
        for (let i = 0; i < d; i++) dot += u[i]! * v[i]!;
        for (let i = 0; i < d; i++) v[i] = v[i]! - dot * u[i]!;
      }
      let n = 0;
      for (let i = 0; i < d; i++) n += v[i]! * v[i]!;
      n = Math.sqrt(n);
      if (n > 1e-6 || spare >= d) {
        for (let i = 0; i < d; i++) v[i] = n > 0 ? v[i]! / n : 0;
        break;
      }
      // A direction the sample does not span: any unit vector orthogonal to the others will do.
      v.fill(0);
      v[spare++] = 1;
    }
  }
  for (let k = 0; k < p; k++) for (let i = 0; i < d; i++) y[i * p + k] = cols[k]![i]!;
}

/** Deterministic start vectors (the build must not depend on Math.random). */
function startMatrix(d: number, p: number): Float32Array {
  const y = new Float32Array(d * p);
  let s = 0x9e3779b9;
  for (let i = 0; i < y.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    y[i] = (s >>> 0) / 0x100000000 - 0.5;
  }
  return y;
}

type Product = [a: Float32Array, n: number, d: number, b: Float32Array, p: number];

/** The subspace iteration, asking its caller for each product (so one algorithm runs sync or async). */
function* iteration(sample: Float32Array, n: number, d: number, p: number, rounds: number): Generator<Product, Float32Array, Float32Array> {
  if (p > d) throw new Error(`subspace of ${p} dimensions asked of ${d}-d rows`);
  const st = transpose(sample, n, d);
  let y = startMatrix(d, p);
  orthonormalColumns(y, d, p);
  for (let r = 0; r < rounds; r++) {
    const sy = yield [sample, n, d, y, p]; // [n,p]
    y = Float32Array.from(yield [st, d, n, sy, p]); // [d,p]
    orthonormalColumns(y, d, p);
  }
  return y;
}

/**
 * Basis [d,p] of the top-p principal (uncentred: dot products are uncentred) subspace of the
 * sample rows (sample [n,d], row-major). `rounds` power iterations sharpen it.
 */
export async function principalBasis(sample: Float32Array, n: number, d: number, p: number, mm: MatMul, rounds = 3): Promise<Float32Array> {
  const it = iteration(sample, n, d, p, rounds);
  let step = it.next();
  while (!step.done) step = it.next(await mm(...step.value));
  return step.value;
}

/** The same with the JS product, synchronously. */
export function principalBasisSync(sample: Float32Array, n: number, d: number, p: number, rounds = 3): Float32Array {
  const it = iteration(sample, n, d, p, rounds);
  let step = it.next();
  while (!step.done) step = it.next(matmulJs(...step.value));
  return step.value;
}

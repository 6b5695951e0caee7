/**
 * Decode tfjs weight shards (weightsManifest + concatenated .bin bytes) into typed arrays.
 * Handles float32, int32, and the stored quantisations tfjs uses: float16 and uint8/uint16
 * affine (value = q * scale + min), expanded to float32 exactly as tfjs does.
 */

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

export interface WeightGroup {
  paths: string[];
  weights: WeightSpec[];
}

export interface DecodedWeight {
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
}

/** IEEE 754 half -> float (exact). */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

export function decodeWeights(groups: WeightGroup[], shardBytes: (path: string) => Uint8Array): Map<string, DecodedWeight> {
  const out = new Map<string, DecodedWeight>();
  for (const group of groups) {
    const parts = group.paths.map((p) => shardBytes(p));
    const total = parts.reduce((a, b) => a + b.length, 0);
    const all = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    const view = new DataView(all.buffer, all.byteOffset, all.byteLength);
    let offset = 0;
    for (const w of group.weights) {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const q = w.quantization;
      if (w.dtype !== 'float32' && w.dtype !== 'int32') throw new Error(`weight ${w.name}: unsupported dtype ${w.dtype}`);
      if (q && w.dtype !== 'float32') throw new Error(`weight ${w.name}: quantised ${w.dtype} not supported`);
      let data: Float32Array | Int32Array;
      if (!q) {
        if (w.dtype === 'float32') {
          data = new Float32Array(n);
          for (let i = 0; i < n; i++) data[i] = view.getFloat32(offset + 4 * i, true);
        } else {
          data = new Int32Array(n);
          for (let i = 0; i < n; i++) data[i] = view.getInt32(offset + 4 * i, true);
        }
        offset += 4 * n;
      } else if (q.dtype === 'float16') {
        data = new Float32Array(n);
        for (let i = 0; i < n; i++) data[i] = halfToFloat(view.getUint16(offset + 2 * i, true));
        offset += 2 * n;
      } else if (q.dtype === 'uint8' || q.dtype === 'uint16') {
        if (q.scale === undefined || q.min === undefined) throw new Error(`weight ${w.name}: affine quantisation without scale/min`);
        const bytes = q.dtype === 'uint8' ? 1 : 2;
        data = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          const v = bytes === 1 ? view.getUint8(offset + i) : view.getUint16(offset + 2 * i, true);
          data[i] = v * q.scale + q.min;
        }
        offset += bytes * n;
      } else {
        throw new Error(`weight ${w.name}: unsupported quantisation ${q.dtype}`);
      }
      out.set(w.name, { shape: w.shape, dtype: w.dtype, data });
    }
    if (offset !== total) throw new Error(`weight group ${group.paths.join(',')}: used ${offset} of ${total} bytes`);
  }
  return out;
}

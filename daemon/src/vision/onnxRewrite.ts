/**
 * Load-time graph rewrites of a verified ONNX file, applied to the bytes handed to
 * onnxruntime (the file on disk and its manifest sha256 stay as they are).
 *
 * PRelu → Max(x, slope·x): onnxruntime's CPU PRelu kernel is branchy and slow (measured on
 * FaceMesh, 28 PRelu nodes: 2.3 ms of a 3.3 ms run on real crops, 0.4 ms on a constant input),
 * while Mul and Max are vectorised element-wise kernels. For every slope in [0, 1] the result is
 * bit-identical: x ≥ 0 → max(x, s·x) = x; x < 0 → s·x ≥ x, so max = s·x, the same product PRelu
 * computes. Nodes whose slope is not a constant initializer with all values in [0, 1] are left
 * untouched.
 *
 * Only the protobuf fields needed are decoded (ModelProto.graph, GraphProto.node/initializer,
 * NodeProto.input/output/name/op_type, TensorProto dims/data_type/name/float_data/raw_data);
 * every other field is copied through byte for byte.
 */

interface Field {
  no: number;
  wire: number;
  /** Whole field (key + payload) in the parent buffer. */
  start: number;
  end: number;
  /** Payload of a length-delimited field. */
  value: Uint8Array | null;
  varint: number;
}

function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error('onnx: truncated varint');
    const b = buf[pos++]!;
    v += (b & 0x7f) * mul;
    if (b < 0x80) return [v, pos];
    mul *= 128;
  }
}

function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    const [key, p1] = readVarint(buf, pos);
    pos = p1;
    const no = Math.floor(key / 8),
      wire = key & 7;
    let value: Uint8Array | null = null;
    let varint = 0;
    if (wire === 0) [varint, pos] = readVarint(buf, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [len, p2] = readVarint(buf, pos);
      value = buf.subarray(p2, p2 + len);
      pos = p2 + len;
    } else throw new Error(`onnx: unsupported wire type ${wire}`);
    if (pos > buf.length) throw new Error('onnx: truncated field');
    out.push({ no, wire, start, end: pos, value, varint });
  }
  return out;
}

const utf8 = new TextDecoder();
const enc = new TextEncoder();
const str = (f: Field): string => utf8.decode(f.value ?? new Uint8Array());

function varintBytes(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function lenField(no: number, payload: Uint8Array): Uint8Array {
  const head = [...varintBytes(no * 8 + 2), ...varintBytes(payload.length)];
  const out = new Uint8Array(head.length + payload.length);
  out.set(head, 0);
  out.set(payload, head.length);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function nodeBytes(op: string, inputs: string[], outputs: string[], name: string): Uint8Array {
  return concat([
    ...inputs.map((s) => lenField(1, enc.encode(s))),
    ...outputs.map((s) => lenField(2, enc.encode(s))),
    lenField(3, enc.encode(name)),
    lenField(4, enc.encode(op)),
  ]);
}

/** Float values of a float32 initializer, or null when it is not one. */
function floatValues(tensor: Uint8Array): { name: string; values: Float32Array } | null {
  let name = '';
  let dtype = 1;
  let raw: Uint8Array | null = null;
  const floats: number[] = [];
  for (const f of fields(tensor)) {
    if (f.no === 8 && f.value) name = str(f);
    else if (f.no === 2 && f.wire === 0) dtype = f.varint;
    else if (f.no === 9 && f.value) raw = f.value;
    else if (f.no === 4 && f.value) {
      const dv = new DataView(f.value.buffer, f.value.byteOffset, f.value.byteLength);
      for (let i = 0; i + 4 <= f.value.byteLength; i += 4) floats.push(dv.getFloat32(i, true));
    } else if (f.no === 4 && f.wire === 5) {
      const dv = new DataView(tensor.buffer, tensor.byteOffset + f.end - 4, 4);
      floats.push(dv.getFloat32(0, true));
    } else if (f.no === 13) return null; // external data
  }
  if (dtype !== 1) return null;
  if (raw) {
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const v = new Float32Array(raw.byteLength / 4);
    for (let i = 0; i < v.length; i++) v[i] = dv.getFloat32(i * 4, true);
    return { name, values: v };
  }
  return { name, values: Float32Array.from(floats) };
}

export interface RewriteReport {
  /** PRelu nodes replaced by Mul + Max. */
  prelu: number;
  /** PRelu nodes left alone (slope not a constant in [0, 1]). */
  preluKept: number;
}

function rewriteGraph(graph: Uint8Array, report: RewriteReport): Uint8Array {
  const fs = fields(graph);
  const slopes = new Map<string, Float32Array>();
  for (const f of fs) {
    if (f.no === 5 && f.value) {
      const t = floatValues(f.value);
      if (t) slopes.set(t.name, t.values);
    }
  }
  const parts: Uint8Array[] = [];
  for (const f of fs) {
    if (f.no === 1 && f.value) {
      const nf = fields(f.value);
      const op = nf.find((x) => x.no === 4);
      if (op && str(op) === 'PRelu') {
        const inputs = nf.filter((x) => x.no === 1).map(str);
        const outputs = nf.filter((x) => x.no === 2).map(str);
        const nameField = nf.find((x) => x.no === 3);
        const name = (nameField ? str(nameField) : '') || outputs[0] || 'prelu';
        const domain = nf.find((x) => x.no === 7);
        const slope = inputs[1] ? slopes.get(inputs[1]) : undefined;
        const ok = inputs.length === 2 && outputs.length === 1 && (!domain || str(domain) === '') && slope !== undefined;
        if (ok) {
          // y = Relu(x) + s·(x − Relu(x)): x − Relu(x) is exactly min(x, 0), so y is exactly PRelu's x or s·x.
          const [x, s] = [inputs[0]!, inputs[1]!];
          const pos = `${outputs[0]!}__prelu_pos`,
            neg = `${outputs[0]!}__prelu_neg`,
            scaled = `${outputs[0]!}__prelu_scaled`;
          parts.push(lenField(1, nodeBytes('Relu', [x], [pos], `${name}__relu`)));
          parts.push(lenField(1, nodeBytes('Sub', [x, pos], [neg], `${name}__sub`)));
          parts.push(lenField(1, nodeBytes('Mul', [neg, s], [scaled], `${name}__mul`)));
          parts.push(lenField(1, nodeBytes('Add', [pos, scaled], [outputs[0]!], `${name}__add`)));
          report.prelu++;
          continue;
        }
        report.preluKept++;
      }
    }
    parts.push(graph.subarray(f.start, f.end));
  }
  return concat(parts);
}

/** The model bytes with the rewrites above applied (the input when nothing changed). */
export function rewriteForRuntime(model: Uint8Array): { bytes: Uint8Array; report: RewriteReport } {
  const report: RewriteReport = { prelu: 0, preluKept: 0 };
  const fs = fields(model);
  const parts: Uint8Array[] = [];
  for (const f of fs) {
    if (f.no === 7 && f.value) parts.push(lenField(7, rewriteGraph(f.value, report)));
    else parts.push(model.subarray(f.start, f.end));
  }
  return { bytes: report.prelu > 0 ? concat(parts) : model, report };
}

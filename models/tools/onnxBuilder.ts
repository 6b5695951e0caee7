/**
 * In-memory ONNX graph used by every front-end (tfjs graph converter, face-api ResNet builder,
 * TFLite converter, ONNX import) and by the graph passes and the INT8 quantizer. Encoded to and
 * decoded from bytes by onnxProto.ts.
 */
import { decodeModel, encodeModel, TensorType, type AttrValue, type NodeDef, type TensorInit, type ValueInfo } from './onnxProto.js';

export { TensorType };

export type InitData = Float32Array | Int32Array | Int8Array | Uint8Array | BigInt64Array;

export interface Initializer {
  name: string;
  dims: number[];
  data: InitData;
}

export const OPSET = 17;

export function attrInt(value: number): AttrValue {
  return { kind: 'int', value };
}
export function attrInts(value: number[]): AttrValue {
  return { kind: 'ints', value };
}
export function attrFloat(value: number): AttrValue {
  return { kind: 'float', value };
}
export function attrString(value: string): AttrValue {
  return { kind: 'string', value };
}

function typeOf(data: InitData): TensorType {
  if (data instanceof Float32Array) return TensorType.FLOAT;
  if (data instanceof Int32Array) return TensorType.INT32;
  if (data instanceof Int8Array) return TensorType.INT8;
  if (data instanceof Uint8Array) return TensorType.UINT8;
  return TensorType.INT64;
}

function rawBytes(data: InitData): Uint8Array {
  // Node and all supported targets are little-endian; copy to get an exact-length buffer.
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

/** Smallest normal float32. */
export const FLT_MIN = 1.1754943508222875e-38;

/**
 * float32 subnormals → 0. The build must not depend on the CPU's denormal mode: onnxruntime's
 * `set_denormal_as_zero` session option (used by the daemon's pipeline, which --calibrate runs)
 * sets DAZ/FTZ on the JS thread that creates the session, after which every float32 subnormal
 * READ by JS code is 0 — so a quantised file came out different after --calibrate than from a
 * fresh process. Flushing them explicitly everywhere the tools read weights makes both agree.
 */
export function ftz(x: number): number {
  return Math.abs(x) < FLT_MIN ? 0 : x;
}

/**
 * Flushes float32 subnormals of every float initializer to +0 (in place); returns how many. Works
 * on the bit patterns (exponent 0, mantissa ≠ 0): under DAZ a float read would see 0 already.
 */
export function flushSubnormals(g: OnnxGraph): number {
  let n = 0;
  for (const init of g.initializers.values()) {
    const d = init.data;
    if (!(d instanceof Float32Array)) continue;
    const bits = new Uint32Array(d.buffer, d.byteOffset, d.length);
    for (let i = 0; i < bits.length; i++)
      if ((bits[i]! & 0x7f800000) === 0 && (bits[i]! & 0x007fffff) !== 0) {
        bits[i] = 0;
        n++;
      }
  }
  return n;
}

/** Typed array of a decoded tensor (little-endian raw bytes). */
export function tensorData(t: TensorInit): InitData {
  const b = t.raw.buffer.slice(t.raw.byteOffset, t.raw.byteOffset + t.raw.byteLength);
  switch (t.type) {
    case TensorType.FLOAT:
      return new Float32Array(b);
    case TensorType.INT32:
      return new Int32Array(b);
    case TensorType.INT8:
      return new Int8Array(b);
    case TensorType.UINT8:
      return new Uint8Array(b);
    case TensorType.INT64:
      return new BigInt64Array(b);
    default:
      throw new Error(`onnx: tensor '${t.name}' has data type ${t.type}; the graph tools hold float32, int32, int8, uint8 and int64 tensors only`);
  }
}

export class OnnxGraph {
  nodes: NodeDef[] = [];
  initializers = new Map<string, Initializer>();
  inputs: ValueInfo[] = [];
  outputs: ValueInfo[] = [];
  /** Default-domain opset the graph is written with. */
  opset = OPSET;
  private counter = 0;
  /** Names of an imported graph, so fresh() never reuses one. */
  private readonly taken = new Set<string>();

  constructor(readonly name: string) {}

  /** Reads ONNX bytes into a graph (names, attributes and opset as the file has them). */
  static decode(bytes: Uint8Array, name?: string): OnnxGraph {
    const m = decodeModel(bytes);
    // com.microsoft (onnxruntime's integer operators) is written back by encode when a node uses it
    const other = m.opsets.filter((o) => o.domain !== '' && o.domain !== 'ai.onnx' && o.domain !== 'com.microsoft');
    if (other.length) throw new Error(`onnx: opset domain${other.length > 1 ? 's' : ''} ${other.map((o) => `'${o.domain}'`).join(', ')} not supported`);
    const g = new OnnxGraph(name ?? m.graphName);
    g.opset = m.opset;
    g.nodes = m.nodes;
    for (const t of m.initializers) g.initializers.set(t.name, { name: t.name, dims: t.dims, data: tensorData(t) });
    g.inputs = m.inputs;
    g.outputs = m.outputs;
    for (const n of g.nodes) for (const x of [...n.inputs, ...n.outputs, n.name]) g.taken.add(x);
    for (const x of [...g.initializers.keys(), ...g.inputs.map((i) => i.name)]) g.taken.add(x);
    return g;
  }

  /** Deterministic unique name. */
  fresh(hint: string): string {
    let name: string;
    do {
      this.counter += 1;
      name = `${hint}_${this.counter}`;
    } while (this.taken.has(name) || this.taken.has(`n_${name}`));
    return name;
  }

  addInitializer(hint: string, dims: number[], data: InitData): string {
    const name = this.fresh(hint);
    const expected = dims.reduce((a, b) => a * b, 1);
    if (expected !== data.length) throw new Error(`initializer ${name}: dims ${dims.join('x')} need ${expected} values, got ${data.length}`);
    this.initializers.set(name, { name, dims, data });
    return name;
  }

  int64(hint: string, values: number[]): string {
    return this.addInitializer(hint, [values.length], BigInt64Array.from(values.map((v) => BigInt(v))));
  }

  /** Add a node with one output and return the output name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, hint?: string): string {
    const out = this.fresh(hint ?? opType.toLowerCase());
    this.nodes.push({ opType, name: `n_${out}`, inputs, outputs: [out], attrs });
    return out;
  }

  /** Add a node whose output name is given. */
  opNamed(opType: string, inputs: string[], output: string, attrs: Record<string, AttrValue> = {}): string {
    this.nodes.push({ opType, name: `n_${output}`, inputs, outputs: [output], attrs });
    return output;
  }

  encode(docString: string, metadata: [string, string][] = []): Uint8Array {
    // Only initializers that are referenced, in first-use order (stable).
    const used: Initializer[] = [];
    const seen = new Set<string>();
    for (const n of this.nodes) {
      for (const i of n.inputs) {
        const init = this.initializers.get(i);
        if (init && !seen.has(i)) {
          seen.add(i);
          used.push(init);
        }
      }
    }
    return encodeModel({
      producerName: 'blink-models',
      producerVersion: '1',
      docString,
      graphName: this.name,
      opset: this.opset,
      nodes: this.nodes,
      initializers: used.map((i) => ({ name: i.name, type: typeOf(i.data), dims: i.dims, raw: rawBytes(i.data) })),
      inputs: this.inputs,
      outputs: this.outputs,
      metadata,
    });
  }
}

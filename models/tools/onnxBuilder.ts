/**
 * In-memory ONNX graph used by every front-end (tfjs graph converter, face-api ResNet builder)
 * and by the INT8 quantizer. Encoded to bytes by onnxProto.ts.
 */
import { encodeModel, TensorType, type AttrValue, type NodeDef, type ValueInfo } from './onnxProto.js';

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

export class OnnxGraph {
  nodes: NodeDef[] = [];
  initializers = new Map<string, Initializer>();
  inputs: ValueInfo[] = [];
  outputs: ValueInfo[] = [];
  private counter = 0;

  constructor(readonly name: string) {}

  /** Deterministic unique name. */
  fresh(hint: string): string {
    this.counter += 1;
    return `${hint}_${this.counter}`;
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
      opset: OPSET,
      nodes: this.nodes,
      initializers: used.map((i) => ({ name: i.name, type: typeOf(i.data), dims: i.dims, raw: rawBytes(i.data) })),
      inputs: this.inputs,
      outputs: this.outputs,
      metadata,
    });
  }
}

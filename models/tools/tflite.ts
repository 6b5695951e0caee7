/**
 * TFLite model reader: the `.tflite` FlatBuffer (schema `tflite/schema.fbs`, file identifier
 * "TFL3") read with the flatbuffers runtime library. Only the tables a converter needs are read:
 * Model → operator codes, subgraph 0 (tensors, inputs, outputs, operators with their builtin
 * options) and buffers. Field ids follow the schema; a table field at id n sits at vtable
 * offset 4 + 2n, as the flatbuffers format defines.
 */
import * as flatbuffers from 'flatbuffers';

/** Builtin operators (schema `BuiltinOperator`) this reader decodes options for, by code. */
export const BUILTIN = {
  ADD: 0,
  AVERAGE_POOL_2D: 1,
  CONCATENATION: 2,
  CONV_2D: 3,
  DEPTHWISE_CONV_2D: 4,
  FULLY_CONNECTED: 9,
  MAX_POOL_2D: 17,
  MUL: 18,
  RELU: 19,
  RELU6: 21,
  RESHAPE: 22,
  SUB: 41,
  PRELU: 54,
  ABS: 101,
} as const;

export type BuiltinName = keyof typeof BUILTIN;
const BUILTIN_NAME = new Map<number, BuiltinName>(Object.entries(BUILTIN).map(([k, v]) => [v, k as BuiltinName]));

/** Schema `TensorType` values this reader can hand out as typed arrays. */
export const TENSOR_TYPE = { FLOAT32: 0, FLOAT16: 1, INT32: 2, UINT8: 3, INT64: 4, INT8: 9 } as const;

export type Padding = 'SAME' | 'VALID';
export type Activation = 'NONE' | 'RELU' | 'RELU_N1_TO_1' | 'RELU6' | 'TANH' | 'SIGN_BIT';
const ACTIVATIONS: Activation[] = ['NONE', 'RELU', 'RELU_N1_TO_1', 'RELU6', 'TANH', 'SIGN_BIT'];

export interface TfliteTensor {
  index: number;
  name: string;
  shape: number[];
  /** schema TensorType code */
  type: number;
  /** Constant data (weights), decoded little-endian; null for activations. */
  data: Float32Array | Int32Array | null;
  /** Per-tensor or per-channel affine quantisation, when the tensor carries one. */
  quantized: boolean;
}

export interface ConvOptions {
  padding: Padding;
  strideW: number;
  strideH: number;
  dilationW: number;
  dilationH: number;
  activation: Activation;
  /** DEPTHWISE_CONV_2D only */
  depthMultiplier?: number;
}

export interface TfliteOperator {
  index: number;
  op: BuiltinName;
  inputs: number[];
  outputs: number[];
  conv?: ConvOptions;
  /** ADD/SUB/MUL fused activation */
  activation?: Activation;
  /** RESHAPE new_shape option (the shape input tensor wins when present) */
  newShape?: number[];
}

export interface TfliteModel {
  version: number;
  description: string;
  tensors: TfliteTensor[];
  inputs: number[];
  outputs: number[];
  operators: TfliteOperator[];
}

/** A table of the buffer at `pos`, with typed field access by schema field id. */
class Table {
  constructor(
    private readonly bb: flatbuffers.ByteBuffer,
    readonly pos: number,
  ) {}

  private off(id: number): number {
    return this.bb.__offset(this.pos, 4 + 2 * id);
  }
  uint8(id: number, dflt = 0): number {
    const o = this.off(id);
    return o ? this.bb.readUint8(this.pos + o) : dflt;
  }
  int8(id: number, dflt = 0): number {
    const o = this.off(id);
    return o ? this.bb.readInt8(this.pos + o) : dflt;
  }
  int32(id: number, dflt = 0): number {
    const o = this.off(id);
    return o ? this.bb.readInt32(this.pos + o) : dflt;
  }
  uint32(id: number, dflt = 0): number {
    const o = this.off(id);
    return o ? this.bb.readUint32(this.pos + o) : dflt;
  }
  string(id: number): string {
    const o = this.off(id);
    return o ? (this.bb.__string(this.pos + o) as string) : '';
  }
  table(id: number): Table | null {
    const o = this.off(id);
    return o ? new Table(this.bb, this.bb.__indirect(this.pos + o)) : null;
  }
  tables(id: number): Table[] {
    const o = this.off(id);
    if (!o) return [];
    const start = this.bb.__vector(this.pos + o);
    const n = this.bb.__vector_len(this.pos + o);
    return Array.from({ length: n }, (_, i) => new Table(this.bb, this.bb.__indirect(start + i * 4)));
  }
  int32s(id: number): number[] {
    const o = this.off(id);
    if (!o) return [];
    const start = this.bb.__vector(this.pos + o);
    const n = this.bb.__vector_len(this.pos + o);
    return Array.from({ length: n }, (_, i) => this.bb.readInt32(start + i * 4));
  }
  /** A [ubyte] vector as a view into the file bytes. */
  bytes(id: number): Uint8Array {
    const o = this.off(id);
    if (!o) return new Uint8Array(0);
    const start = this.bb.__vector(this.pos + o);
    const n = this.bb.__vector_len(this.pos + o);
    const all = this.bb.bytes();
    return all.subarray(start, start + n);
  }
  has(id: number): boolean {
    return this.off(id) !== 0;
  }
}

function decodeData(bytes: Uint8Array, type: number, count: number, what: string): Float32Array | Int32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (type === TENSOR_TYPE.FLOAT32) {
    if (bytes.length !== count * 4) throw new Error(`tflite: ${what} holds ${bytes.length} bytes, its shape needs ${count * 4}`);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
    return out;
  }
  if (type === TENSOR_TYPE.INT32) {
    if (bytes.length !== count * 4) throw new Error(`tflite: ${what} holds ${bytes.length} bytes, its shape needs ${count * 4}`);
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++) out[i] = dv.getInt32(i * 4, true);
    return out;
  }
  if (type === TENSOR_TYPE.INT64) {
    if (bytes.length !== count * 8) throw new Error(`tflite: ${what} holds ${bytes.length} bytes, its shape needs ${count * 8}`);
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++) out[i] = Number(dv.getBigInt64(i * 8, true));
    return out;
  }
  throw new Error(`tflite: ${what} has tensor type ${type}, only FLOAT32/INT32/INT64 constants are supported (quantized models are not)`);
}

function convOptions(t: Table | null, depthwise: boolean): ConvOptions {
  // Conv2DOptions: padding 0, stride_w 1, stride_h 2, fused_activation_function 3, dilation_w 4, dilation_h 5
  // DepthwiseConv2DOptions: padding 0, stride_w 1, stride_h 2, depth_multiplier 3, fused_activation_function 4, dilation_w 5, dilation_h 6
  const padding: Padding = (t?.int8(0, 0) ?? 0) === 0 ? 'SAME' : 'VALID';
  const act = t?.int8(depthwise ? 4 : 3, 0) ?? 0;
  return {
    padding,
    strideW: t?.int32(1, 1) ?? 1,
    strideH: t?.int32(2, 1) ?? 1,
    dilationW: t?.int32(depthwise ? 5 : 4, 1) ?? 1,
    dilationH: t?.int32(depthwise ? 6 : 5, 1) ?? 1,
    activation: ACTIVATIONS[act] ?? 'NONE',
    ...(depthwise ? { depthMultiplier: t?.int32(3, 1) ?? 1 } : {}),
  };
}

/** Parses a .tflite file (subgraph 0). Throws a clear error for anything it cannot represent. */
export function readTflite(file: Uint8Array): TfliteModel {
  if (file.length < 8) throw new Error(`tflite: ${file.length} bytes is not a TFLite model`);
  const bb = new flatbuffers.ByteBuffer(file);
  const ident = bb.getBufferIdentifier();
  if (ident !== 'TFL3') throw new Error(`tflite: file identifier is '${ident.replace(/[^\x20-\x7e]/g, '?')}', expected 'TFL3'`);
  const model = new Table(bb, bb.readInt32(bb.position()) + bb.position());
  // Model: version 0, operator_codes 1, subgraphs 2, description 3, buffers 4
  const version = model.uint32(0);
  const codes = model.tables(1).map((c) => {
    // OperatorCode: deprecated_builtin_code 0 (int8), custom_code 1, version 2, builtin_code 3 (int32)
    const code = Math.max(c.int8(0, 0), c.int32(3, 0));
    const custom = c.string(1);
    return { code, custom };
  });
  const subgraphs = model.tables(2);
  const sg = subgraphs[0];
  if (!sg) throw new Error('tflite: the model has no subgraph');
  const buffers = model.tables(4).map((b) => b.bytes(0));
  // SubGraph: tensors 0, inputs 1, outputs 2, operators 3, name 4
  const tensors: TfliteTensor[] = sg.tables(0).map((t, index) => {
    // Tensor: shape 0, type 1, buffer 2, name 3, quantization 4
    const shape = t.int32s(0);
    const type = t.int8(1, 0);
    const name = t.string(3) || `t${index}`;
    const bytes = buffers[t.uint32(2)] ?? new Uint8Array(0);
    const count = shape.reduce((a, b) => a * b, 1);
    const q = t.table(4);
    const quantized = !!q && (q.has(2) || q.has(3)); // QuantizationParameters: scale 2, zero_point 3
    return { index, name, shape, type, data: bytes.length ? decodeData(bytes, type, count, `tensor '${name}'`) : null, quantized };
  });
  const operators: TfliteOperator[] = sg.tables(3).map((o, index) => {
    // Operator: opcode_index 0, inputs 1, outputs 2, builtin_options_type 3, builtin_options 4
    const c = codes[o.uint32(0)];
    if (!c) throw new Error(`tflite: operator ${index} names operator code ${o.uint32(0)}, the model has ${codes.length}`);
    const op = BUILTIN_NAME.get(c.code);
    if (!op || c.custom) throw new Error(`tflite: unsupported operator ${c.custom ? `custom '${c.custom}'` : `builtin code ${c.code}`} (operator ${index})`);
    const opts = o.table(4);
    const base: TfliteOperator = { index, op, inputs: o.int32s(1), outputs: o.int32s(2) };
    if (op === 'CONV_2D') base.conv = convOptions(opts, false);
    else if (op === 'DEPTHWISE_CONV_2D') base.conv = convOptions(opts, true);
    else if (op === 'ADD' || op === 'SUB' || op === 'MUL') base.activation = ACTIVATIONS[opts?.int8(0, 0) ?? 0] ?? 'NONE';
    else if (op === 'RESHAPE' && opts?.has(0)) base.newShape = opts.int32s(0);
    return base;
  });
  return { version, description: model.string(3), tensors, inputs: sg.int32s(1), outputs: sg.int32s(2), operators };
}

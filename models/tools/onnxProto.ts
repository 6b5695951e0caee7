/**
 * ONNX ModelProto ⇄ the toolchain's plain model description, through the `onnx-proto` package
 * (onnx.proto compiled for protobufjs). Only the model tools use it: the daemon loads finished
 * files and carries no protobuf code.
 *
 * Encoding is deterministic: protobufjs writes fields in field-number order, the builder emits
 * attributes sorted by name and initializers in first-use order, and nothing time-dependent is
 * written. Decoding normalises every tensor to little-endian raw bytes (float_data, int32_data,
 * int64_data … are folded into `raw`) so a graph can be re-encoded without caring how the
 * exporter stored it.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
type ILong = { low: number; high: number; unsigned: boolean; toNumber(): number };

export const enum TensorType {
  FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  INT32 = 6,
  INT64 = 7,
  BOOL = 9,
  FLOAT16 = 10,
  DOUBLE = 11,
}

/** Bytes per element of the tensor types the tools read and write. */
const ELEMENT_BYTES: Record<number, number> = { 1: 4, 2: 1, 3: 1, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8 };

export type AttrValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: TensorInit };

export interface TensorInit {
  name: string;
  type: TensorType;
  dims: number[];
  /** little-endian raw bytes of the tensor */
  raw: Uint8Array;
}

export interface NodeDef {
  opType: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
  domain?: string;
}

export interface ValueInfo {
  name: string;
  type: TensorType;
  /** number = fixed dim, string = symbolic dim; null = unknown rank */
  shape: (number | string)[] | null;
}

export interface OpsetImport {
  domain: string;
  version: number;
}

export interface ModelDef {
  producerName: string;
  producerVersion: string;
  docString: string;
  graphName: string;
  /** Default-domain opset; a com.microsoft import is added when a node uses that domain. */
  opset: number;
  nodes: NodeDef[];
  initializers: TensorInit[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  metadata: [string, string][];
  /** IR version written (8 unless given). */
  irVersion?: number;
}

/** A decoded model: the description plus every opset import it declared. */
export interface DecodedModel extends ModelDef {
  opsets: OpsetImport[];
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** int64 fields arrive as numbers or Long objects; both become a JS number (exact below 2^53). */
function num(v: number | ILong | null | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  const n = v.toNumber();
  if (!Number.isSafeInteger(n)) throw new Error(`onnx: int64 value ${n} is outside the exact range of a JS number`);
  return n;
}

// ---------------------------------------------------------------- encode

function tensorProto(t: TensorInit): onnxProto.onnx.ITensorProto {
  return { dims: t.dims, dataType: t.type, name: t.name, rawData: t.raw };
}

function attributeProto(name: string, a: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'float':
      return { name, f: a.value, type: T.FLOAT };
    case 'int':
      return { name, i: a.value, type: T.INT };
    case 'string':
      return { name, s: utf8.encode(a.value), type: T.STRING };
    case 'floats':
      return { name, floats: a.value, type: T.FLOATS };
    case 'ints':
      return { name, ints: a.value, type: T.INTS };
    case 'tensor':
      return { name, t: tensorProto(a.value), type: T.TENSOR };
  }
}

function valueInfoProto(v: ValueInfo): onnxProto.onnx.IValueInfoProto {
  const tensorType: onnxProto.onnx.TypeProto.ITensor = { elemType: v.type };
  if (v.shape) tensorType.shape = { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return { name: v.name, type: { tensorType } };
}

/** Serialise a model to ONNX protobuf bytes. */
export function encodeModel(m: ModelDef): Uint8Array {
  const nodes: onnxProto.onnx.INodeProto[] = m.nodes.map((n) => {
    const node: onnxProto.onnx.INodeProto = {
      input: n.inputs,
      output: n.outputs,
      name: n.name,
      opType: n.opType,
      // attributes sorted by name for stable output
      attribute: Object.keys(n.attrs)
        .sort()
        .flatMap((k) => {
          const a = n.attrs[k];
          return a ? [attributeProto(k, a)] : [];
        }),
    };
    if (n.domain) node.domain = n.domain;
    return node;
  });
  const opsetImport: onnxProto.onnx.IOperatorSetIdProto[] = [{ domain: '', version: m.opset }];
  if (m.nodes.some((n) => n.domain === 'com.microsoft')) opsetImport.push({ domain: 'com.microsoft', version: 1 });
  const model: onnxProto.onnx.IModelProto = {
    irVersion: m.irVersion ?? 8, // IR 8: ONNX 1.13+, opset ≤ 18
    producerName: m.producerName,
    producerVersion: m.producerVersion,
    graph: {
      node: nodes,
      name: m.graphName,
      initializer: m.initializers.map(tensorProto),
      input: m.inputs.map(valueInfoProto),
      output: m.outputs.map(valueInfoProto),
    },
    opsetImport,
    metadataProps: m.metadata.map(([key, value]) => ({ key, value })),
  };
  if (m.docString) model.docString = m.docString;
  return onnx.ModelProto.encode(model).finish();
}

// ---------------------------------------------------------------- decode

function le(type: number, values: ArrayLike<number>, width: 'f32' | 'i32' | 'i64' | 'f64' | 'u8' | 'i8' | 'u16'): Uint8Array {
  const bytes = new Uint8Array(values.length * (ELEMENT_BYTES[type] ?? 4));
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] ?? 0;
    if (width === 'f32') dv.setFloat32(i * 4, v, true);
    else if (width === 'i32') dv.setInt32(i * 4, v, true);
    else if (width === 'i64') dv.setBigInt64(i * 8, BigInt(v), true);
    else if (width === 'f64') dv.setFloat64(i * 8, v, true);
    else if (width === 'u8') dv.setUint8(i, v);
    else if (width === 'i8') dv.setInt8(i, v);
    else dv.setUint16(i * 2, v, true);
  }
  return bytes;
}

function decodeTensor(t: onnxProto.onnx.ITensorProto, where: string): TensorInit {
  const name = t.name ?? '';
  const type = (t.dataType ?? 0) as TensorType;
  const dims = (t.dims ?? []).map((d) => num(d as number | ILong));
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData ?? []).length)
    throw new Error(`onnx: tensor '${name}' (${where}) keeps its data in an external file; only self-contained models are read`);
  if (!(type in ELEMENT_BYTES)) throw new Error(`onnx: tensor '${name}' (${where}) has data type ${type}, which the tools do not read`);
  const count = dims.reduce((a, b) => a * b, 1);
  let raw: Uint8Array;
  if (t.rawData && t.rawData.length) raw = Uint8Array.from(t.rawData);
  else if (type === TensorType.FLOAT) raw = le(type, t.floatData ?? [], 'f32');
  else if (type === TensorType.DOUBLE) raw = le(type, t.doubleData ?? [], 'f64');
  else if (type === TensorType.INT64)
    raw = le(
      type,
      (t.int64Data ?? []).map((v) => num(v as number | ILong)),
      'i64',
    );
  else if (type === TensorType.INT32) raw = le(type, t.int32Data ?? [], 'i32');
  else if (type === TensorType.UINT8 || type === TensorType.BOOL) raw = le(type, t.int32Data ?? [], 'u8');
  else if (type === TensorType.INT8) raw = le(type, t.int32Data ?? [], 'i8');
  else raw = le(type, t.int32Data ?? [], 'u16'); // FLOAT16 bit patterns live in int32_data
  const want = count * (ELEMENT_BYTES[type] ?? 4);
  if (raw.length !== want) throw new Error(`onnx: tensor '${name}' (${where}) holds ${raw.length} bytes, dims ${dims.join('x') || 'scalar'} need ${want}`);
  return { name, type, dims, raw };
}

function decodeAttribute(a: onnxProto.onnx.IAttributeProto, node: string): AttrValue {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case T.FLOAT:
      return { kind: 'float', value: a.f ?? 0 };
    case T.INT:
      return { kind: 'int', value: num(a.i as number | ILong) };
    case T.STRING:
      return { kind: 'string', value: fromUtf8.decode(a.s ?? new Uint8Array()) };
    case T.FLOATS:
      return { kind: 'floats', value: [...(a.floats ?? [])] };
    case T.INTS:
      return { kind: 'ints', value: (a.ints ?? []).map((v) => num(v as number | ILong)) };
    case T.TENSOR:
      if (!a.t) throw new Error(`onnx: attribute '${a.name}' of node '${node}' has no tensor`);
      return { kind: 'tensor', value: decodeTensor(a.t, `attribute ${a.name} of ${node}`) };
    default:
      throw new Error(
        `onnx: attribute '${a.name}' of node '${node}' has type ${a.type}, which the tools do not read (sub-graphs, sparse tensors, strings lists)`,
      );
  }
}

function decodeValueInfo(v: onnxProto.onnx.IValueInfoProto): ValueInfo {
  const tt = v.type?.tensorType;
  if (!tt) throw new Error(`onnx: graph value '${v.name}' is not a tensor`);
  const dims = tt.shape?.dim;
  return {
    name: v.name ?? '',
    type: (tt.elemType ?? 0) as TensorType,
    shape: dims ? dims.map((d) => (d.dimParam ? d.dimParam : d.dimValue !== null && d.dimValue !== undefined ? num(d.dimValue as number | ILong) : '?')) : null,
  };
}

/** Parse ONNX bytes. Throws `onnx: …` naming what it cannot represent (external data, sub-graphs, …). */
export function decodeModel(bytes: Uint8Array): DecodedModel {
  let m: onnxProto.onnx.IModelProto;
  try {
    m = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new Error(`onnx: not a readable ONNX model (${(err as Error).message})`);
  }
  const g = m.graph;
  if (!g) throw new Error('onnx: the model has no graph');
  const opsets = (m.opsetImport ?? []).map((o) => ({ domain: o.domain ?? '', version: num(o.version as number | ILong) }));
  const main = opsets.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  const initializers = (g.initializer ?? []).map((t) => decodeTensor(t, 'initializer'));
  const initNames = new Set(initializers.map((t) => t.name));
  return {
    producerName: m.producerName ?? '',
    producerVersion: m.producerVersion ?? '',
    docString: m.docString ?? '',
    graphName: g.name ?? '',
    opset: main?.version ?? 1,
    opsets,
    irVersion: num(m.irVersion as number | ILong),
    nodes: (g.node ?? []).map((n, i) => {
      const name = n.name || `node_${i}`;
      const attrs: Record<string, AttrValue> = {};
      for (const a of n.attribute ?? []) attrs[a.name ?? ''] = decodeAttribute(a, name);
      const def: NodeDef = { opType: n.opType ?? '', name, inputs: [...(n.input ?? [])], outputs: [...(n.output ?? [])], attrs };
      if (n.domain && n.domain !== 'ai.onnx') def.domain = n.domain;
      return def;
    }),
    initializers,
    // ONNX IR < 4 lists initializers among the graph inputs too: they are not runtime inputs.
    inputs: (g.input ?? []).filter((v) => !initNames.has(v.name ?? '')).map(decodeValueInfo),
    outputs: (g.output ?? []).map(decodeValueInfo),
    metadata: (m.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? ''] as [string, string]),
  };
}

/**
 * Minimal hand-written protobuf encoder for the subset of onnx.proto (ModelProto) that the
 * BLINK model tools emit. Field numbers follow onnx/onnx.proto (IR version 8).
 * Output is deterministic: fields are written in a fixed order, no maps, no timestamps.
 */

export const enum TensorType {
  FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  INT32 = 6,
  INT64 = 7,
}

export type AttrValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] }
  | { kind: 'string'; value: string };

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

export interface ModelDef {
  producerName: string;
  producerVersion: string;
  docString: string;
  graphName: string;
  opset: number;
  nodes: NodeDef[];
  initializers: TensorInit[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  metadata: [string, string][];
}

/** Growable byte buffer with protobuf primitives. */
class Writer {
  private buf = new Uint8Array(1024);
  private len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) {
      this.byte(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    this.byte(Number(x));
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

const utf8 = new TextEncoder();

function fieldVarint(w: Writer, field: number, v: number | bigint): void {
  w.tag(field, 0);
  w.varint(v);
}

function fieldBytes(w: Writer, field: number, b: Uint8Array): void {
  w.tag(field, 2);
  w.varint(b.length);
  w.bytes(b);
}

function fieldString(w: Writer, field: number, s: string): void {
  fieldBytes(w, field, utf8.encode(s));
}

function fieldFloat(w: Writer, field: number, f: number): void {
  w.tag(field, 5);
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, f, true);
  w.bytes(b);
}

function message(build: (w: Writer) => void): Uint8Array {
  const w = new Writer();
  build(w);
  return w.finish();
}

// AttributeProto.AttributeType
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_FLOATS = 6;
const ATTR_INTS = 7;

function encodeAttribute(name: string, a: AttrValue): Uint8Array {
  return message((w) => {
    fieldString(w, 1, name);
    switch (a.kind) {
      case 'float':
        fieldFloat(w, 2, a.value);
        fieldVarint(w, 20, ATTR_FLOAT);
        break;
      case 'int':
        fieldVarint(w, 3, a.value);
        fieldVarint(w, 20, ATTR_INT);
        break;
      case 'string':
        fieldString(w, 4, a.value);
        fieldVarint(w, 20, ATTR_STRING);
        break;
      case 'floats':
        for (const f of a.value) fieldFloat(w, 7, f);
        fieldVarint(w, 20, ATTR_FLOATS);
        break;
      case 'ints':
        for (const i of a.value) fieldVarint(w, 8, i);
        fieldVarint(w, 20, ATTR_INTS);
        break;
    }
  });
}

function encodeTensor(t: TensorInit): Uint8Array {
  return message((w) => {
    for (const d of t.dims) fieldVarint(w, 1, d);
    fieldVarint(w, 2, t.type);
    fieldString(w, 8, t.name);
    fieldBytes(w, 9, t.raw);
  });
}

function encodeNode(n: NodeDef): Uint8Array {
  return message((w) => {
    for (const i of n.inputs) fieldString(w, 1, i);
    for (const o of n.outputs) fieldString(w, 2, o);
    fieldString(w, 3, n.name);
    fieldString(w, 4, n.opType);
    // attributes sorted by name for stable output
    for (const key of Object.keys(n.attrs).sort()) {
      const a = n.attrs[key];
      if (a) fieldBytes(w, 5, encodeAttribute(key, a));
    }
    if (n.domain) fieldString(w, 7, n.domain);
  });
}

function encodeValueInfo(v: ValueInfo): Uint8Array {
  const dims = v.shape;
  const shape = message((w) => {
    for (const d of dims ?? []) {
      fieldBytes(
        w,
        1,
        message((dw) => {
          if (typeof d === 'number') fieldVarint(dw, 1, d);
          else fieldString(dw, 2, d);
        }),
      );
    }
  });
  const tensorType = message((w) => {
    fieldVarint(w, 1, v.type);
    if (dims) fieldBytes(w, 2, shape);
  });
  const typeProto = message((w) => fieldBytes(w, 1, tensorType));
  return message((w) => {
    fieldString(w, 1, v.name);
    fieldBytes(w, 2, typeProto);
  });
}

/** Serialise a model to ONNX protobuf bytes. */
export function encodeModel(m: ModelDef): Uint8Array {
  const graph = message((w) => {
    for (const n of m.nodes) fieldBytes(w, 1, encodeNode(n));
    fieldString(w, 2, m.graphName);
    for (const t of m.initializers) fieldBytes(w, 5, encodeTensor(t));
    for (const i of m.inputs) fieldBytes(w, 11, encodeValueInfo(i));
    for (const o of m.outputs) fieldBytes(w, 12, encodeValueInfo(o));
  });
  const usesMs = m.nodes.some((n) => n.domain === 'com.microsoft');
  return message((w) => {
    fieldVarint(w, 1, 8); // ir_version 8 (ONNX 1.13+, opset <= 18)
    fieldString(w, 2, m.producerName);
    fieldString(w, 3, m.producerVersion);
    if (m.docString) fieldString(w, 6, m.docString);
    fieldBytes(w, 7, graph);
    fieldBytes(
      w,
      8,
      message((ow) => {
        fieldString(ow, 1, '');
        fieldVarint(ow, 2, m.opset);
      }),
    );
    if (usesMs) {
      fieldBytes(
        w,
        8,
        message((ow) => {
          fieldString(ow, 1, 'com.microsoft');
          fieldVarint(ow, 2, 1);
        }),
      );
    }
    for (const [k, v] of m.metadata) {
      fieldBytes(
        w,
        14,
        message((mw) => {
          fieldString(mw, 1, k);
          fieldString(mw, 2, v);
        }),
      );
    }
  });
}

/**
 * A two-node ONNX model, built in memory, that scores a probe against the whole gallery:
 *   scores[N,1] = MatMul(gallery[N,D], probe[D,1])
 * Run through onnxruntime it uses MLAS's vectorised, multi-threaded GEMV and executes on
 * onnxruntime's own threads, so a 100k-template search neither takes 12 ms of scalar JS nor
 * blocks the event loop. The encoder writes just the protobuf fields this graph needs.
 */

class ProtoWriter {
  private readonly parts: number[] = [];

  varint(v: number): this {
    let n = v;
    while (n > 0x7f) {
      this.parts.push((n & 0x7f) | 0x80);
      n = Math.floor(n / 128);
    }
    this.parts.push(n);
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  int(field: number, v: number): this {
    return this.tag(field, 0).varint(v);
  }

  bytes(field: number, b: Uint8Array | number[]): this {
    this.tag(field, 2).varint(b.length);
    for (const x of b) this.parts.push(x);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, m: ProtoWriter): this {
    return this.bytes(field, m.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

const FLOAT = 1;

function valueInfo(name: string, dims: (number | string)[]): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of dims) shape.message(1, typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
  const tensorType = new ProtoWriter().int(1, FLOAT).message(2, shape);
  const type = new ProtoWriter().message(1, tensorType);
  return new ProtoWriter().string(1, name).message(2, type);
}

/** ONNX bytes for scores = MatMul(gallery, probe) with gallery [N, dim] (N dynamic) and probe [dim, 1]. */
export function gemvModelBytes(dim: number): Uint8Array {
  const node = new ProtoWriter().string(1, 'gallery').string(1, 'probe').string(2, 'scores').string(3, 'gemv').string(4, 'MatMul');
  const graph = new ProtoWriter()
    .message(1, node)
    .string(2, 'gallery_search')
    .message(11, valueInfo('gallery', ['N', dim]))
    .message(11, valueInfo('probe', [dim, 1]))
    .message(12, valueInfo('scores', ['N', 1]));
  const opset = new ProtoWriter().string(1, '').int(2, 13);
  return new ProtoWriter().int(1, 8).string(2, 'blinkd').message(7, graph).message(8, opset).finish();
}

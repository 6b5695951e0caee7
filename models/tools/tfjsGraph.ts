/**
 * tfjs graph-model (model.json: modelTopology.node + weightsManifest) -> ONNX converter.
 *
 * Semantics are TensorFlow's (NHWC). Inside the ONNX graph every rank-4 activation is kept
 * NCHW (one Transpose at the input, one back at a rank-4 output if any), because ORT's
 * convolution kernels are NCHW. Shapes are tracked statically (batch may be symbolic -1) so
 * that SAME padding becomes explicit pads. Sub-graphs that only depend on constants (including
 * Shape of a statically known tensor) are folded at conversion time. Any op outside the covered
 * set throws an Error naming the op and node.
 */
import { attrFloat, attrInt, attrInts, attrString, OnnxGraph, type InitData } from './onnxBuilder.js';
import { TensorType, type ValueInfo } from './onnxProto.js';
import { decodeWeights, type DecodedWeight, type WeightGroup } from './tfjsWeights.js';

interface TfAttr {
  s?: string;
  i?: string;
  f?: number;
  b?: boolean;
  type?: string;
  list?: { i?: string[]; s?: string[]; f?: number[] };
  shape?: { dim?: { size: string }[] };
  tensor?: unknown;
}

export interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
}

export interface TfjsModelJson {
  modelTopology: { node: TfNode[] };
  weightsManifest: WeightGroup[];
}

export interface ConvertSpec {
  /** ONNX name of the (single) NHWC image input */
  inputName: string;
  /** TF node name -> ONNX output name, in output order */
  outputs: [string, string][];
  docString: string;
}

interface ConstVal {
  kind: 'const';
  dtype: 'float32' | 'int32';
  shape: number[];
  data: number[] | Float32Array | Int32Array;
}

interface TensorVal {
  kind: 'tensor';
  name: string;
  /** logical (TF, NHWC) shape; -1 = symbolic batch */
  shape: number[];
  /** true when the ONNX tensor is stored NCHW (rank-4 only) */
  nchw: boolean;
}

type Val = ConstVal | TensorVal;

const NCHW_FROM_NHWC = [0, 3, 1, 2];
const NHWC_FROM_NCHW = [0, 2, 3, 1];

function b64(s: string | undefined): string {
  return s === undefined ? '' : Buffer.from(s, 'base64').toString('utf8');
}

function listInts(a: TfAttr | undefined): number[] {
  return (a?.list?.i ?? []).map((x) => Number(x));
}

function prod(a: number[]): number {
  return a.reduce((x, y) => x * y, 1);
}

function permuteData(data: ArrayLike<number>, shape: number[], perm: number[]): { data: Float32Array; shape: number[] } {
  const outShape = perm.map((p) => shape[p] ?? 1);
  const n = prod(shape);
  const inStrides = shape.map((_, i) => prod(shape.slice(i + 1)));
  const out = new Float32Array(n);
  const idx = new Array<number>(outShape.length).fill(0);
  for (let o = 0; o < n; o++) {
    let src = 0;
    for (let d = 0; d < perm.length; d++) src += (idx[d] ?? 0) * (inStrides[perm[d] ?? 0] ?? 0);
    out[o] = data[src] ?? 0;
    for (let d = outShape.length - 1; d >= 0; d--) {
      idx[d] = (idx[d] ?? 0) + 1;
      if ((idx[d] ?? 0) < (outShape[d] ?? 1)) break;
      idx[d] = 0;
    }
  }
  return { data: out, shape: outShape };
}

function unsupported(node: TfNode, why = ''): never {
  throw new Error(`tfjs->onnx: unsupported op '${node.op}' (node '${node.name}')${why ? `: ${why}` : ''}`);
}

export class TfjsGraphConverter {
  private readonly g: OnnxGraph;
  private readonly vals = new Map<string, Val>();
  private readonly nodes = new Map<string, TfNode>();
  private readonly weights: Map<string, DecodedWeight>;

  constructor(
    private readonly model: TfjsModelJson,
    shard: (path: string) => Uint8Array,
    private readonly spec: ConvertSpec,
    graphName: string,
  ) {
    this.g = new OnnxGraph(graphName);
    this.weights = decodeWeights(model.weightsManifest, shard);
    for (const n of model.modelTopology.node) this.nodes.set(n.name, n);
  }

  convert(): ConvertedModel {
    for (const [tfName, onnxName] of this.spec.outputs) {
      const v = this.value(tfName);
      if (v.kind === 'const') throw new Error(`output ${tfName} is constant`);
      const plain = this.toPlain(v);
      this.g.opNamed('Identity', [plain.name], onnxName);
      this.g.outputs.push({ name: onnxName, type: TensorType.FLOAT, shape: plain.shape.map((d) => (d < 0 ? 'N' : d)) });
    }
    return { graph: this.g, bytes: this.g.encode(this.spec.docString), inputs: this.g.inputs, outputs: this.g.outputs };
  }

  // ---- value resolution -------------------------------------------------------------------

  private value(ref: string): Val {
    const name = ref.replace(/^\^/, '');
    const [base, idx] = name.split(':');
    if (idx !== undefined && idx !== '0') throw new Error(`tfjs->onnx: multi-output reference '${ref}' not supported`);
    const key = base ?? name;
    const cached = this.vals.get(key);
    if (cached) return cached;
    const node = this.nodes.get(key);
    if (!node) throw new Error(`tfjs->onnx: unknown node '${key}'`);
    const v = this.convertNode(node);
    this.vals.set(key, v);
    return v;
  }

  private inputs(node: TfNode): Val[] {
    return (node.input ?? []).filter((i) => !i.startsWith('^')).map((i) => this.value(i));
  }

  private constOf(node: TfNode, v: Val | undefined): ConstVal {
    if (!v || v.kind !== 'const') unsupported(node, 'expected a constant input');
    return v;
  }

  // ---- layout helpers ---------------------------------------------------------------------

  private toPlain(v: TensorVal): TensorVal {
    if (!v.nchw) return v;
    const name = this.g.op('Transpose', [v.name], { perm: attrInts(NHWC_FROM_NCHW) }, 'to_nhwc');
    return { kind: 'tensor', name, shape: v.shape, nchw: false };
  }

  private toNchw(v: TensorVal): TensorVal {
    if (v.nchw) return v;
    if (v.shape.length !== 4) throw new Error(`tfjs->onnx: rank-4 tensor expected, got shape [${v.shape.join(',')}]`);
    const name = this.g.op('Transpose', [v.name], { perm: attrInts(NCHW_FROM_NHWC) }, 'to_nchw');
    return { kind: 'tensor', name, shape: v.shape, nchw: true };
  }

  /** Emit a constant as an initializer laid out to broadcast against `like`. */
  private constFor(c: ConstVal, like: TensorVal | null, hint: string): string {
    let shape = c.shape;
    let data: ArrayLike<number> = c.data;
    if (like?.nchw && shape.length > 0) {
      while (shape.length < 4) shape = [1, ...shape];
      const p = permuteData(data, shape, NCHW_FROM_NHWC);
      shape = p.shape;
      data = p.data;
    }
    const typed: InitData = c.dtype === 'float32' ? Float32Array.from(data) : Int32Array.from(data);
    return this.g.addInitializer(hint, shape, typed);
  }

  private tensor(name: string, shape: number[], nchw: boolean): TensorVal {
    return { kind: 'tensor', name, shape, nchw: nchw && shape.length === 4 };
  }

  // ---- node conversion --------------------------------------------------------------------

  private convertNode(node: TfNode): Val {
    const a = node.attr ?? {};
    switch (node.op) {
      case 'Const': {
        const w = this.weights.get(node.name);
        if (!w) unsupported(node, 'constant without weight data');
        return { kind: 'const', dtype: w.dtype, shape: w.shape, data: w.data };
      }
      case 'Placeholder': {
        const dims = (a.shape?.shape?.dim ?? []).map((d) => Number(d.size));
        if (dims.length !== 4 || dims[3] !== 3) unsupported(node, `expected an NHWC image input, got [${dims.join(',')}]`);
        this.g.inputs.push({ name: this.spec.inputName, type: TensorType.FLOAT, shape: dims.map((d) => (d < 0 ? 'N' : d)) });
        return this.toNchw({ kind: 'tensor', name: this.spec.inputName, shape: dims, nchw: false });
      }
      case 'Identity':
        return this.inputs(node)[0] ?? unsupported(node, 'no input');
      case '_FusedConv2D':
      case 'Conv2D':
      case 'DepthwiseConv2dNative':
      case 'FusedDepthwiseConv2dNative':
        return this.conv(node);
      case 'MaxPool':
      case 'AvgPool':
        return this.pool(node);
      case 'BiasAdd':
      case 'Add':
      case 'AddV2':
      case 'Sub':
      case 'Mul':
      case 'RealDiv':
      case 'Maximum':
      case 'Minimum':
        return this.binary(node);
      case 'Relu':
      case 'Relu6':
      case 'Sigmoid':
      case 'Tanh':
      case 'Elu':
      case 'Neg':
      case 'Exp':
      case 'Sqrt':
      case 'Rsqrt':
      case 'Square':
      case 'LeakyRelu':
        return this.unary(node);
      case 'Prelu': {
        const [x, alpha] = this.inputs(node);
        if (!x || x.kind !== 'tensor') unsupported(node, 'non-tensor input');
        return this.prelu(x, this.constOf(node, alpha));
      }
      case 'Softmax': {
        const [x] = this.inputs(node);
        if (!x || x.kind !== 'tensor') unsupported(node);
        const p = this.toPlain(x);
        return this.tensor(this.g.op('Softmax', [p.name], { axis: attrInt(-1) }), p.shape, false);
      }
      case 'Pad':
      case 'MirrorPad':
        return this.pad(node);
      case 'Reshape':
        return this.reshape(node);
      case 'Squeeze':
        return this.squeeze(node);
      case 'ConcatV2':
        return this.concat(node);
      case 'Mean':
      case 'Sum':
      case 'Max':
        return this.reduce(node);
      case 'MatMul':
      case '_FusedMatMul':
        return this.matmul(node);
      case 'Shape': {
        const [x] = this.inputs(node);
        if (!x) unsupported(node);
        return { kind: 'const', dtype: 'int32', shape: [x.shape.length], data: [...x.shape] };
      }
      case 'StridedSlice':
        return this.stridedSlice(node);
      case 'Pack': {
        const ins = this.inputs(node);
        if ((a.axis?.i ?? '0') !== '0' || ins.some((v) => v.kind !== 'const' || v.shape.length !== 0))
          unsupported(node, 'only packing constant scalars along axis 0 is supported');
        const data = ins.map((v) => Number((v as ConstVal).data[0]));
        const dtype = (ins[0] as ConstVal | undefined)?.dtype ?? 'int32';
        return { kind: 'const', dtype, shape: [data.length], data };
      }
      default:
        return unsupported(node);
    }
  }

  private conv(node: TfNode): Val {
    const a = node.attr ?? {};
    const ins = this.inputs(node);
    const x0 = ins[0];
    if (!x0 || x0.kind !== 'tensor') unsupported(node, 'input must be a tensor');
    if (b64(a.data_format?.s) !== 'NHWC' && a.data_format?.s !== undefined) unsupported(node, `data_format ${b64(a.data_format?.s)}`);
    const x = this.toNchw(x0);
    const filter = this.constOf(node, ins[1]);
    const depthwise = node.op.includes('Depthwise');
    const [kh = 1, kw = 1, cin = 1, co = 1] = filter.shape;
    const strides = listInts(a.strides);
    const dil = listInts(a.dilations);
    const sh = strides[1] ?? 1;
    const sw = strides[2] ?? 1;
    const dh = dil[1] ?? 1;
    const dw = dil[2] ?? 1;
    const padding = b64(a.padding?.s);
    const [n = -1, ih = 0, iw = 0] = x.shape;
    let pads: number[];
    let oh: number;
    let ow: number;
    if (padding === 'SAME') {
      oh = Math.ceil(ih / sh);
      ow = Math.ceil(iw / sw);
      const th = Math.max((oh - 1) * sh + (kh - 1) * dh + 1 - ih, 0);
      const tw = Math.max((ow - 1) * sw + (kw - 1) * dw + 1 - iw, 0);
      pads = [Math.floor(th / 2), Math.floor(tw / 2), th - Math.floor(th / 2), tw - Math.floor(tw / 2)];
    } else if (padding === 'VALID') {
      oh = Math.floor((ih - (kh - 1) * dh - 1) / sh) + 1;
      ow = Math.floor((iw - (kw - 1) * dw - 1) / sw) + 1;
      pads = [0, 0, 0, 0];
    } else if (padding === 'EXPLICIT') {
      const e = listInts(a.explicit_paddings);
      pads = [e[2] ?? 0, e[4] ?? 0, e[3] ?? 0, e[5] ?? 0];
      oh = Math.floor((ih + (pads[0] ?? 0) + (pads[2] ?? 0) - (kh - 1) * dh - 1) / sh) + 1;
      ow = Math.floor((iw + (pads[1] ?? 0) + (pads[3] ?? 0) - (kw - 1) * dw - 1) / sw) + 1;
    } else {
      unsupported(node, `padding ${padding}`);
    }
    let wData: Float32Array;
    let wShape: number[];
    let group = 1;
    let cout: number;
    if (depthwise) {
      // [kh, kw, cin, mult] -> [cin*mult, 1, kh, kw]; output channel = c*mult + m
      const mult = co;
      cout = cin * mult;
      const p = permuteData(filter.data, [kh, kw, cin * mult], [2, 0, 1]);
      wData = p.data;
      wShape = [cout, 1, kh, kw];
      group = cin;
    } else {
      cout = co;
      const p = permuteData(filter.data, [kh, kw, cin, co], [3, 2, 0, 1]);
      wData = p.data;
      wShape = [co, cin, kh, kw];
    }
    const convInputs = [x.name, this.g.addInitializer('w', wShape, wData)];
    const fused = (a.fused_ops?.list?.s ?? []).map((s) => b64(s));
    let extraArg = 2;
    if (fused[0] === 'BiasAdd') {
      const bias = this.constOf(node, ins[2]);
      convInputs.push(this.g.addInitializer('b', [cout], Float32Array.from(bias.data)));
      extraArg = 3;
    } else if (fused.length > 0) {
      unsupported(node, `fused ops ${fused.join('+')}`);
    }
    const attrs = {
      kernel_shape: attrInts([kh, kw]),
      strides: attrInts([sh, sw]),
      dilations: attrInts([dh, dw]),
      pads: attrInts(pads),
      group: attrInt(group),
    };
    const y = this.tensor(this.g.op('Conv', convInputs, attrs, 'conv'), [n, oh, ow, cout], true);
    return this.activation(node, y, fused.slice(1), ins[extraArg]);
  }

  private activation(node: TfNode, y: TensorVal, ops: string[], arg: Val | undefined): TensorVal {
    let out = y;
    for (const op of ops) {
      if (op === 'Relu') out = this.tensor(this.g.op('Relu', [out.name]), out.shape, out.nchw);
      else if (op === 'Relu6') out = this.clip(out, 0, 6);
      else if (op === 'Prelu') out = this.prelu(out, this.constOf(node, arg));
      else if (op === 'LeakyRelu')
        out = this.tensor(this.g.op('LeakyRelu', [out.name], { alpha: attrFloat(node.attr?.leakyrelu_alpha?.f ?? 0.2) }), out.shape, out.nchw);
      else if (op === 'Sigmoid') out = this.tensor(this.g.op('Sigmoid', [out.name]), out.shape, out.nchw);
      else if (op === 'Tanh') out = this.tensor(this.g.op('Tanh', [out.name]), out.shape, out.nchw);
      else if (op === 'Elu') out = this.tensor(this.g.op('Elu', [out.name]), out.shape, out.nchw);
      else unsupported(node, `fused activation ${op}`);
    }
    return out;
  }

  private clip(x: TensorVal, lo: number, hi: number): TensorVal {
    const l = this.g.addInitializer('clip_lo', [], Float32Array.of(lo));
    const h = this.g.addInitializer('clip_hi', [], Float32Array.of(hi));
    return this.tensor(this.g.op('Clip', [x.name, l, h]), x.shape, x.nchw);
  }

  private prelu(x: TensorVal, alpha: ConstVal): TensorVal {
    const slope = this.constFor(alpha, x, 'prelu_slope');
    return this.tensor(this.g.op('PRelu', [x.name, slope]), x.shape, x.nchw);
  }

  private pool(node: TfNode): Val {
    const a = node.attr ?? {};
    const [x0] = this.inputs(node);
    if (!x0 || x0.kind !== 'tensor') unsupported(node);
    const x = this.toNchw(x0);
    const k = listInts(a.ksize);
    const s = listInts(a.strides);
    const kh = k[1] ?? 1;
    const kw = k[2] ?? 1;
    const sh = s[1] ?? 1;
    const sw = s[2] ?? 1;
    const [n = -1, ih = 0, iw = 0, c = 0] = x.shape;
    const padding = b64(a.padding?.s);
    let pads = [0, 0, 0, 0];
    let oh: number;
    let ow: number;
    if (padding === 'SAME') {
      oh = Math.ceil(ih / sh);
      ow = Math.ceil(iw / sw);
      const th = Math.max((oh - 1) * sh + kh - ih, 0);
      const tw = Math.max((ow - 1) * sw + kw - iw, 0);
      pads = [Math.floor(th / 2), Math.floor(tw / 2), th - Math.floor(th / 2), tw - Math.floor(tw / 2)];
    } else if (padding === 'VALID') {
      oh = Math.floor((ih - kh) / sh) + 1;
      ow = Math.floor((iw - kw) / sw) + 1;
    } else {
      unsupported(node, `padding ${padding}`);
    }
    const attrs: Record<string, ReturnType<typeof attrInt>> = { kernel_shape: attrInts([kh, kw]), strides: attrInts([sh, sw]), pads: attrInts(pads) };
    // TF SAME average pooling divides by the number of valid (unpadded) elements
    if (node.op === 'AvgPool') attrs.count_include_pad = attrInt(0);
    const onnxOp = node.op === 'MaxPool' ? 'MaxPool' : 'AveragePool';
    return this.tensor(this.g.op(onnxOp, [x.name], attrs, onnxOp.toLowerCase()), [n, oh, ow, c], true);
  }

  private binary(node: TfNode): Val {
    const [l, r] = this.inputs(node);
    if (!l || !r) unsupported(node, 'missing input');
    const opMap: Record<string, string> = { BiasAdd: 'Add', Add: 'Add', AddV2: 'Add', Sub: 'Sub', Mul: 'Mul', RealDiv: 'Div', Maximum: 'Max', Minimum: 'Min' };
    const onnxOp = opMap[node.op] ?? unsupported(node);
    if (l.kind === 'const' && r.kind === 'const') return this.foldBinary(node, l, r);
    if (l.kind === 'tensor' && r.kind === 'tensor') {
      let a = l;
      let b = r;
      if (a.nchw !== b.nchw) {
        if (a.shape.length === 4 && b.shape.length === 4) {
          a = this.toNchw(a);
          b = this.toNchw(b);
        } else {
          a = this.toPlain(a);
          b = this.toPlain(b);
        }
      }
      const shape = a.shape.length >= b.shape.length ? a.shape : b.shape;
      return this.tensor(this.g.op(onnxOp, [a.name, b.name]), shape, a.nchw);
    }
    const t = (l.kind === 'tensor' ? l : r) as TensorVal;
    const c = (l.kind === 'const' ? l : r) as ConstVal;
    if (c.shape.length > t.shape.length) unsupported(node, 'constant of higher rank than tensor');
    const cName = this.constFor(c, t, 'k');
    const ins = l.kind === 'tensor' ? [t.name, cName] : [cName, t.name];
    return this.tensor(this.g.op(onnxOp, ins), t.shape, t.nchw);
  }

  private foldBinary(node: TfNode, l: ConstVal, r: ConstVal): ConstVal {
    const n = Math.max(l.data.length, r.data.length);
    const same = l.data.length === r.data.length;
    if (!same && l.data.length !== 1 && r.data.length !== 1) unsupported(node, 'constant folding with general broadcasting');
    const f: Record<string, (x: number, y: number) => number> = {
      Add: (x, y) => x + y,
      AddV2: (x, y) => x + y,
      BiasAdd: (x, y) => x + y,
      Sub: (x, y) => x - y,
      Mul: (x, y) => x * y,
      RealDiv: (x, y) => x / y,
      Maximum: Math.max,
      Minimum: Math.min,
    };
    const fn = f[node.op] ?? unsupported(node);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = fn(Number(l.data[l.data.length === 1 ? 0 : i]), Number(r.data[r.data.length === 1 ? 0 : i]));
    const shape = l.data.length >= r.data.length ? l.shape : r.shape;
    const dtype = l.dtype;
    return { kind: 'const', dtype, shape, data: dtype === 'float32' ? Float32Array.from(out) : Int32Array.from(out) };
  }

  private unary(node: TfNode): Val {
    const [x] = this.inputs(node);
    if (!x) unsupported(node);
    if (x.kind === 'const') {
      if (node.op !== 'Neg') unsupported(node, 'constant folding');
      return { ...x, data: x.dtype === 'float32' ? Float32Array.from(x.data, (v) => -v) : Int32Array.from(x.data, (v) => -v) };
    }
    switch (node.op) {
      case 'Relu6':
        return this.clip(x, 0, 6);
      case 'LeakyRelu':
        return this.tensor(this.g.op('LeakyRelu', [x.name], { alpha: attrFloat(node.attr?.alpha?.f ?? 0.2) }), x.shape, x.nchw);
      case 'Rsqrt': {
        const s = this.g.op('Sqrt', [x.name]);
        return this.tensor(this.g.op('Reciprocal', [s]), x.shape, x.nchw);
      }
      case 'Square':
        return this.tensor(this.g.op('Mul', [x.name, x.name]), x.shape, x.nchw);
      default: {
        const m: Record<string, string> = { Relu: 'Relu', Sigmoid: 'Sigmoid', Tanh: 'Tanh', Elu: 'Elu', Neg: 'Neg', Exp: 'Exp', Sqrt: 'Sqrt' };
        const onnxOp = m[node.op] ?? unsupported(node);
        return this.tensor(this.g.op(onnxOp, [x.name]), x.shape, x.nchw);
      }
    }
  }

  private pad(node: TfNode): Val {
    const [x0, p] = this.inputs(node);
    if (!x0 || x0.kind !== 'tensor') unsupported(node);
    const paddings = this.constOf(node, p);
    const rank = x0.shape.length;
    let mode = 'constant';
    if (node.op === 'MirrorPad') {
      const m = b64(node.attr?.mode?.s);
      if (m !== 'REFLECT') unsupported(node, `mirror mode ${m} (ONNX Pad only has reflect)`);
      mode = 'reflect';
    }
    const begin: number[] = [];
    const end: number[] = [];
    for (let d = 0; d < rank; d++) {
      begin.push(Number(paddings.data[2 * d]));
      end.push(Number(paddings.data[2 * d + 1]));
    }
    const shape = x0.shape.map((s, d) => (s < 0 ? s : s + (begin[d] ?? 0) + (end[d] ?? 0)));
    const x = x0;
    const order = x.nchw ? NCHW_FROM_NHWC : [...Array(rank).keys()];
    const pads = [...order.map((d) => begin[d] ?? 0), ...order.map((d) => end[d] ?? 0)];
    const out = this.g.op('Pad', [x.name, this.g.int64('pads', pads)], { mode: attrString(mode) }, 'pad');
    return this.tensor(out, shape, x.nchw);
  }

  private reshape(node: TfNode): Val {
    const [x0, s] = this.inputs(node);
    if (!x0) unsupported(node);
    const target = this.constOf(node, s);
    const dims = Array.from(target.data, Number);
    if (x0.kind === 'const') return { ...x0, shape: this.resolveShape(x0.shape, dims) };
    const x = this.toPlain(x0);
    let onnxDims = dims;
    let shape: number[];
    if (dims.filter((d) => d === -1).length > 1 && dims[0] === -1 && x.shape[0] === -1) {
      // symbolic batch folded from Shape(): copy dim 0 from the input (ONNX 0 = keep)
      onnxDims = [0, ...dims.slice(1)];
      const rest = this.resolveShape(x.shape.slice(1), dims.slice(1));
      shape = [-1, ...rest];
    } else {
      shape = this.resolveShape(x.shape, dims);
    }
    if (onnxDims.filter((d) => d === -1).length > 1) unsupported(node, 'more than one unknown dimension');
    const out = this.g.op('Reshape', [x.name, this.g.int64('shape', onnxDims)], {}, 'reshape');
    return this.tensor(out, shape, false);
  }

  private resolveShape(inShape: number[], dims: number[]): number[] {
    const unknownIn = inShape.some((d) => d < 0);
    const known = prod(inShape.filter((d) => d >= 0));
    const minus = dims.indexOf(-1);
    if (minus < 0) return dims;
    if (unknownIn) return dims; // the -1 is the symbolic batch
    const rest = prod(dims.filter((d, i) => i !== minus));
    return dims.map((d, i) => (i === minus ? known / rest : d));
  }

  private squeeze(node: TfNode): Val {
    const [x0] = this.inputs(node);
    if (!x0 || x0.kind !== 'tensor') unsupported(node);
    const x = this.toPlain(x0);
    let axes = listInts(node.attr?.squeeze_dims ?? node.attr?.axis).map((d) => (d < 0 ? d + x.shape.length : d));
    if (axes.length === 0) axes = x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
    const shape = x.shape.filter((_, i) => !axes.includes(i));
    return this.tensor(this.g.op('Squeeze', [x.name, this.g.int64('axes', axes)]), shape, false);
  }

  private concat(node: TfNode): Val {
    const ins = this.inputs(node);
    const axisVal = ins.pop();
    const axisC = this.constOf(node, axisVal);
    if (ins.every((v) => v.kind === 'const')) {
      if (ins.some((v) => v.shape.length !== 1)) unsupported(node, 'folding non-1-D constant concat');
      const data = ins.flatMap((v) => Array.from((v as ConstVal).data, Number));
      return { kind: 'const', dtype: (ins[0] as ConstVal).dtype, shape: [data.length], data };
    }
    if (ins.some((v) => v.kind === 'const')) unsupported(node, 'mixed constant/tensor concat');
    let ts = ins as TensorVal[];
    const rank = ts[0]?.shape.length ?? 0;
    let axis = Number(axisC.data[0]);
    if (axis < 0) axis += rank;
    const allNchw = ts.every((t) => t.nchw);
    if (!allNchw) ts = ts.map((t) => this.toPlain(t));
    const onnxAxis = allNchw ? NCHW_FROM_NHWC.indexOf(axis) : axis;
    const shape = [...(ts[0]?.shape ?? [])];
    shape[axis] = ts.reduce((acc, t) => acc + (t.shape[axis] ?? 0), 0);
    return this.tensor(
      this.g.op(
        'Concat',
        ts.map((t) => t.name),
        { axis: attrInt(onnxAxis) },
      ),
      shape,
      allNchw,
    );
  }

  private reduce(node: TfNode): Val {
    const [x0, ax] = this.inputs(node);
    if (!x0 || x0.kind !== 'tensor') unsupported(node);
    const keep = node.attr?.keep_dims?.b === true;
    const rank = x0.shape.length;
    const axes = Array.from(this.constOf(node, ax).data, (d) => (Number(d) < 0 ? Number(d) + rank : Number(d)));
    let x = x0;
    if (x.nchw && !keep) {
      // remaining dims must keep NHWC order after dropping reduced ones
      const rem = NCHW_FROM_NHWC.filter((d) => !axes.includes(d));
      if (rem.some((d, i) => i > 0 && d < (rem[i - 1] ?? 0))) x = this.toPlain(x);
    }
    const onnxAxes = x.nchw ? axes.map((d) => NCHW_FROM_NHWC.indexOf(d)) : axes;
    const shape = keep ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    const opName = { Mean: 'ReduceMean', Sum: 'ReduceSum', Max: 'ReduceMax' }[node.op as 'Mean' | 'Sum' | 'Max'];
    let out: string;
    if (opName === 'ReduceSum') out = this.g.op(opName, [x.name, this.g.int64('axes', onnxAxes)], { keepdims: attrInt(keep ? 1 : 0) });
    else out = this.g.op(opName, [x.name], { axes: attrInts(onnxAxes), keepdims: attrInt(keep ? 1 : 0) });
    return this.tensor(out, shape, x.nchw && keep);
  }

  private matmul(node: TfNode): Val {
    const a = node.attr ?? {};
    const ins = this.inputs(node);
    const x0 = ins[0];
    if (!x0 || x0.kind !== 'tensor') unsupported(node);
    const x = this.toPlain(x0);
    if (x.shape.length !== 2) unsupported(node, 'only rank-2 MatMul is supported');
    const w = this.constOf(node, ins[1]);
    const transA = a.transpose_a?.b === true ? 1 : 0;
    const transB = a.transpose_b?.b === true ? 1 : 0;
    const nOut = transB ? (w.shape[0] ?? 0) : (w.shape[1] ?? 0);
    const gemmIns = [x.name, this.g.addInitializer('fc_w', w.shape, Float32Array.from(w.data))];
    const fused = (a.fused_ops?.list?.s ?? []).map((s) => b64(s));
    if (fused[0] === 'BiasAdd') gemmIns.push(this.g.addInitializer('fc_b', [nOut], Float32Array.from(this.constOf(node, ins[2]).data)));
    else if (fused.length > 0) unsupported(node, `fused ops ${fused.join('+')}`);
    const y = this.tensor(
      this.g.op('Gemm', gemmIns, { transA: attrInt(transA), transB: attrInt(transB) }, 'gemm'),
      [x.shape[transA ? 1 : 0] ?? -1, nOut],
      false,
    );
    return this.activation(node, y, fused.slice(1), ins[3]);
  }

  private stridedSlice(node: TfNode): Val {
    const a = node.attr ?? {};
    const [x, b, e, s] = this.inputs(node);
    if (!x || x.kind !== 'const' || x.shape.length !== 1) unsupported(node, 'only 1-D constant StridedSlice is supported');
    const begin = Number(this.constOf(node, b).data[0]);
    const end = Number(this.constOf(node, e).data[0]);
    const stride = Number(this.constOf(node, s).data[0]);
    const masks = ['begin_mask', 'end_mask', 'ellipsis_mask', 'new_axis_mask', 'shrink_axis_mask'].map((k) => Number(a[k]?.i ?? 0));
    const [bm = 0, em = 0, elm = 0, nam = 0, sam = 0] = masks;
    if (elm || nam || stride !== 1) unsupported(node, 'ellipsis/new-axis/stride != 1');
    const len = x.data.length;
    const lo = bm & 1 ? 0 : begin < 0 ? begin + len : begin;
    const hi = em & 1 ? len : end < 0 ? end + len : end;
    const data = Array.from(x.data, Number).slice(lo, sam & 1 ? lo + 1 : hi);
    return { kind: 'const', dtype: x.dtype, shape: sam & 1 ? [] : [data.length], data };
  }
}

export interface ConvertedModel {
  /** The converted graph (build-time passes run on it before the shipped file is written). */
  graph: OnnxGraph;
  /** The graph as converted, encoded. */
  bytes: Uint8Array;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
}

export function convertTfjsGraph(model: TfjsModelJson, shard: (path: string) => Uint8Array, spec: ConvertSpec, graphName: string): ConvertedModel {
  return new TfjsGraphConverter(model, shard, spec, graphName).convert();
}

/**
 * TFLite graph → ONNX (float32 models). Covered: CONV_2D, DEPTHWISE_CONV_2D (SAME/VALID padding,
 * strides, dilations, fused NONE/RELU/RELU6), ADD, SUB, MUL (constant or tensor operands, fused
 * activation), ABS, RELU, RELU6, RESHAPE — what MobileFaceNet_TF needs; anything else throws
 * `unsupported op`. Layout as in tfjsGraph.ts: the ONNX input stays NHWC (named `input`), is
 * transposed once to NCHW, rank-4 activations are NCHW inside, constants are permuted to
 * broadcast correctly, and tensors go back to NHWC before a Reshape. The TFLite batch dimension
 * (fixed at export, e.g. 2) becomes a dynamic batch. TF's SAME padding becomes explicit pads
 * computed from the static spatial shapes.
 */
import { attrInt, attrInts, OnnxGraph } from './onnxBuilder.js';
import { TensorType } from './onnxProto.js';
import type { Activation, ConvOptions, TfliteModel, TfliteOperator, TfliteTensor } from './tflite.js';

export interface TfliteConvertOptions {
  inputName: string;
  outputName: string;
  graphName: string;
}

interface Value {
  /** ONNX tensor name */
  name: string;
  /** TFLite (NHWC) shape, batch included */
  shape: number[];
  /** rank-4 values are NCHW in the ONNX graph */
  nchw: boolean;
}

function samePads(inSize: number, k: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + (k - 1) * dilation + 1 - inSize, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}

/** OHWI (CONV_2D) or 1HWC (DEPTHWISE) → OIHW. */
function toOihw(w: Float32Array, shape: number[], depthwise: boolean): { data: Float32Array; dims: number[] } {
  const [a, kh, kw, b] = shape as [number, number, number, number];
  const [o, i] = depthwise ? [b, 1] : [a, b];
  const out = new Float32Array(o * i * kh * kw);
  for (let oc = 0; oc < o; oc++)
    for (let ic = 0; ic < i; ic++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++) {
          const src = depthwise ? (y * kw + x) * b + oc : ((oc * kh + y) * kw + x) * b + ic;
          out[((oc * i + ic) * kh + y) * kw + x] = w[src] ?? 0;
        }
  return { data: out, dims: [o, i, kh, kw] };
}

export function convertTflite(m: TfliteModel, o: TfliteConvertOptions): OnnxGraph {
  const g = new OnnxGraph(o.graphName);
  if (m.inputs.length !== 1 || m.outputs.length !== 1)
    throw new Error(`tflite: ${m.inputs.length} inputs / ${m.outputs.length} outputs; the converter takes one of each`);
  const values = new Map<number, Value>();
  const tensor = (i: number | undefined): TfliteTensor => {
    const t = i === undefined ? undefined : m.tensors[i];
    if (!t) throw new Error(`tflite: tensor index ${i} out of range`);
    return t;
  };
  const inT = tensor(m.inputs[0]);
  if (inT.shape.length !== 4) throw new Error(`tflite: input '${inT.name}' has shape [${inT.shape}], expected NHWC`);
  const batch = inT.shape[0]!;
  g.inputs = [{ name: o.inputName, type: TensorType.FLOAT, shape: [-1, ...inT.shape.slice(1)] }];
  values.set(inT.index, { name: g.op('Transpose', [o.inputName], { perm: attrInts([0, 3, 1, 2]) }, 'input_nchw'), shape: inT.shape, nchw: true });

  /** A graph value for an operand: an activation computed earlier or a constant laid out to broadcast against `like`. */
  const operand = (i: number, like: Value | null): Value => {
    const v = values.get(i);
    if (v) return v;
    const t = tensor(i);
    if (!(t.data instanceof Float32Array)) throw new Error(`tflite: tensor '${t.name}' is neither computed before use nor a float constant`);
    let dims = t.shape;
    let data = t.data;
    if (like?.nchw && dims.length >= 1 && dims.length <= 4) {
      // NHWC-broadcastable constant → NCHW-broadcastable: pad to rank 4, permute (N,H,W,C) → (N,C,H,W)
      const d4 = [...Array(4 - dims.length).fill(1), ...dims] as [number, number, number, number];
      const [n, h, w, c] = d4;
      const out = new Float32Array(data.length);
      for (let a = 0; a < n; a++)
        for (let y = 0; y < h; y++)
          for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) out[((a * c + ch) * h + y) * w + x] = data[((a * h + y) * w + x) * c + ch] ?? 0;
      data = out;
      dims = n === 1 && dims.length < 4 ? [c, h, w] : [n, c, h, w];
    }
    const name = g.addInitializer(t.name, dims, data);
    return { name, shape: t.shape, nchw: false };
  };

  const activation = (x: string, act: Activation | undefined, hint: string): string => {
    if (!act || act === 'NONE') return x;
    if (act === 'RELU') return g.op('Relu', [x], {}, `${hint}/relu`);
    if (act === 'RELU6')
      return g.op('Clip', [x, g.addInitializer('zero', [], Float32Array.of(0)), g.addInitializer('six', [], Float32Array.of(6))], {}, `${hint}/relu6`);
    throw new Error(`tflite: fused activation ${act} not supported (${hint})`);
  };

  const conv = (op: TfliteOperator, c: ConvOptions, depthwise: boolean): void => {
    const x = values.get(op.inputs[0]!);
    const w = tensor(op.inputs[1]);
    const out = tensor(op.outputs[0]);
    if (!x || !x.nchw) throw new Error(`tflite: ${op.op} (operator ${op.index}) input is not a computed NHWC activation`);
    if (!(w.data instanceof Float32Array)) throw new Error(`tflite: ${op.op} (operator ${op.index}) filter '${w.name}' is not a float constant`);
    const kh = w.shape[1]!,
      kw = w.shape[2]!;
    const cin = x.shape[3]!;
    if (depthwise && w.shape[3] !== cin * (c.depthMultiplier ?? 1))
      throw new Error(`tflite: depthwise filter '${w.name}' has ${w.shape[3]} channels for ${cin} inputs × multiplier ${c.depthMultiplier}`);
    const { data, dims } = toOihw(w.data, w.shape, depthwise);
    const inputs = [x.name, g.addInitializer(w.name, dims, data)];
    const b = op.inputs[2] !== undefined && op.inputs[2] >= 0 ? tensor(op.inputs[2]) : null;
    if (b) {
      if (!(b.data instanceof Float32Array)) throw new Error(`tflite: bias '${b.name}' is not a float constant`);
      inputs.push(g.addInitializer(b.name, [b.data.length], b.data));
    }
    const pads =
      c.padding === 'VALID'
        ? [0, 0, 0, 0]
        : (() => {
            const [t, bo] = samePads(x.shape[1]!, kh, c.strideH, c.dilationH);
            const [l, r] = samePads(x.shape[2]!, kw, c.strideW, c.dilationW);
            return [t, l, bo, r];
          })();
    const attrs = {
      kernel_shape: attrInts([kh, kw]),
      strides: attrInts([c.strideH, c.strideW]),
      dilations: attrInts([c.dilationH, c.dilationW]),
      pads: attrInts(pads),
      group: attrInt(depthwise ? cin : 1),
    };
    const y = g.opNamed('Conv', inputs, out.name, attrs);
    values.set(out.index, { name: activation(y, c.activation, out.name), shape: out.shape, nchw: true });
  };

  for (const op of m.operators) {
    const out = tensor(op.outputs[0]);
    switch (op.op) {
      case 'CONV_2D':
      case 'DEPTHWISE_CONV_2D':
        conv(op, op.conv!, op.op === 'DEPTHWISE_CONV_2D');
        break;
      case 'ADD':
      case 'SUB':
      case 'MUL': {
        const known = op.inputs.map((i) => values.get(i)).find((v) => v) ?? null;
        if (!known) throw new Error(`tflite: ${op.op} (operator ${op.index}) has only constant operands`);
        const [a, b] = op.inputs.map((i) => operand(i, known)) as [Value, Value];
        const onnxOp = op.op === 'ADD' ? 'Add' : op.op === 'SUB' ? 'Sub' : 'Mul';
        const y = g.opNamed(onnxOp, [a.name, b.name], out.name);
        values.set(out.index, { name: activation(y, op.activation, out.name), shape: out.shape, nchw: known.nchw && out.shape.length === 4 });
        break;
      }
      case 'ABS':
      case 'RELU':
      case 'RELU6': {
        const x = values.get(op.inputs[0]!);
        if (!x) throw new Error(`tflite: ${op.op} (operator ${op.index}) input is not computed`);
        const y = op.op === 'RELU6' ? activation(x.name, 'RELU6', out.name) : g.opNamed(op.op === 'ABS' ? 'Abs' : 'Relu', [x.name], out.name);
        values.set(out.index, { name: y, shape: out.shape, nchw: x.nchw });
        break;
      }
      case 'RESHAPE': {
        const x = values.get(op.inputs[0]!);
        if (!x) throw new Error(`tflite: RESHAPE (operator ${op.index}) input is not computed`);
        const shapeT = op.inputs[1] !== undefined && op.inputs[1] >= 0 ? tensor(op.inputs[1]) : null;
        const target = shapeT?.data ? Array.from(shapeT.data) : (op.newShape ?? out.shape);
        // the exported batch becomes dynamic
        const dims = target.map((d, k) => (k === 0 && d === batch ? -1 : d));
        const src = x.nchw ? g.op('Transpose', [x.name], { perm: attrInts([0, 2, 3, 1]) }, `${out.name}/nhwc`) : x.name;
        const y = g.opNamed('Reshape', [src, g.int64(`${out.name}/shape`, dims)], out.name);
        values.set(out.index, { name: y, shape: out.shape, nchw: false });
        break;
      }
      default:
        throw new Error(`tflite: unsupported op '${op.op}' (operator ${op.index})`);
    }
  }
  const outT = tensor(m.outputs[0]);
  const last = values.get(outT.index);
  if (!last) throw new Error(`tflite: output '${outT.name}' is never computed`);
  const fin = last.nchw ? g.op('Transpose', [last.name], { perm: attrInts([0, 2, 3, 1]) }, 'output_nhwc') : last.name;
  g.nodes.push({ opType: 'Identity', name: `n_${o.outputName}`, inputs: [fin], outputs: [o.outputName], attrs: {} });
  g.outputs = [{ name: o.outputName, type: TensorType.FLOAT, shape: [-1, ...outT.shape.slice(1)] }];
  return g;
}

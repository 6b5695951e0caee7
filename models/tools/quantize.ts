/**
 * Static INT8 quantizer producing QDQ graphs (QuantizeLinear/DequantizeLinear pairs) that
 * onnxruntime fuses into integer kernels (QLinearConv):
 *   - Conv weights: int8, symmetric, per output channel (axis 0), zero point 0, range [-127, 127]
 *   - Conv bias: int32, scale = input_scale * weight_scale[c]
 *   - activations: uint8, asymmetric, per tensor, ranges from a calibration table
 * Activation Q/DQ is placed on every Conv input and on every Conv output (after its Relu when
 * the Conv feeds only a Relu, so ORT can drop the Relu into the uint8 range). One Q per tensor,
 * one DQ per consumer, as ORT's QDQ selectors expect. Gemm (the 256x128 head) stays FP32.
 * All arithmetic is plain IEEE double -> float32 rounding, so the output is deterministic.
 */
import { attrInt, attrInts, FLT_MIN, ftz, OnnxGraph } from './onnxBuilder.js';
import { TensorType } from './onnxProto.js';
import { addRatioScales } from './qlinearAdd.js';

export interface CalibrationTable {
  model: string;
  method: string;
  images: number;
  /** tensor name -> [min, max] */
  ranges: Record<string, [number, number]>;
}

export interface QuantizeOptions {
  /** Conv node names left in FP32 (e.g. the embedding head, where rounding costs the most accuracy for the least compute). */
  keepFp32?: readonly string[];
}

/** The Conv nodes that are quantised: every Conv with constant weights not kept in FP32. */
function quantizedConvs(g: OnnxGraph, o: QuantizeOptions): Set<OnnxGraph['nodes'][number]> {
  const keep = new Set(o.keepFp32 ?? []);
  return new Set(g.nodes.filter((n) => n.opType === 'Conv' && isInit(g, n.inputs[1]) && !keep.has(n.name)));
}

/** The names of the last `k` Conv nodes of the graph (in graph order). */
export function lastConvs(g: OnnxGraph, k: number): string[] {
  return k > 0
    ? g.nodes
        .filter((n) => n.opType === 'Conv')
        .slice(-k)
        .map((n) => n.name)
    : [];
}

/** Names of the activation tensors the quantizer needs ranges for, in graph order. */
export function quantizableTensors(g: OnnxGraph, o: QuantizeOptions = {}): string[] {
  const consumers = consumerMap(g);
  const convs = quantizedConvs(g, o);
  const out: string[] = [];
  const add = (t: string) => {
    if (!out.includes(t)) out.push(t);
  };
  for (const n of g.nodes) {
    if (!convs.has(n)) continue;
    add(n.inputs[0] ?? '');
    const y = n.outputs[0] ?? '';
    const cs = consumers.get(y) ?? [];
    const only = cs.length === 1 ? cs[0] : undefined;
    add(only && only.opType === 'Relu' ? (only.outputs[0] ?? y) : y);
  }
  return out;
}

function isInit(g: OnnxGraph, name: string | undefined): boolean {
  return name !== undefined && g.initializers.has(name);
}

function consumerMap(g: OnnxGraph): Map<string, OnnxGraph['nodes']> {
  const m = new Map<string, OnnxGraph['nodes']>();
  for (const n of g.nodes) {
    for (const i of n.inputs) {
      const list = m.get(i) ?? [];
      list.push(n);
      m.set(i, list);
    }
  }
  return m;
}

/** A copy of the graph that also outputs every quantizable tensor (for calibration runs). */
export function withCalibrationOutputs(g: OnnxGraph, o: QuantizeOptions = {}): { graph: OnnxGraph; tensors: string[] } {
  const tensors = quantizableTensors(g, o);
  const copy = Object.assign(new OnnxGraph(g.name), g);
  copy.nodes = [...g.nodes];
  copy.outputs = [...g.outputs, ...tensors.map((t) => ({ name: t, type: TensorType.FLOAT, shape: null }))];
  return { graph: copy, tensors };
}

function uint8Params(lo: number, hi: number): { scale: number; zp: number } {
  const min = Math.min(0, lo);
  const max = Math.max(0, hi);
  const scale = Math.fround(max > min ? (max - min) / 255 : 1);
  return { scale, zp: zeroPoint(lo, scale) };
}

/** The uint8 zero point of range [lo, …] at `scale` (0 in range, as uint8Params). */
function zeroPoint(lo: number, scale: number): number {
  return Math.max(0, Math.min(255, Math.round(-Math.min(0, lo) / scale)));
}

/** Rewrite a FP32 graph (in place) into QDQ INT8 form using the calibration table. */
export function quantizeGraph(g: OnnxGraph, table: CalibrationTable, o: QuantizeOptions = {}): OnnxGraph {
  const tensors = quantizableTensors(g, o);
  const convs = quantizedConvs(g, o);
  const consumers = consumerMap(g);
  const actParams = new Map<string, { scale: string; zp: string; s: number }>();
  for (const t of tensors) {
    const r = table.ranges[t];
    if (!r) throw new Error(`calibration table ${table.model} has no range for tensor '${t}' (re-run: npm run models -- --calibrate DIR)`);
    const { scale, zp } = uint8Params(r[0], r[1]);
    actParams.set(t, {
      scale: g.addInitializer(`${t}/q_scale`, [], Float32Array.of(scale)),
      zp: g.addInitializer(`${t}/q_zp`, [], Uint8Array.of(zp)),
      s: scale,
    });
  }

  const newNodes: OnnxGraph['nodes'] = [];
  const rename = new Map<string, Map<OnnxGraph['nodes'][number], string>>();
  // Q after the producer (or at graph start for graph inputs), DQ per consumer.
  const emitQdq = (t: string, after: OnnxGraph['nodes']) => {
    const p = actParams.get(t);
    if (!p) return;
    const q = g.fresh(`${t}/q`);
    after.push({ opType: 'QuantizeLinear', name: `n_${q}`, inputs: [t, p.scale, p.zp], outputs: [q], attrs: {} });
    const perConsumer = new Map<OnnxGraph['nodes'][number], string>();
    for (const c of consumers.get(t) ?? []) {
      const dq = g.fresh(`${t}/dq`);
      after.push({ opType: 'DequantizeLinear', name: `n_${dq}`, inputs: [q, p.scale, p.zp], outputs: [dq], attrs: {} });
      perConsumer.set(c, dq);
    }
    rename.set(t, perConsumer);
  };
  for (const i of g.inputs) emitQdq(i.name, newNodes);
  for (const n of g.nodes) {
    const inputs = n.inputs.map((i) => rename.get(i)?.get(n) ?? i);
    const node = { ...n, inputs };
    if (convs.has(n)) quantizeConvWeights(g, node, actParams.get(n.inputs[0] ?? '')?.s, newNodes);
    newNodes.push(node);
    for (const o of n.outputs) emitQdq(o, newNodes);
  }
  g.nodes = newNodes;
  return g;
}

/** Symmetric per-output-channel int8 weights (±127) and their scales, for a [cout, …] weight tensor. */
function perChannelInt8(w: Float32Array, cout: number): { q: Int8Array; scales: Float32Array } {
  const per = w.length / cout;
  const q = new Int8Array(w.length);
  const scales = new Float32Array(cout);
  for (let c = 0; c < cout; c++) {
    let m = 0;
    for (let i = 0; i < per; i++) m = Math.max(m, Math.abs(ftz(w[c * per + i] ?? 0)));
    // a channel of (near-)zero weights: scale 1, all zero (no subnormal scale; see ftz)
    const s = Math.fround(m / 127 >= 1e-30 ? m / 127 : 1);
    scales[c] = s;
    for (let i = 0; i < per; i++) q[c * per + i] = Math.max(-127, Math.min(127, Math.round(ftz(w[c * per + i] ?? 0) / s)));
  }
  return { q, scales };
}

function quantizeConvWeights(g: OnnxGraph, node: OnnxGraph['nodes'][number], inScale: number | undefined, out: OnnxGraph['nodes']): void {
  const wInit = g.initializers.get(node.inputs[1] ?? '');
  if (!wInit || !(wInit.data instanceof Float32Array)) throw new Error(`quantize: conv ${node.name} weight is not a float initializer`);
  if (inScale === undefined) throw new Error(`quantize: conv ${node.name} input has no activation range`);
  const cout = wInit.dims[0] ?? 0;
  const { q, scales } = perChannelInt8(wInit.data, cout);
  const qName = g.addInitializer(`${wInit.name}/int8`, wInit.dims, q);
  const sName = g.addInitializer(`${wInit.name}/scale`, [cout], scales);
  const zName = g.addInitializer(`${wInit.name}/zp`, [cout], new Int8Array(cout));
  const wDq = g.fresh(`${wInit.name}/dq`);
  out.push({ opType: 'DequantizeLinear', name: `n_${wDq}`, inputs: [qName, sName, zName], outputs: [wDq], attrs: { axis: attrInt(0) } });
  node.inputs[1] = wDq;
  const bInit = g.initializers.get(node.inputs[2] ?? '');
  if (bInit && bInit.data instanceof Float32Array) {
    const bq = new Int32Array(cout);
    const bs = new Float32Array(cout);
    for (let c = 0; c < cout; c++) {
      const s = Math.fround(inScale * (scales[c] ?? 1));
      bs[c] = s;
      bq[c] = Math.round(ftz(bInit.data[c] ?? 0) / s);
    }
    const bqName = g.addInitializer(`${bInit.name}/int32`, [cout], bq);
    const bsName = g.addInitializer(`${bInit.name}/scale`, [cout], bs);
    const bzName = g.addInitializer(`${bInit.name}/zp`, [cout], new Int32Array(cout));
    const bDq = g.fresh(`${bInit.name}/dq`);
    out.push({ opType: 'DequantizeLinear', name: `n_${bDq}`, inputs: [bqName, bsName, bzName], outputs: [bDq], attrs: { axis: attrInt(0) } });
    node.inputs[2] = bDq;
  }
}

/** uint8 tensor of the integer graph: its name and the initializers of its scale / zero point. */
interface QTensor {
  name: string;
  scale: string;
  zp: string;
  s: number;
}

/** Per-channel symmetric int8 weights (as quantizeConvWeights) and, with a bias, int32 bias at scale inScale·w_scale[c]. */
function int8ConvWeights(g: OnnxGraph, node: OnnxGraph['nodes'][number], inScale: number): { w: string; wScale: string; wZp: string; bias?: string } {
  const wInit = g.initializers.get(node.inputs[1] ?? '');
  if (!wInit || !(wInit.data instanceof Float32Array)) throw new Error(`quantize: conv ${node.name} weight is not a float initializer`);
  const cout = wInit.dims[0] ?? 0;
  const { q, scales } = perChannelInt8(wInit.data, cout);
  const out = {
    w: g.addInitializer(`${wInit.name}/int8`, wInit.dims, q),
    wScale: g.addInitializer(`${wInit.name}/scale`, [cout], scales),
    wZp: g.addInitializer(`${wInit.name}/zp`, [cout], new Int8Array(cout)),
  };
  const bInit = g.initializers.get(node.inputs[2] ?? '');
  if (!bInit) return out;
  if (!(bInit.data instanceof Float32Array)) throw new Error(`quantize: conv ${node.name} bias is not a float initializer`);
  const bq = new Int32Array(cout);
  for (let c = 0; c < cout; c++) bq[c] = Math.round(ftz(bInit.data[c] ?? 0) / Math.fround(inScale * (scales[c] ?? 1)));
  return { ...out, bias: g.addInitializer(`${bInit.name}/int32`, [cout], bq) };
}

/**
 * Rewrite a FP32 graph (in place) into onnxruntime's integer operator form (QOperator), for
 * graphs whose activations between convolutions are PReLUs that the QDQ form leaves in float:
 *   - Conv (constant weights) → QLinearConv: uint8 activations, per-channel int8 weights, int32
 *     bias; a Conv whose only consumer is Relu writes the Relu's range (the uint8 clamp is the Relu)
 *   - PReLU in its Max form (`Max(x, Mul(x, s))`, every slope ≤ 1, see rewritePrelu and
 *     foldPreluSlopesAboveOne) on a uint8 x → uint8 `Max(x, s·x)`, s·x a depthwise 1×1
 *     QLinearConv (weight ±127 at scale |s[c]|/127: every slope exact) writing x's quantisation;
 *     the Conv before it gets the hull of its own and the PReLU output's calibrated ranges, so
 *     x, s·x and the PReLU output share one scale and zero point. (com.microsoft QLinearMul with
 *     uint8 slopes measured slower: 0.8 vs 0.7 ms over the 32 PReLUs of MobileFaceNet-512.)
 *   - Add of two uint8 tensors with a calibrated output → com.microsoft QLinearAdd; when one input
 *     is a QLinearConv output only the Add reads (the residual branch), that conv's output scale
 *     and the Add's are moved up (ranges still covered) so both scale ratios are k/255
 *     (addRatioScales): x86-64's float and arm64's fixed-point kernels then both give the
 *     exactly rounded sum on every input pair (qlinearAdd.ts), so the file computes the same
 *     bytes on both platforms
 *   - MaxPool of a uint8 tensor → the same MaxPool on the uint8 codes (x's scale and zero point;
 *     reluBeforeMaxPool puts a Conv's Relu before its pool, so Conv → Relu → MaxPool → Conv stays integer)
 *   - anything else runs in float: DequantizeLinear before it (writing the tensor's own name),
 *     QuantizeLinear after it where an integer op needs the result.
 * Ranges come from the same calibration table as the QDQ form (conv inputs and outputs).
 */
export function quantizeGraphQOperator(g: OnnxGraph, table: CalibrationTable, o: QuantizeOptions = {}): OnnxGraph {
  const convs = quantizedConvs(g, o);
  const consumers = consumerMap(g);
  const range = (t: string): [number, number] | undefined => table.ranges[t];
  const needRange = (t: string): [number, number] => {
    const r = range(t);
    if (!r) throw new Error(`calibration table ${table.model} has no range for tensor '${t}' (re-run: npm run models -- --calibrate DIR)`);
    return r;
  };
  const outputs = new Set(g.outputs.map((v) => v.name));
  const only = (t: string) => {
    const cs = consumers.get(t) ?? [];
    return cs.length === 1 && !outputs.has(t) ? cs[0] : undefined;
  };
  const constOf = (name: string | undefined): Float32Array | null => {
    const i = name === undefined ? undefined : g.initializers.get(name);
    return i && i.data instanceof Float32Array ? i.data : null;
  };
  // PReLU Max form: Max node → { x, slope initializer name, Mul node }
  const preluMax = new Map<OnnxGraph['nodes'][number], { x: string; slope: string; mul: OnnxGraph['nodes'][number] }>();
  const byOutput = new Map<string, OnnxGraph['nodes'][number]>();
  for (const n of g.nodes) for (const t of n.outputs) byOutput.set(t, n);
  for (const n of g.nodes) {
    if (n.opType !== 'Max' || n.inputs.length !== 2 || n.domain) continue;
    for (const [xi, mi] of [
      [0, 1],
      [1, 0],
    ] as const) {
      const x = n.inputs[xi] ?? '';
      const mul = byOutput.get(n.inputs[mi] ?? '');
      if (mul?.opType !== 'Mul' || only(mul.outputs[0] ?? '') !== n) continue;
      const si = mul.inputs[0] === x ? 1 : mul.inputs[1] === x ? 0 : -1;
      const s = si < 0 ? null : constOf(mul.inputs[si]);
      if (!s || !s.every((v) => v <= 1)) continue;
      preluMax.set(n, { x, slope: mul.inputs[si] ?? '', mul });
      break;
    }
  }
  const preluMuls = new Set([...preluMax.values()].map((p) => p.mul));
  const preluOf = (t: string) => {
    const cs = consumers.get(t) ?? [];
    if (cs.length !== 2 || outputs.has(t)) return undefined;
    const max = cs.find((c) => preluMax.get(c)?.x === t);
    return max && cs.includes(preluMax.get(max)!.mul) ? max : undefined;
  };

  const q = new Map<string, QTensor>();
  // uint8 outputs of QLinearConvs (with the range their scale was made from): free to re-scale
  const convOut = new Map<string, [number, number]>();
  const skipped = new Set<OnnxGraph['nodes'][number]>();
  const float = new Set<string>(g.inputs.map((i) => i.name));
  const out: OnnxGraph['nodes'] = [];
  const params = (t: string, r: [number, number]): QTensor => {
    const { scale, zp } = uint8Params(r[0], r[1]);
    return {
      name: g.fresh(`${t}/u8`),
      scale: g.addInitializer(`${t}/q_scale`, [], Float32Array.of(scale)),
      zp: g.addInitializer(`${t}/q_zp`, [], Uint8Array.of(zp)),
      s: scale,
    };
  };
  const getQ = (t: string): QTensor => {
    const have = q.get(t);
    if (have) return have;
    if (!float.has(t)) throw new Error(`quantize: tensor '${t}' is neither computed in float nor in uint8`);
    const p = params(t, needRange(t));
    out.push({ opType: 'QuantizeLinear', name: `n_${p.name}`, inputs: [t, p.scale, p.zp], outputs: [p.name], attrs: {} });
    q.set(t, p);
    return p;
  };
  const getF = (t: string): string => {
    if (float.has(t) || g.initializers.has(t) || t === '') return t;
    const p = q.get(t);
    if (!p) throw new Error(`quantize: tensor '${t}' is not computed`);
    out.push({ opType: 'DequantizeLinear', name: `n_${t}/dq`, inputs: [p.name, p.scale, p.zp], outputs: [t], attrs: {} });
    float.add(t);
    return t;
  };
  const canQ = (t: string) => q.has(t) || (float.has(t) && range(t) !== undefined);

  for (const n of g.nodes) {
    if (preluMuls.has(n)) continue; // emitted with its Max
    const x0 = n.inputs[0] ?? '';
    if (convs.has(n) && canQ(x0)) {
      const xq = getQ(x0);
      let y = n.outputs[0] ?? '';
      const relu = only(y);
      let r: [number, number];
      if (relu?.opType === 'Relu' && range(relu.outputs[0] ?? '')) {
        y = relu.outputs[0] ?? '';
        r = needRange(y);
        skipped.add(relu); // the uint8 clamp at zero point 0 is the Relu
      } else {
        r = needRange(y);
        const max = preluOf(y);
        const pr = max && range(max.outputs[0] ?? '');
        if (pr) r = [Math.min(r[0], pr[0]), Math.max(r[1], pr[1])];
      }
      const yq = params(y, r);
      const w = int8ConvWeights(g, n, xq.s);
      out.push({
        opType: 'QLinearConv',
        name: n.name,
        inputs: [xq.name, xq.scale, xq.zp, w.w, w.wScale, w.wZp, yq.scale, yq.zp, ...(w.bias ? [w.bias] : [])],
        outputs: [yq.name],
        attrs: n.attrs,
      });
      q.set(y, yq);
      convOut.set(y, r);
      continue;
    }
    if (skipped.has(n)) continue;
    const pm = preluMax.get(n);
    if (pm && q.has(pm.x)) {
      const xq = q.get(pm.x)!;
      const slope = g.initializers.get(pm.slope)!;
      const sv = slope.data as Float32Array;
      const scaled = g.fresh(`${pm.mul.outputs[0] ?? ''}/u8`);
      // s·x as a depthwise 1×1 QLinearConv: weight ±127 at scale |s[c]|/127 carries every slope exactly
      const c = sv.length;
      const w = new Int8Array(c);
      const ws = new Float32Array(c);
      for (let i = 0; i < c; i++) {
        // a slope so small that |s|/127 is a float32 subnormal (1e-36 occurs) is 0: no scale may depend on the denormal mode
        const v = Math.abs(sv[i] ?? 0) / 127 < FLT_MIN ? 0 : (sv[i] ?? 0);
        w[i] = v > 0 ? 127 : v < 0 ? -127 : 0;
        ws[i] = v !== 0 ? Math.fround(Math.abs(v) / 127) : 1;
      }
      out.push({
        opType: 'QLinearConv',
        name: pm.mul.name,
        inputs: [
          xq.name,
          xq.scale,
          xq.zp,
          g.addInitializer(`${slope.name}/int8`, [c, 1, 1, 1], w),
          g.addInitializer(`${slope.name}/scale`, [c], ws),
          g.addInitializer(`${slope.name}/zp`, [c], new Int8Array(c)),
          xq.scale,
          xq.zp,
        ],
        outputs: [scaled],
        attrs: { group: attrInt(c), kernel_shape: attrInts([1, 1]) },
      });
      const y = n.outputs[0] ?? '';
      const yq: QTensor = { ...xq, name: g.fresh(`${y}/u8`) };
      out.push({ opType: 'Max', name: n.name, inputs: [xq.name, scaled], outputs: [yq.name], attrs: {} });
      q.set(y, yq);
      continue;
    }
    const y0 = n.outputs[0] ?? '';
    if (n.opType === 'MaxPool' && !n.domain && n.outputs.length === 1 && q.has(x0) && g.opset >= 12) {
      // a maximum commutes with the (increasing) dequantisation: the pool runs on the uint8 codes
      // and its output keeps x's scale and zero point (uint8 MaxPool: opset 12)
      const yq: QTensor = { ...q.get(x0)!, name: g.fresh(`${y0}/u8`) };
      out.push({ ...n, inputs: [q.get(x0)!.name], outputs: [yq.name] });
      q.set(y0, yq);
      continue;
    }
    if (n.opType === 'Add' && !n.domain && n.inputs.length === 2 && n.inputs.every((i) => q.has(i)) && range(y0)) {
      const [a, b] = [q.get(n.inputs[0] ?? '')!, q.get(n.inputs[1] ?? '')!];
      const ry = needRange(y0);
      const yq = params(y0, ry);
      // the residual branch: a conv output only this Add reads (b, or else a), its scale is free
      const freeIdx = [1, 0].find((i) => {
        const t = n.inputs[i] ?? '';
        return convOut.has(t) && only(t) === n && n.inputs[0] !== n.inputs[1];
      });
      if (freeIdx !== undefined) {
        const free = freeIdx === 1 ? b : a;
        const fixed = freeIdx === 1 ? a : b;
        const chosen = addRatioScales(fixed.s, free.s, yq.s);
        if (chosen) {
          const set = (t: QTensor, s: number, zp: number) => {
            g.initializers.get(t.scale)!.data = Float32Array.of(s);
            g.initializers.get(t.zp)!.data = Uint8Array.of(zp);
            t.s = s;
          };
          set(free, chosen.sb, zeroPoint((convOut.get(n.inputs[freeIdx] ?? '') ?? [0, 0])[0], chosen.sb));
          set(yq, chosen.sc, zeroPoint(ry[0], chosen.sc));
        }
      }
      out.push({
        opType: 'QLinearAdd',
        domain: 'com.microsoft',
        name: n.name,
        inputs: [a.name, a.scale, a.zp, b.name, b.scale, b.zp, yq.scale, yq.zp],
        outputs: [yq.name],
        attrs: {},
      });
      q.set(y0, yq);
      continue;
    }
    // float node (including a PReLU Max form whose input is float: its Mul is emitted here)
    if (pm) {
      out.push({ ...pm.mul, inputs: pm.mul.inputs.map(getF) });
      for (const t of pm.mul.outputs) float.add(t);
    }
    out.push({ ...n, inputs: n.inputs.map(getF) });
    for (const t of n.outputs) float.add(t);
  }
  for (const v of g.outputs) getF(v.name);
  g.nodes = out;
  return g;
}

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
import { attrInt, ftz, OnnxGraph } from './onnxBuilder.js';
import { TensorType } from './onnxProto.js';

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
  const zp = Math.max(0, Math.min(255, Math.round(-min / scale)));
  return { scale, zp };
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

function quantizeConvWeights(g: OnnxGraph, node: OnnxGraph['nodes'][number], inScale: number | undefined, out: OnnxGraph['nodes']): void {
  const wInit = g.initializers.get(node.inputs[1] ?? '');
  if (!wInit || !(wInit.data instanceof Float32Array)) throw new Error(`quantize: conv ${node.name} weight is not a float initializer`);
  if (inScale === undefined) throw new Error(`quantize: conv ${node.name} input has no activation range`);
  const cout = wInit.dims[0] ?? 0;
  const per = wInit.data.length / cout;
  const q = new Int8Array(wInit.data.length);
  const scales = new Float32Array(cout);
  for (let c = 0; c < cout; c++) {
    let m = 0;
    for (let i = 0; i < per; i++) m = Math.max(m, Math.abs(ftz(wInit.data[c * per + i] ?? 0)));
    // a channel of (near-)zero weights: scale 1, all zero (no subnormal scale; see ftz)
    const s = Math.fround(m / 127 >= 1e-30 ? m / 127 : 1);
    scales[c] = s;
    for (let i = 0; i < per; i++) q[c * per + i] = Math.max(-127, Math.min(127, Math.round(ftz(wInit.data[c * per + i] ?? 0) / s)));
  }
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

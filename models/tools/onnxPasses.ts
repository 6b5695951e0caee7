/**
 * Build-time graph rewrites, applied once by `npm run models` so the committed files are
 * already in their fast form and the daemon loads them as they are:
 *
 *   - fuseTfPrelu: TensorFlow's PReLU idiom `relu(x) + c·(x − |x|)` (c = α/2, as TFLite files
 *     carry it) → PRelu(x, 2c). (x − |x|) is 2·min(x, 0) exactly and c·2 is exact, so the fused
 *     node computes the same float products.
 *   - rewritePrelu: onnxruntime's CPU PRelu kernel is branchy and slow (FaceMesh, 28 PRelu nodes:
 *     2.3 ms of a 3.3 ms run on real crops), while Mul/Max/Relu/Sub/Add are vectorised
 *     element-wise kernels. Slopes all in [0, 1]: Max(x, s·x) (x ≥ 0 → x; x < 0 → s·x ≥ x), two
 *     nodes. Any other constant slope (trained PReLUs have negative ones): Relu(x) + s·(x − Relu(x)),
 *     where x − Relu(x) is exactly min(x, 0). Both are bit-identical to PRelu.
 *     The 'nchwc' form (FP32 graphs whose catalog entry asks for it): x + (1 − s)·Relu(−x), with
 *     −x and (1 − s)· as depthwise 1×1 Convs (the Relu fuses into the first, the Add into the
 *     second). onnxruntime runs Convs in its blocked NCHWc layout but Mul/Max/Sub in plain NCHW,
 *     so the element-wise forms pay a layout reorder on each side of every PReLU (18 % of
 *     FaceMesh's kernel time): FaceMesh 2.32–2.37 → 1.87–1.95 ms per run (1 thread). Not
 *     bit-identical (the surrounding Convs change kernels too): FaceMesh's mesh moved by at most
 *     3e-5 px on 44 real crops. MiniFASNet measured no faster; the INT8 quantizer needs the Max form.
 *   - foldPreluSlopesAboveOne and reluBeforeMaxPool (INT8 integer-operator entries only): reorder
 *     and rescale so the quantizer keeps more of the graph in uint8 (each function's comment).
 *   - upgradeOpset: lifts an imported graph to the toolchain's opset when every op it uses has the
 *     same semantics there (needed for per-channel QDQ, opset ≥ 13).
 */
import { attrInt, attrInts, ftz, type OnnxGraph } from './onnxBuilder.js';
import type { NodeDef } from './onnxProto.js';

type Node = NodeDef;

function consumers(g: OnnxGraph): Map<string, Node[]> {
  const m = new Map<string, Node[]>();
  for (const n of g.nodes)
    for (const i of n.inputs) {
      const l = m.get(i) ?? [];
      l.push(n);
      m.set(i, l);
    }
  return m;
}

function producers(g: OnnxGraph): Map<string, Node> {
  const m = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) m.set(o, n);
  return m;
}

function floatInit(g: OnnxGraph, name: string | undefined): Float32Array | null {
  const i = name === undefined ? undefined : g.initializers.get(name);
  return i && i.data instanceof Float32Array ? i.data : null;
}

const graphOutputs = (g: OnnxGraph): Set<string> => new Set(g.outputs.map((o) => o.name));

/** Fuses `Add(Relu(x), Mul(c, Sub(x, Abs(x))))` (operands in either order) into PRelu(x, 2c). Returns the count. */
export function fuseTfPrelu(g: OnnxGraph): number {
  const prod = producers(g);
  const cons = consumers(g);
  const outs = graphOutputs(g);
  const drop = new Set<Node>();
  const replace = new Map<Node, Node>();
  const only = (t: string, n: Node): boolean => (cons.get(t) ?? []).length === 1 && (cons.get(t) ?? [])[0] === n && !outs.has(t);
  for (const add of g.nodes) {
    if (add.opType !== 'Add' || add.inputs.length !== 2) continue;
    for (const [ri, mi] of [
      [0, 1],
      [1, 0],
    ] as const) {
      const relu = prod.get(add.inputs[ri] ?? '');
      const mul = prod.get(add.inputs[mi] ?? '');
      if (relu?.opType !== 'Relu' || mul?.opType !== 'Mul') continue;
      const x = relu.inputs[0] ?? '';
      const ci = floatInit(g, mul.inputs[0]) ? 0 : floatInit(g, mul.inputs[1]) ? 1 : -1;
      if (ci < 0) continue;
      const c = floatInit(g, mul.inputs[ci]);
      const sub = prod.get(mul.inputs[1 - ci] ?? '');
      if (!c || sub?.opType !== 'Sub' || sub.inputs[0] !== x) continue;
      const abs = prod.get(sub.inputs[1] ?? '');
      if (abs?.opType !== 'Abs' || abs.inputs[0] !== x) continue;
      if (!only(relu.outputs[0]!, add) || !only(mul.outputs[0]!, add) || !only(sub.outputs[0]!, mul) || !only(abs.outputs[0]!, sub)) continue;
      const cInit = g.initializers.get(mul.inputs[ci]!)!;
      const slope = g.addInitializer(
        `${cInit.name}/prelu_slope`,
        cInit.dims,
        Float32Array.from(c, (v) => v * 2),
      );
      for (const n of [relu, mul, sub, abs]) drop.add(n);
      replace.set(add, { opType: 'PRelu', name: add.name, inputs: [x, slope], outputs: [...add.outputs], attrs: {} });
      break;
    }
  }
  g.nodes = g.nodes.filter((n) => !drop.has(n)).map((n) => replace.get(n) ?? n);
  return replace.size;
}

export interface PreluReport {
  /** PRelu → Mul + Max (every slope in [0, 1]). */
  max: number;
  /** PRelu → x + DWConv(Relu(DWConv(x, −1)), 1 − s) (form 'nchwc'). */
  conv: number;
  /** PRelu → Relu/Sub/Mul/Add (some slope outside [0, 1]). */
  general: number;
  /** PRelu left alone (slope not a constant). */
  kept: number;
}

/** Channel count of a per-channel slope shaped for NCHW ([C,1,1] or [1,C,1,1]), else null. */
function nchwChannels(dims: readonly number[]): number | null {
  const d = [...dims];
  while (d.length > 3 && d[0] === 1) d.shift();
  return d.length === 3 && d[1] === 1 && d[2] === 1 ? d[0]! : null;
}

/**
 * Rewrites every PRelu with a constant slope (see the file comment): 'elementwise' (default)
 * into Mul/Max or Relu/Sub/Mul/Add, 'nchwc' into two depthwise 1×1 Convs where the slope is
 * per channel of an NCHW tensor (else the element-wise form).
 */
export function rewritePrelu(g: OnnxGraph, form: 'elementwise' | 'nchwc' = 'elementwise'): PreluReport {
  const report: PreluReport = { max: 0, conv: 0, general: 0, kept: 0 };
  const out: Node[] = [];
  for (const n of g.nodes) {
    const slope = n.opType === 'PRelu' && !n.domain && n.inputs.length === 2 && n.outputs.length === 1 ? floatInit(g, n.inputs[1]) : null;
    if (n.opType === 'PRelu' && !slope) report.kept++;
    if (!slope) {
      out.push(n);
      continue;
    }
    const [x, s] = [n.inputs[0]!, n.inputs[1]!];
    const y = n.outputs[0]!;
    const node = (opType: string, inputs: string[], output: string, suffix: string): Node => ({
      opType,
      name: `${n.name}__${suffix}`,
      inputs,
      outputs: [output],
      attrs: {},
    });
    const channels = form === 'nchwc' ? nchwChannels(g.initializers.get(s)!.dims) : null;
    if (channels !== null && channels === slope.length) {
      const depthwise = { group: attrInt(channels), kernel_shape: attrInts([1, 1]) };
      const minusOne = g.addInitializer(`${n.name}__minus_one`, [channels, 1, 1, 1], new Float32Array(channels).fill(-1));
      const oneMinus = g.addInitializer(
        `${n.name}__one_minus_slope`,
        [channels, 1, 1, 1],
        Float32Array.from(slope, (v) => Math.fround(1 - v)),
      );
      const negated = `${y}__prelu_negated`,
        negPart = `${y}__prelu_neg_part`,
        scaled = `${y}__prelu_scaled`;
      out.push(
        { ...node('Conv', [x, minusOne], negated, 'negate'), attrs: depthwise },
        node('Relu', [negated], negPart, 'relu'),
        { ...node('Conv', [negPart, oneMinus], scaled, 'scale'), attrs: depthwise },
        node('Add', [x, scaled], y, 'add'),
      );
      report.conv++;
    } else if (slope.every((v) => v <= 1)) {
      const scaled = `${y}__prelu_scaled`;
      out.push(node('Mul', [x, s], scaled, 'mul'), node('Max', [x, scaled], y, 'max'));
      report.max++;
    } else {
      const pos = `${y}__prelu_pos`,
        neg = `${y}__prelu_neg`,
        scaled = `${y}__prelu_scaled`;
      out.push(node('Relu', [x], pos, 'relu'), node('Sub', [x, pos], neg, 'sub'), node('Mul', [neg, s], scaled, 'mul'), node('Add', [pos, scaled], y, 'add'));
      report.general++;
    }
  }
  g.nodes = out;
  return report;
}

/**
 * Ops whose semantics (for the attributes they carry) are the same from `since` up to opset 17,
 * so a graph using only these can be declared opset 17 unchanged.
 */
const STABLE_SINCE: Record<string, number> = {
  Conv: 1,
  PRelu: 9,
  Relu: 6,
  Add: 7,
  Sub: 7,
  Mul: 7,
  Max: 8,
  Abs: 6,
  Reshape: 5,
  Transpose: 1,
  GlobalAveragePool: 1,
  Sigmoid: 6,
  MatMul: 9,
  Gemm: 9,
  Flatten: 9,
};

/** Declares the graph opset `to` when every op is stable across (its opset, to]; throws naming the first op that is not. */
export function upgradeOpset(g: OnnxGraph, to: number): void {
  if (g.opset >= to) return;
  for (const n of g.nodes) {
    const since = n.domain ? undefined : STABLE_SINCE[n.opType];
    if (since === undefined || since > g.opset)
      throw new Error(`cannot lift graph '${g.name}' from opset ${g.opset} to ${to}: op ${n.opType} (node '${n.name}') is not known to be unchanged`);
  }
  g.opset = to;
}

/** Op counts, for logs and tests. */
export function opCounts(g: OnnxGraph): Record<string, number> {
  const c: Record<string, number> = {};
  for (const n of g.nodes) c[n.opType] = (c[n.opType] ?? 0) + 1;
  return c;
}

/**
 * Makes every PRelu slope ≤ 1 (so rewritePrelu gives the two-node Max form, which the INT8
 * quantizer keeps in the integer domain) by `prelu_s(x) = −s·prelu_{1/s}(−x)` for the channels c
 * with s[c] > 1: the producing Conv's output channel c is negated (weights and bias), the slope
 * becomes 1/s[c], and every consuming Conv's weights on input channel c are multiplied by −s[c].
 * Applies only where the PRelu is the sole consumer of a Conv with constant weights and every
 * consumer of the PRelu is a Conv with constant weights. Subnormals are flushed on every read
 * (ftz: a subnormal weight times s > 1 can be normal, and must not depend on the denormal mode).
 * Returns the number of PRelu nodes changed.
 */
export function foldPreluSlopesAboveOne(g: OnnxGraph): number {
  const prod = producers(g);
  const cons = consumers(g);
  const outs = graphOutputs(g);
  let changed = 0;
  for (const n of g.nodes) {
    if (n.opType !== 'PRelu' || n.domain) continue;
    const sInit = g.initializers.get(n.inputs[1] ?? '');
    const s = floatInit(g, n.inputs[1]);
    if (!sInit || !s || s.every((v) => v <= 1)) continue;
    const x = n.inputs[0] ?? '';
    const y = n.outputs[0] ?? '';
    const conv = prod.get(x);
    const users = cons.get(y) ?? [];
    const w = floatInit(g, conv?.inputs[1]);
    const wDims = g.initializers.get(conv?.inputs[1] ?? '')?.dims ?? [];
    const cout = wDims[0] ?? 0;
    if (conv?.opType !== 'Conv' || !w || (cons.get(x) ?? []).length !== 1 || outs.has(x) || outs.has(y) || s.length !== cout) continue;
    if (users.length === 0 || !users.every((u) => u.opType === 'Conv' && u.inputs[0] === y && floatInit(g, u.inputs[1]))) continue;
    const flip = [...s.keys()].filter((c) => (s[c] ?? 0) > 1);
    // producer: negate output channels (fresh copies, so shared initializers stay intact)
    const per = w.length / cout;
    const w2 = Float32Array.from(w, ftz);
    for (const c of flip) for (let i = 0; i < per; i++) w2[c * per + i] = -(w2[c * per + i] ?? 0);
    conv.inputs[1] = g.addInitializer(`${conv.inputs[1]}/flipped`, wDims, w2);
    const b = floatInit(g, conv.inputs[2]);
    if (b) {
      const b2 = Float32Array.from(b, ftz);
      for (const c of flip) b2[c] = -(b2[c] ?? 0);
      conv.inputs[2] = g.addInitializer(`${conv.inputs[2]}/flipped`, [cout], b2);
    }
    const s2 = Float32Array.from(s);
    for (const c of flip) s2[c] = 1 / ftz(s[c] ?? 1);
    n.inputs[1] = g.addInitializer(`${sInit.name}/folded`, sInit.dims, s2);
    // consumers: input channel c scaled by −s[c]
    for (const u of users) {
      const uw = floatInit(g, u.inputs[1])!;
      const ud = g.initializers.get(u.inputs[1] ?? '')!.dims;
      const [uo, ui] = [ud[0] ?? 0, ud[1] ?? 0];
      const k = uw.length / (uo * ui);
      const group = u.attrs.group?.kind === 'int' ? u.attrs.group.value : 1;
      const oPer = uo / group;
      const uw2 = Float32Array.from(uw, ftz);
      for (const c of flip) {
        const grp = Math.floor(c / ui);
        const local = c % ui;
        for (let o = grp * oPer; o < (grp + 1) * oPer; o++)
          for (let i = 0; i < k; i++) {
            const at = (o * ui + local) * k + i;
            uw2[at] = ftz(Math.fround((uw2[at] ?? 0) * -(s[c] ?? 1)));
          }
      }
      u.inputs[1] = g.addInitializer(`${u.inputs[1]}/folded`, ud, uw2);
    }
    changed++;
  }
  return changed;
}

/**
 * Makes the batch dimension symbolic in a graph exported at batch 1: dim 0 of every input and
 * output becomes `name`, and every Reshape whose constant target shape starts with 1 copies the
 * batch from its input instead (0, ONNX's "keep this dimension"). Throws when an input or output
 * is not batch 1, or a Reshape's target is computed (not a constant) and the graph does not read
 * the batch itself (Shape). Returns the number of Reshape targets changed.
 */
export function symbolicBatch(g: OnnxGraph, name = 'N'): number {
  for (const v of [...g.inputs, ...g.outputs]) {
    if (!v.shape || (v.shape[0] !== 1 && v.shape[0] !== name))
      throw new Error(`symbolicBatch: '${v.name}' of graph '${g.name}' has shape ${JSON.stringify(v.shape)}, not batch 1`);
    v.shape = [name, ...v.shape.slice(1)];
  }
  let n = 0;
  for (const node of g.nodes) {
    if (node.opType !== 'Reshape') continue;
    const init = g.initializers.get(node.inputs[1] ?? '');
    if (!init) {
      if (!g.nodes.some((x) => x.opType === 'Shape')) throw new Error(`symbolicBatch: Reshape '${node.name}' has a computed shape`);
      continue;
    }
    if (!(init.data instanceof BigInt64Array) || init.data[0] !== 1n) continue;
    const d = BigInt64Array.from(init.data);
    d[0] = 0n;
    node.inputs[1] = g.addInitializer(`${init.name}/batch`, init.dims, d);
    n++;
  }
  return n;
}

/**
 * `Relu(MaxPool(x))` → `MaxPool(Relu(x))`: the same values (Relu is monotonic, so it commutes with
 * a maximum over each window; MaxPool's padding never wins a window), in the order the INT8
 * quantizer keeps in the integer domain: a Conv's Relu becomes its QLinearConv's clamp and the
 * MaxPool runs on uint8. Applies where the MaxPool has one output, which only the Relu reads, and
 * is not a graph output. Tensor names downstream are unchanged (the Relu's output is now the
 * MaxPool's). Returns the number of pairs swapped.
 */
export function reluBeforeMaxPool(g: OnnxGraph): number {
  const cons = consumers(g);
  const outs = graphOutputs(g);
  let n = 0;
  for (const pool of [...g.nodes]) {
    if (pool.opType !== 'MaxPool' || pool.domain || pool.outputs.length !== 1) continue;
    const pooled = pool.outputs[0] ?? '';
    const cs = cons.get(pooled) ?? [];
    const relu = cs[0];
    if (cs.length !== 1 || !relu || relu.opType !== 'Relu' || relu.domain || outs.has(pooled)) continue;
    const x = pool.inputs[0] ?? '';
    const y = relu.outputs[0] ?? '';
    const mid = g.fresh(`${x}/relu`);
    // both nodes stay where they are in the list: the Relu (now first in data order) moves to the
    // MaxPool's slot and the MaxPool to the Relu's, so the topological order still holds
    const [pi, ri] = [g.nodes.indexOf(pool), g.nodes.indexOf(relu)];
    g.nodes[pi] = { ...relu, inputs: [x], outputs: [mid] };
    g.nodes[ri] = { ...pool, inputs: [mid, ...pool.inputs.slice(1)], outputs: [y] };
    n++;
  }
  return n;
}

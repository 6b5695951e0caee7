/**
 * The build-time graph passes and the protobuf layer: PRelu fast forms bit-identical to PRelu
 * (the NCHWc conv form within one rounding),
 * the TF PReLU idiom fused, opset lifting refused for unknown ops, ONNX read → write → read
 * round trip, the shipped files carry no PRelu, slopes > 1 folded into neighbouring convs, the
 * batch made symbolic, the QOperator INT8 form against float, Relu moved before MaxPool (same
 * values; the pool then runs on uint8), and the TFLite reader's errors.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { gemvGraph } from '../tools/main.js';
import { attrInts, OnnxGraph } from '../tools/onnxBuilder.js';
import { foldPreluSlopesAboveOne, fuseTfPrelu, opCounts, reluBeforeMaxPool, rewritePrelu, symbolicBatch, upgradeOpset } from '../tools/onnxPasses.js';
import { quantizeGraphQOperator } from '../tools/quantize.js';
import { decodeModel } from '../tools/onnxProto.js';
import { TensorType } from '../tools/onnxProto.js';
import { readTflite } from '../tools/tflite.js';
import { MODELS_DIR } from './helpers.js';

function noise(n: number, seed: number, scale = 4): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * scale);
}

/** x[1,C,4,4] → PRelu(x, slope[C,1,1]) */
function preluGraph(slope: Float32Array): OnnxGraph {
  const c = slope.length;
  const g = new OnnxGraph('prelu');
  g.inputs = [{ name: 'x', type: TensorType.FLOAT, shape: [1, c, 4, 4] }];
  g.opNamed('PRelu', ['x', g.addInitializer('slope', [c, 1, 1], slope)], 'y');
  g.outputs = [{ name: 'y', type: TensorType.FLOAT, shape: [1, c, 4, 4] }];
  return g;
}

async function runGraph(g: OnnxGraph, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(g.encode('test'));
  const r = await s.run({ [g.inputs[0]!.name]: new ort.Tensor('float32', x, shape) });
  await s.release();
  return r[g.outputs[0]!.name]!.data as Float32Array;
}

describe('rewritePrelu', () => {
  const x = noise(3 * 16, 5);
  for (const [label, slope, form] of [
    ['slopes in [0, 1]', Float32Array.of(0, 0.25, 1), 'max'],
    ['negative slopes (Max form still exact)', Float32Array.of(-1.3, 0.1, -0.02), 'max'],
    ['a slope > 1 (general form)', Float32Array.of(1.23, -0.5, 0.3), 'general'],
  ] as const) {
    it(`${label}: ${form} form, bit-identical to PRelu`, async () => {
      const want = await runGraph(preluGraph(slope), x, [1, 3, 4, 4]);
      const g = preluGraph(slope);
      const report = rewritePrelu(g);
      expect(report[form]).toBe(1);
      expect(opCounts(g).PRelu).toBeUndefined();
      expect(Array.from(await runGraph(g, x, [1, 3, 4, 4]))).toEqual(Array.from(want));
    });
  }
  it("'nchwc' form (FaceMesh): two depthwise 1×1 convs, no element-wise op left, PRelu within one rounding", async () => {
    // 16 channels (two NCHWc blocks) and slopes on every side of 0 and 1
    const slope = Float32Array.from({ length: 16 }, (_, i) => -1.5 + i * 0.2);
    const x16 = noise(16 * 16, 11);
    const want = await runGraph(preluGraph(slope), x16, [1, 16, 4, 4]);
    const g = preluGraph(slope);
    expect(rewritePrelu(g, 'nchwc')).toEqual({ max: 0, conv: 1, general: 0, kept: 0 });
    expect(opCounts(g)).toEqual({ Conv: 2, Relu: 1, Add: 1 });
    const got = await runGraph(g, x16, [1, 16, 4, 4]);
    for (let i = 0; i < want.length; i++) {
      // x ≥ 0: exactly x; x < 0: s·x with one more rounding
      if (x16[i]! >= 0) expect(got[i]).toBe(want[i]);
      else expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(4e-7 * Math.max(1, Math.abs(want[i]!)));
    }
  });
  it("'nchwc' form falls back to the element-wise form when the slope is not per channel of an NCHW tensor", () => {
    const g = new OnnxGraph('p');
    g.inputs = [{ name: 'x', type: TensorType.FLOAT, shape: [2, 3] }];
    g.opNamed('PRelu', ['x', g.addInitializer('slope', [3], Float32Array.of(0.1, 0.2, 0.3))], 'y');
    expect(rewritePrelu(g, 'nchwc')).toEqual({ max: 1, conv: 0, general: 0, kept: 0 });
  });
  it('leaves a PRelu whose slope is not a constant', () => {
    const g = new OnnxGraph('p');
    g.inputs = [{ name: 'x', type: TensorType.FLOAT, shape: [4] }];
    g.opNamed('PRelu', ['x', 'x'], 'y');
    expect(rewritePrelu(g)).toEqual({ max: 0, conv: 0, general: 0, kept: 1 });
  });
});

describe('fuseTfPrelu', () => {
  it('fuses relu(x) + c·(x − |x|) into PRelu(x, 2c) with the same outputs', async () => {
    const c = Float32Array.of(0.3, -0.6, 0.7); // TFLite stores α/2
    const build = (): OnnxGraph => {
      const g = new OnnxGraph('tf');
      g.inputs = [{ name: 'x', type: TensorType.FLOAT, shape: [1, 3, 4, 4] }];
      const relu = g.op('Relu', ['x']);
      const abs = g.op('Abs', ['x']);
      const sub = g.op('Sub', ['x', abs]);
      const mul = g.op('Mul', [g.addInitializer('c', [3, 1, 1], c), sub]);
      g.opNamed('Add', [relu, mul], 'y');
      g.outputs = [{ name: 'y', type: TensorType.FLOAT, shape: [1, 3, 4, 4] }];
      return g;
    };
    const x = noise(48, 9);
    const want = await runGraph(build(), x, [1, 3, 4, 4]);
    const g = build();
    expect(fuseTfPrelu(g)).toBe(1);
    expect(opCounts(g)).toEqual({ PRelu: 1 });
    const slope = g.initializers.get(g.nodes[0]!.inputs[1]!)!.data as Float32Array;
    expect(Array.from(slope)).toEqual([0.6, -1.2, 1.4].map(Math.fround));
    const got = await runGraph(g, x, [1, 3, 4, 4]);
    for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 6);
  });
});

/** x[N,2,6,6] → Conv 3×3 (4 out) → PRelu(slope) → depthwise Conv 3×3 and a 1×1 Conv → Add → Reshape [1,-1]. */
function convPreluGraph(slope: Float32Array): OnnxGraph {
  const g = new OnnxGraph('conv_prelu');
  g.inputs = [{ name: 'x', type: TensorType.FLOAT, shape: [1, 2, 6, 6] }];
  const pad = { pads: { kind: 'ints' as const, value: [1, 1, 1, 1] } };
  const c0 = g.op('Conv', ['x', g.addInitializer('w0', [4, 2, 3, 3], noise(72, 1, 1)), g.addInitializer('b0', [4], noise(4, 2, 1))], pad);
  const p = g.op('PRelu', [c0, g.addInitializer('s', [4, 1, 1], slope)]);
  const dw = g.op('Conv', [p, g.addInitializer('w1', [4, 1, 3, 3], noise(36, 3, 1)), g.addInitializer('b1', [4], noise(4, 4, 1))], {
    ...pad,
    group: { kind: 'int', value: 4 },
  });
  const pw = g.op('Conv', [p, g.addInitializer('w2', [4, 4, 1, 1], noise(16, 5, 1))]);
  const sum = g.op('Add', [dw, pw]);
  g.opNamed('Reshape', [sum, g.int64('shape', [1, -1])], 'y');
  g.outputs = [{ name: 'y', type: TensorType.FLOAT, shape: [1, 144] }];
  return g;
}

describe('foldPreluSlopesAboveOne', () => {
  it('turns slopes > 1 into 1/s with the producer negated and the consumers scaled: same outputs, all Max form', async () => {
    const slope = Float32Array.of(1.23, -0.5, 2.5, 0.3);
    const x = noise(72, 7);
    const want = await runGraph(convPreluGraph(slope), x, [1, 2, 6, 6]);
    const g = convPreluGraph(slope);
    expect(foldPreluSlopesAboveOne(g)).toBe(1);
    const s = g.initializers.get(g.nodes.find((n) => n.opType === 'PRelu')!.inputs[1]!)!.data as Float32Array;
    expect(Array.from(s)).toEqual([1 / 1.23, -0.5, 1 / 2.5, 0.3].map(Math.fround));
    expect(rewritePrelu(g)).toEqual({ max: 1, conv: 0, general: 0, kept: 0 });
    const got = await runGraph(g, x, [1, 2, 6, 6]);
    for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 5);
  });
  it('leaves a PRelu whose input is not a Conv it alone consumes', () => {
    const g = preluGraph(Float32Array.of(1.5, 0.2, 0.1));
    expect(foldPreluSlopesAboveOne(g)).toBe(0);
  });
});

describe('symbolicBatch', () => {
  it('a batch of 3 gives the 3 single results', async () => {
    const g = convPreluGraph(Float32Array.of(0.1, -0.5, 0.9, 0.3));
    expect(symbolicBatch(g)).toBe(1);
    expect(g.inputs[0]!.shape).toEqual(['N', 2, 6, 6]);
    expect(g.outputs[0]!.shape).toEqual(['N', 144]);
    const x = noise(3 * 72, 11);
    const batch = await runGraph(g, x, [3, 2, 6, 6]);
    expect(batch.length).toBe(3 * 144);
    for (let b = 0; b < 3; b++) {
      const one = await runGraph(g, x.subarray(b * 72, (b + 1) * 72), [1, 2, 6, 6]);
      expect(Array.from(batch.subarray(b * 144, (b + 1) * 144))).toEqual(Array.from(one));
    }
  });
  it('refuses a graph that is not batch 1', () => {
    const g = preluGraph(Float32Array.of(0.1));
    g.inputs[0]!.shape = [2, 1, 4, 4];
    expect(() => symbolicBatch(g)).toThrow(/not batch 1/);
  });
});

describe('quantizeGraphQOperator', () => {
  it('writes integer ops only between the input and output (PReLU as uint8 Max) and stays close to float', async () => {
    const slope = Float32Array.of(0.1, -0.5, 0.9, 0.3);
    const x = noise(72, 13, 2);
    const f = convPreluGraph(slope);
    rewritePrelu(f);
    const want = await runGraph(f, x, [1, 2, 6, 6]);
    // ranges from this input's own float tensors (a one-image calibration)
    const names = f.nodes.filter((n) => n.opType !== 'Reshape').flatMap((n) => n.outputs);
    const probe = Object.assign(new OnnxGraph('probe'), f, {
      nodes: [...f.nodes],
      outputs: [...f.outputs, ...names.map((t) => ({ name: t, type: TensorType.FLOAT, shape: null }))],
    });
    const s = await ort.InferenceSession.create(probe.encode('probe'));
    const r = await s.run({ x: new ort.Tensor('float32', x, [1, 2, 6, 6]) });
    await s.release();
    const ranges: Record<string, [number, number]> = { x: [Math.min(...x), Math.max(...x)] };
    for (const t of names) {
      const d = r[t]!.data as Float32Array;
      ranges[t] = [Math.min(...d), Math.max(...d)];
    }
    const g = quantizeGraphQOperator(f, { model: 'test', method: 'minmax', images: 1, ranges });
    expect(opCounts(g)).toEqual({ QuantizeLinear: 1, QLinearConv: 4, Max: 1, QLinearAdd: 1, DequantizeLinear: 1, Reshape: 1 });
    const got = await runGraph(g, x, [1, 2, 6, 6]);
    const span = Math.max(...want) - Math.min(...want);
    for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(0.03 * span);
  });
});

describe('quantizeGraphQOperator, a PReLU on a float tensor', () => {
  it('runs the PReLU in float and quantises its output for the next conv', async () => {
    const g = new OnnxGraph('float_prelu');
    g.inputs = [{ name: 'x', type: TensorType.FLOAT, shape: [1, 2, 4, 4] }];
    const p = g.op('PRelu', ['x', g.addInitializer('s', [2, 1, 1], Float32Array.of(0.2, -0.4))]);
    g.opNamed('Conv', [p, g.addInitializer('w', [3, 2, 1, 1], noise(6, 3, 1))], 'y');
    g.outputs = [{ name: 'y', type: TensorType.FLOAT, shape: [1, 3, 4, 4] }];
    rewritePrelu(g);
    const x = noise(32, 17, 2);
    const want = await runGraph(g, x, [1, 2, 4, 4]);
    const pOut = g.nodes.find((n) => n.opType === 'Max')!.outputs[0]!;
    const ranges: Record<string, [number, number]> = { [pOut]: [-0.5, 1], y: [Math.min(...want), Math.max(...want)] };
    quantizeGraphQOperator(g, { model: 'test', method: 'minmax', images: 1, ranges });
    expect(opCounts(g)).toEqual({ Mul: 1, Max: 1, QuantizeLinear: 1, QLinearConv: 1, DequantizeLinear: 1 });
    const got = await runGraph(g, x, [1, 2, 4, 4]);
    const span = Math.max(...want) - Math.min(...want);
    for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(0.03 * span);
  });
});

/** x[1,2,9,9] → Conv 3×3 → MaxPool 2×2 (padded) → Relu → Conv 1×1 → y (the anti-spoof network's pattern) */
function convPoolReluGraph(): OnnxGraph {
  const g = new OnnxGraph('conv_pool_relu');
  g.inputs = [{ name: 'x', type: TensorType.FLOAT, shape: [1, 2, 9, 9] }];
  const c = g.op('Conv', ['x', g.addInitializer('w1', [3, 2, 3, 3], noise(54, 5, 1)), g.addInitializer('b1', [3], noise(3, 6, 1))], {
    kernel_shape: attrInts([3, 3]),
  });
  const p = g.op('MaxPool', [c], { kernel_shape: attrInts([2, 2]), strides: attrInts([2, 2]), pads: attrInts([0, 0, 1, 1]) });
  const r = g.op('Relu', [p]);
  g.opNamed('Conv', [r, g.addInitializer('w2', [2, 3, 1, 1], noise(6, 7, 1))], 'y');
  g.outputs = [{ name: 'y', type: TensorType.FLOAT, shape: [1, 2, 4, 4] }];
  return g;
}

describe('reluBeforeMaxPool', () => {
  it('swaps MaxPool → Relu into Relu → MaxPool with the same outputs (bit for bit)', async () => {
    const x = noise(162, 21, 4);
    const f = convPoolReluGraph();
    const want = await runGraph(f, x, [1, 2, 9, 9]);
    expect(reluBeforeMaxPool(f)).toBe(1);
    expect(f.nodes.map((n) => n.opType)).toEqual(['Conv', 'Relu', 'MaxPool', 'Conv']);
    expect(Array.from(await runGraph(f, x, [1, 2, 9, 9]))).toEqual(Array.from(want));
  });

  it('leaves a MaxPool whose output something else also reads', () => {
    const g = convPoolReluGraph();
    const pooled = g.nodes.find((n) => n.opType === 'MaxPool')!.outputs[0]!;
    g.outputs.push({ name: pooled, type: TensorType.FLOAT, shape: null });
    expect(reluBeforeMaxPool(g)).toBe(0);
  });

  it('lets the QOperator form keep conv → relu → pool → conv in uint8, close to float', async () => {
    const x = noise(162, 23, 4);
    const f = convPoolReluGraph();
    const want = await runGraph(f, x, [1, 2, 9, 9]);
    reluBeforeMaxPool(f);
    const relu = f.nodes.find((n) => n.opType === 'Relu')!.outputs[0]!;
    const conv1 = f.nodes[0]!.outputs[0]!;
    const probe = Object.assign(new OnnxGraph('probe'), f, {
      nodes: [...f.nodes],
      outputs: [...f.outputs, ...[conv1, relu].map((t) => ({ name: t, type: TensorType.FLOAT, shape: null }))],
    });
    const s = await ort.InferenceSession.create(probe.encode('probe'));
    const r = await s.run({ x: new ort.Tensor('float32', x, [1, 2, 9, 9]) });
    await s.release();
    const span = (t: string): [number, number] => {
      const d = r[t]!.data as Float32Array;
      return [Math.min(...d), Math.max(...d)];
    };
    const g = quantizeGraphQOperator(f, {
      model: 'test',
      method: 'minmax',
      images: 1,
      ranges: { x: [Math.min(...x), Math.max(...x)], [conv1]: span(conv1), [relu]: span(relu), y: span('y') },
    });
    // the Relu is the first conv's uint8 clamp and the pool reads uint8: one quantize, one dequantize
    expect(opCounts(g)).toEqual({ QuantizeLinear: 1, QLinearConv: 2, MaxPool: 1, DequantizeLinear: 1 });
    const got = await runGraph(g, x, [1, 2, 9, 9]);
    const w = Math.max(...want) - Math.min(...want);
    for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(0.03 * w);
  });
});

describe('upgradeOpset', () => {
  it('lifts a graph of stable ops and refuses one with an op it does not know to be unchanged', () => {
    const g = preluGraph(Float32Array.of(0.1));
    g.opset = 9;
    upgradeOpset(g, 17);
    expect(g.opset).toBe(17);
    const u = new OnnxGraph('u');
    u.opset = 9;
    u.opNamed('Unsqueeze', ['x'], 'y');
    expect(() => upgradeOpset(u, 17)).toThrow(/op Unsqueeze .* not known to be unchanged/);
  });
});

describe('ONNX protobuf layer (onnx-proto)', () => {
  it('reads a shipped model and writes it back byte for byte', () => {
    const bytes = readFileSync(join(MODELS_DIR, 'onnx', 'detector-facemesh-short.onnx'));
    const m = decodeModel(bytes);
    const g = OnnxGraph.decode(bytes);
    expect(g.opset).toBe(17);
    expect(g.nodes.length).toBe(m.nodes.length);
    expect(Buffer.from(g.encode(m.docString))).toEqual(bytes);
  });
  it('names what it cannot read', () => {
    const bytes = readFileSync(join(MODELS_DIR, 'onnx', 'liveness.onnx')).subarray(0, 1000);
    expect(() => decodeModel(bytes)).toThrow(/onnx: not a readable ONNX model/);
    expect(() => decodeModel(new Uint8Array(0))).toThrow(/onnx: the model has no graph/);
  });
  it('every shipped model is in its fast form: no PRelu node left', () => {
    const manifest = JSON.parse(readFileSync(join(MODELS_DIR, 'manifest.json'), 'utf8')) as { models: { id: string; file: string }[] };
    for (const e of manifest.models) {
      const ops = opCounts(OnnxGraph.decode(readFileSync(join(MODELS_DIR, e.file))));
      expect({ id: e.id, prelu: ops.PRelu ?? 0 }).toEqual({ id: e.id, prelu: 0 });
    }
    // FaceMesh's PReLUs are in the NCHWc conv form (catalog preluForm): no Max or Mul left
    const mesh = opCounts(OnnxGraph.decode(readFileSync(join(MODELS_DIR, 'onnx', 'landmarks-facemesh.onnx'))));
    expect({ max: mesh.Max ?? 0, mul: mesh.Mul ?? 0 }).toEqual({ max: 0, mul: 0 });
  });
  it('the GEMV graph scores any dimension (N and D symbolic)', async () => {
    const s = await ort.InferenceSession.create(gemvGraph().encode('gemv'));
    for (const d of [128, 192, 512]) {
      const gallery = noise(3 * d, d, 1);
      const probe = noise(d, d + 1, 1);
      const r = (await s.run({ gallery: new ort.Tensor('float32', gallery, [3, d]), probe: new ort.Tensor('float32', probe, [d, 1]) })).scores!;
      expect(r.dims).toEqual([3, 1]);
      let dot = 0;
      for (let i = 0; i < d; i++) dot += gallery[d + i]! * probe[i]!;
      expect((r.data as Float32Array)[1]).toBeCloseTo(dot, 4);
    }
    await s.release();
  });
});

describe('TFLite reader', () => {
  it('refuses a file that is not a TFLite FlatBuffer', () => {
    expect(() => readTflite(new Uint8Array(4))).toThrow(/not a TFLite model/);
    const bogus = new Uint8Array(64);
    bogus.set([12, 0, 0, 0, 0x4f, 0x4e, 0x4e, 0x58], 0);
    expect(() => readTflite(bogus)).toThrow(/file identifier is 'ONNX', expected 'TFL3'/);
  });
});

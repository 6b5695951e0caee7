/**
 * QLinearAdd rounding on x86-64 and arm64 (models/tools/qlinearAdd.ts): the JS models of both
 * MLAS kernels against onnxruntime on this machine, the quantizer's k/255 scale ratios, and every
 * add of the shipped MobileFaceNet-512 INT8 file exactly rounded on all 65,536 input pairs by both.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { OnnxGraph } from '../tools/onnxBuilder.js';
import { TensorType } from '../tools/onnxProto.js';
import { addMisses, addRatioScales, exactAdd, neonAdd, x86Add, type AddParams } from '../tools/qlinearAdd.js';
import { quantizeGraphQOperator } from '../tools/quantize.js';
import { MODELS_DIR } from './helpers.js';

/** Scales of an add of the INT8 file before the k/255 ratios (1 miss on x86-64, 2 on arm64). */
const CALIBRATED: AddParams = { sa: 0.013250157237052917, za: 119, sb: 0.008484980091452599, zb: 134, sc: 0.015738705173134804, zc: 121 };

function addParams(g: OnnxGraph, n: OnnxGraph['nodes'][number]): AddParams {
  const v = (i: number) => (g.initializers.get(n.inputs[i] ?? '')?.data[0] as number | undefined) ?? NaN;
  return { sa: v(1), za: v(2), sb: v(4), zb: v(5), sc: v(6), zc: v(7) };
}

async function ortAdd(p: AddParams): Promise<Uint8Array> {
  const g = new OnnxGraph('add');
  g.inputs = ['a', 'b'].map((name) => ({ name, type: TensorType.UINT8, shape: [65536] }));
  const f = (name: string, v: number) => g.addInitializer(name, [], Float32Array.of(v));
  const u = (name: string, v: number) => g.addInitializer(name, [], Uint8Array.of(v));
  g.nodes.push({
    opType: 'QLinearAdd',
    domain: 'com.microsoft',
    name: 'add',
    inputs: ['a', f('sa', p.sa), u('za', p.za), 'b', f('sb', p.sb), u('zb', p.zb), f('sc', p.sc), u('zc', p.zc)],
    outputs: ['c'],
    attrs: {},
  });
  g.outputs = [{ name: 'c', type: TensorType.UINT8, shape: [65536] }];
  const s = await ort.InferenceSession.create(g.encode('add'));
  const a = Uint8Array.from({ length: 65536 }, (_, k) => k >> 8);
  const b = Uint8Array.from({ length: 65536 }, (_, k) => k & 255);
  const r = await s.run({ a: new ort.Tensor('uint8', a, [65536]), b: new ort.Tensor('uint8', b, [65536]) });
  await s.release();
  return r.c!.data as Uint8Array;
}

describe('QLinearAdd kernel models', () => {
  it.skipIf(process.arch !== 'x64' && process.arch !== 'arm64')(
    "this machine's onnxruntime computes what the model of its kernel computes, pair for pair",
    async () => {
      const chosen = addRatioScales(CALIBRATED.sa, CALIBRATED.sb, CALIBRATED.sc)!;
      for (const p of [CALIBRATED, { ...CALIBRATED, sb: chosen.sb, sc: chosen.sc }]) {
        const got = await ortAdd(p);
        let differ = 0;
        let miss = 0;
        for (let k = 0; k < 65536; k++) {
          const [a, b] = [k >> 8, k & 255];
          // x86-64: onnxruntime's AVX2 kernel is built with its fixed part contracted to an fma
          const model = process.arch === 'x64' ? x86Add(p, a, b, 'fmaA') : neonAdd(p, a, b);
          if (got[k] !== model) differ++;
          if (got[k] !== exactAdd(p, a, b)) miss++;
        }
        expect(differ).toBe(0);
        expect(miss).toBe(p === CALIBRATED ? (process.arch === 'x64' ? 1 : 2) : 0);
      }
    },
  );
  it('calibrated scales miss on both platforms, on different pairs', () => {
    expect(addMisses(CALIBRATED)).toEqual({ x86: 2, arm64: 2 }); // x86: 1 with the fma onnxruntime uses, 2 without
  });
});

describe('addRatioScales', () => {
  it('gives k/255 ratios, covers the calibrated ranges, and both kernels then round every pair exactly', () => {
    let s = 7;
    const rnd = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let i = 0; i < 40; i++) {
      const sa = Math.fround(0.005 + 0.03 * rnd());
      const sb = Math.fround(0.005 + 0.03 * rnd());
      const sc = Math.fround(Math.max(sa, sb) * (1 + rnd()));
      const r = addRatioScales(sa, sb, sc)!;
      expect(r.sc).toBeGreaterThanOrEqual(sc * (1 - 2 ** -23));
      expect(r.sb).toBeGreaterThanOrEqual(sb * (1 - 2 ** -23));
      expect(Math.abs((255 * sa) / r.sc - r.ka)).toBeLessThan(1e-5);
      expect(Math.abs((255 * r.sb) / r.sc - r.kb)).toBeLessThan(1e-5);
      const p = { sa, za: Math.floor(256 * rnd()), sb: r.sb, zb: Math.floor(256 * rnd()), sc: r.sc, zc: Math.floor(256 * rnd()) };
      expect(addMisses(p)).toEqual({ x86: 0, arm64: 0 });
    }
  });
});

describe('quantizeGraphQOperator, a residual Add', () => {
  it('re-scales the branch conv and the Add so that neither kernel misses', () => {
    // x → conv1 → t;  t → conv2 → u;  y = t + u  (t: the residual path, u: the branch)
    const g = new OnnxGraph('residual');
    g.inputs = [{ name: 'x', type: TensorType.FLOAT, shape: [1, 2, 4, 4] }];
    const w = (name: string) => g.addInitializer(name, [2, 2, 1, 1], Float32Array.of(0.5, -0.25, 0.75, 0.125));
    g.opNamed('Conv', ['x', w('w1')], 't');
    g.opNamed('Conv', ['t', w('w2')], 'u');
    g.opNamed('Add', ['t', 'u'], 'y');
    g.outputs = [{ name: 'y', type: TensorType.FLOAT, shape: [1, 2, 4, 4] }];
    const range = (s: number, z: number): [number, number] => [-z * s, (255 - z) * s];
    const ranges = {
      x: [-1, 1] as [number, number],
      t: range(CALIBRATED.sa, CALIBRATED.za),
      u: range(CALIBRATED.sb, CALIBRATED.zb),
      y: range(CALIBRATED.sc, CALIBRATED.zc),
    };
    quantizeGraphQOperator(g, { model: 'test', method: 'minmax', images: 1, ranges });
    const add = g.nodes.find((n) => n.opType === 'QLinearAdd')!;
    const p = addParams(g, add);
    expect(p.sa).toBe(Math.fround(CALIBRATED.sa));
    expect(p.sc).toBeGreaterThanOrEqual(Math.fround(CALIBRATED.sc));
    expect(addMisses(p)).toEqual({ x86: 0, arm64: 0 });
    // the branch conv writes the scale the Add reads
    const conv2 = g.nodes.filter((n) => n.opType === 'QLinearConv')[1]!;
    expect(conv2.inputs[6]).toBe(add.inputs[4]);
  });
});

describe('the shipped MobileFaceNet-512 INT8 file', () => {
  it('every QLinearAdd is exactly rounded on all 65,536 input pairs by the x86-64 and the arm64 kernel', () => {
    const g = OnnxGraph.decode(readFileSync(join(MODELS_DIR, 'onnx', 'embedder-mobilefacenet512.int8.onnx')), 'm');
    const adds = g.nodes.filter((n) => n.opType === 'QLinearAdd');
    expect(adds.length).toBe(12);
    const misses = adds.map((n) => ({ add: n.name, ...addMisses(addParams(g, n)) })).filter((m) => m.x86 + m.arm64 > 0);
    expect(misses).toEqual([]);
  });
});

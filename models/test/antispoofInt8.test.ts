/**
 * The INT8 anti-spoof network (antispoof-int8, the manifest default) against its FP32 file, on
 * the crops the door's passive scorer really feeds it (detector box × 1.4, square, upright) from
 * held-out photos: faces never used for calibration (john_*, deepface_*, distractors) and the
 * live, print and replay samples of the spoof set.
 *
 *  - the score (sigmoid, 1 = real) within 0.02 of FP32 on every crop, mean within 0.005; a crop
 *    may land on the other side of access.liveness.passiveThreshold's default (0.5) only when its
 *    FP32 score is within that 0.02 of it;
 *  - the integer path covers the whole conv trunk: one QuantizeLinear at the input, one
 *    DequantizeLinear before the float head, the Relus fused into the convs, MaxPool on uint8;
 *  - the calibration crops are the scorer's: `PassiveScorer.score` on a photo equals the network
 *    run on `passiveCropsFromPhotos`' crop of it;
 *  - a batch of crops gives the single-crop scores;
 *  - `passiveCropsFromPhotos` refuses a model that is not a passive network and turns an
 *    unreadable photo into a warning.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../daemon/src/vision/decode.js';
import { loadModelManifest } from '../../daemon/src/vision/modelManifest.js';
import { PassiveScorer } from '../../daemon/src/vision/models/passiveScorer.js';
import { listImages, passiveCropsFromPhotos, type PhotoChips } from '../tools/faceCrops.js';
import { opCounts } from '../tools/onnxPasses.js';
import { OnnxGraph } from '../tools/onnxBuilder.js';
import { MODELS_DIR, requireTestData, runDataTests } from './helpers.js';

// every folder of faces/ outside the calibration set (docs/MODELS.md)
const HELD_OUT_FACES = [
  'john_salley',
  'john_savage',
  'john_schneider',
  'distractors',
  ...['angelina', 'elon', 'id34', 'jack', 'jeff', 'jennifer', 'marissa', 'mark', 'scarlett', 'sundar'].map((n) => `deepface_${n}`),
];
const SPOOF = ['live', 'print', 'replay'];
const THRESHOLD = 0.5;

const so: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' };

async function scores(s: ort.InferenceSession, xs: Float32Array[]): Promise<number[]> {
  const out: number[] = [];
  for (const x of xs) {
    const r = await s.run({ input: new ort.Tensor('float32', x, [1, 128, 128, 3]) });
    out.push((r.score!.data as Float32Array)[0]!);
  }
  return out;
}

describe.runIf(runDataTests)('antispoof INT8 vs FP32 on the passive scorer crops', () => {
  let crops: PhotoChips;
  let inputs: Float32Array[];
  let fp32: ort.InferenceSession;
  let int8: ort.InferenceSession;

  beforeAll(async () => {
    const data = requireTestData();
    const paths = [...HELD_OUT_FACES.map((d) => join(data, 'faces', d)), ...SPOOF.map((d) => join(data, 'spoof', d))].flatMap((d) => listImages(d));
    crops = await passiveCropsFromPhotos(paths, { modelsDir: MODELS_DIR, model: 'antispoof' });
    inputs = crops.chips.map(crops.toInput);
    fp32 = await ort.InferenceSession.create(join(MODELS_DIR, 'onnx/antispoof.onnx'), so);
    int8 = await ort.InferenceSession.create(join(MODELS_DIR, 'onnx/antispoof.int8.onnx'), so);
  }, 120_000);

  it('is the manifest default for the anti-spoof task', () => {
    const m = loadModelManifest(MODELS_DIR);
    expect(m.defaults.antispoof).toBe('antispoof-int8');
    expect(m.models.find((e) => e.id === 'antispoof-int8')?.source).toMatchObject({ quantizedFrom: 'antispoof' });
  });

  it('scores every held-out crop within 0.02 of FP32', async () => {
    // faces of the held-out folders plus the spoof set's samples (tight NUAA crops are found zoomed out)
    expect(inputs.length).toBeGreaterThanOrEqual(180);
    const a = await scores(fp32, inputs);
    const b = await scores(int8, inputs);
    const d = a.map((x, i) => Math.abs(x - b[i]!));
    expect(Math.max(...d)).toBeLessThanOrEqual(0.02);
    expect(d.reduce((s, x) => s + x, 0) / d.length).toBeLessThanOrEqual(0.005);
    // the FP32 scores spread over the range, so the bound is not met by a constant output
    expect(Math.max(...a) - Math.min(...a)).toBeGreaterThan(0.5);
    a.forEach((x, i) => {
      if (x >= THRESHOLD !== b[i]! >= THRESHOLD) expect(Math.abs(x - THRESHOLD), crops.sources[i]).toBeLessThanOrEqual(0.02);
    });
  });

  it('runs the conv trunk in integers: one quantize at the input, one dequantize before the head', () => {
    const g = OnnxGraph.decode(readFileSync(join(MODELS_DIR, 'onnx/antispoof.int8.onnx')));
    const ops = opCounts(g);
    expect(ops).toMatchObject({ QLinearConv: 3, MaxPool: 3, QuantizeLinear: 1, DequantizeLinear: 1, Gemm: 2 });
    // the only Relu left is the head's (between the Gemms); the trunk's are the convs' uint8 clamps
    expect(ops.Relu).toBe(1);
    expect(ops.Conv).toBeUndefined();
  });

  it('calibrates on the crops the scorer feeds the network', async () => {
    const m = loadModelManifest(MODELS_DIR);
    const scorer = await PassiveScorer.load(
      MODELS_DIR,
      m.models.find((e) => e.id === 'antispoof')!,
      { intraOpThreads: 1 },
    );
    try {
      const data = requireTestData();
      const photo = listImages(join(data, 'faces', 'john_savage'))[0]!;
      const one = await passiveCropsFromPhotos([photo], { modelsDir: MODELS_DIR, model: 'antispoof' });
      expect(one.chips).toHaveLength(1);
      const direct = (await scores(fp32, [one.toInput(one.chips[0]!)]))[0]!;
      // the scorer finds the same face (the pipeline's detector cascade) and warps the same crop
      const img = await decodeImage(readFileSync(photo));
      const { FacePipeline } = await import('../../daemon/src/vision/pipeline.js');
      const p = await FacePipeline.create({ modelsDir: MODELS_DIR, precision: 'fp32', detector: 'auto', antispoof: false, liveness: false });
      const [det] = await p.detect(img);
      await p.release();
      expect(await scorer.score(img, det!.box)).toBeCloseTo(direct, 6);
    } finally {
      await scorer.release();
    }
  });

  it('scores a batch of crops as the single crops', async () => {
    const xs = inputs.slice(0, 3);
    const batch = new Float32Array(xs.length * xs[0]!.length);
    xs.forEach((x, i) => batch.set(x, i * x.length));
    const r = await int8.run({ input: new ort.Tensor('float32', batch, [xs.length, 128, 128, 3]) });
    const single = await scores(int8, xs);
    expect(Array.from(r.score!.data as Float32Array)).toEqual(single.map((s) => expect.closeTo(s, 6)));
  });
});

describe('passiveCropsFromPhotos, bad input', () => {
  it('refuses a model that is not a passive network, naming it', async () => {
    await expect(passiveCropsFromPhotos([], { modelsDir: MODELS_DIR, model: 'mobilefacenet512-fp32' })).rejects.toThrow(
      /mobilefacenet512-fp32: not an anti-spoof or liveness model/,
    );
    await expect(passiveCropsFromPhotos([], { modelsDir: MODELS_DIR, model: 'no-such-model' })).rejects.toThrow(/no-such-model/);
  });

  it('turns an unreadable photo into a warning and keeps going', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'blink-passive-'));
    try {
      const bad = join(dir, 'broken.jpg');
      writeFileSync(bad, 'not a jpeg at all');
      const warned: string[] = [];
      const r = await passiveCropsFromPhotos([bad], { modelsDir: MODELS_DIR, model: 'antispoof', warn: (m) => warned.push(m) });
      expect(r.chips).toHaveLength(0);
      expect(r.warnings).toEqual(warned);
      expect(r.warnings[0]).toMatch(/broken\.jpg: skipped/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

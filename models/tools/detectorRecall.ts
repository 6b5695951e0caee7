/**
 * Detector comparison on single-person photos of the shared test set (each has one face, at
 * portrait/door distance): the image is centre-padded to a square, resized to the detector
 * input, and counts as found when the best anchor's score reaches the threshold.
 * Usage: npx tsx models/tools/detectorRecall.ts [FACES_DIR]
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { ALIGNED_IDENTITIES_ALL, listImages } from './faceCrops.js';

async function squareInput(path: string, size: number): Promise<Float32Array> {
  const { data } = await sharp(path)
    .rotate()
    .removeAlpha()
    .toColourspace('srgb')
    .resize(size, size, { fit: 'contain', background: { r: 0, g: 0, b: 0 } })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return Float32Array.from(data, (v) => v / 127.5 - 1);
}

function bestScore(logits: ArrayLike<number>, stride: number, n: number): number {
  let m = -Infinity;
  for (let i = 0; i < n; i++) m = Math.max(m, logits[i * stride] ?? -Infinity);
  return 1 / (1 + Math.exp(-m));
}

export async function detectorRecall(facesDir: string, modelsDir: string, thresholds = [0.5, 0.75]): Promise<Record<string, unknown>> {
  const ids = (await import('node:fs'))
    .readdirSync(facesDir)
    .filter((d) => !['distractors', 'group_photos', 'no_face', 'labels', ...ALIGNED_IDENTITIES_ALL].includes(d) && !d.includes('.'));
  const files = ids.sort().flatMap((id) => listImages(join(facesDir, id)));
  const blaze = await ort.InferenceSession.create(join(modelsDir, 'onnx', 'detector-blazeface.onnx'));
  const short = await ort.InferenceSession.create(join(modelsDir, 'onnx', 'detector-facemesh-short.onnx'));
  const scores: Record<string, number[]> = { blazeface: [], 'facemesh-detection-short': [] };
  for (const f of files) {
    const b = await blaze.run({ input: new ort.Tensor('float32', await squareInput(f, 256), [1, 256, 256, 3]) });
    const s16 = b.scores_16?.data as Float32Array;
    const s32 = b.scores_32?.data as Float32Array;
    scores.blazeface?.push(Math.max(bestScore(s16, 1, 512), bestScore(s32, 1, 384)));
    const s = await short.run({ input: new ort.Tensor('float32', await squareInput(f, 128), [1, 128, 128, 3]) });
    scores['facemesh-detection-short']?.push(bestScore(s.detections?.data as Float32Array, 17, 896));
  }
  const out: Record<string, unknown> = { images: files.length };
  for (const [k, v] of Object.entries(scores)) {
    for (const t of thresholds) out[`${k}@${t}`] = Number((v.filter((x) => x >= t).length / v.length).toFixed(3));
    out[`${k}_mean_score`] = Number((v.reduce((a, c) => a + c, 0) / v.length).toFixed(3));
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const faces = resolve(process.argv[2] ?? join(process.env.BLINK_TEST_DATA ?? '../shared/data', 'faces'));
  detectorRecall(faces, resolve(fileURLToPath(import.meta.url), '../..')).then((r) => console.log(JSON.stringify(r, null, 2)));
}

/**
 * The MiniFASNet-style anti-spoof network (manifest task `pad`, faceplugin's fr_liveness.onnx)
 * with its own pre- and post-processing, as Silent-Face trained it:
 *   crop  = the face box scaled ×2.7 about its centre (each side; the scale is reduced so the
 *           crop fits the image, then the crop is shifted inside the image), resized to 128×128
 *           (bilinear, aspect not kept, as cv.resize);
 *   input = raw 0..255 pixels in the manifest's channel order (BGR), NCHW;
 *   score = softmax(logits)[0], the "real" class.
 * It scores random noise as real (docs/EVALUATION.md), so it must never decide alone.
 */
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import type { RgbImage } from './align.js';
import { loadModelManifest, modelFor, verifyModels, type ModelEntry } from './modelManifest.js';
import { inputSize, sessionOptions } from './modelSet.js';
import { acceptsBatch } from './models/imageModel.js';
import type { Box } from './types.js';

export const MINIFASNET_BOX_SCALE = 2.7;

/** The crop rectangle (image pixels) for a face box, as Silent-Face's CropImage computes it. */
export function minifasnetCrop(
  img: { width: number; height: number },
  box: Box,
  scale = MINIFASNET_BOX_SCALE,
): { x: number; y: number; width: number; height: number } {
  const s = Math.min((img.height - 1) / box.height, (img.width - 1) / box.width, scale);
  const w = box.width * s,
    h = box.height * s;
  const cx = box.x + box.width / 2,
    cy = box.y + box.height / 2;
  let x0 = cx - w / 2,
    y0 = cy - h / 2,
    x1 = cx + w / 2,
    y1 = cy + h / 2;
  if (x0 < 0) {
    x1 -= x0;
    x0 = 0;
  }
  if (y0 < 0) {
    y1 -= y0;
    y0 = 0;
  }
  if (x1 > img.width - 1) {
    x0 -= x1 - img.width + 1;
    x1 = img.width - 1;
  }
  if (y1 > img.height - 1) {
    y0 -= y1 - img.height + 1;
    y1 = img.height - 1;
  }
  return { x: Math.max(0, x0), y: Math.max(0, y0), width: x1 - Math.max(0, x0), height: y1 - Math.max(0, y0) };
}

export interface MiniFasNetScore {
  /** softmax probability of the "real" class (index 0) */
  real: number;
  probs: [number, number, number];
}

export class MiniFasNet {
  private readonly size: { width: number; height: number };
  private readonly buf: Float32Array;
  private readonly tensor: ort.Tensor;
  private readonly bgr: boolean;

  private constructor(
    readonly session: ort.InferenceSession,
    readonly entry: ModelEntry,
  ) {
    if (entry.input.layout !== 'NCHW') throw new Error(`model ${entry.id}: MiniFasNet expects an NCHW input`);
    this.size = inputSize(entry);
    this.buf = new Float32Array(3 * this.size.width * this.size.height);
    this.tensor = new ort.Tensor('float32', this.buf, [1, 3, this.size.height, this.size.width]);
    this.bgr = entry.normalization.channelOrder === 'BGR';
  }

  /** Loads the manifest's `pad` model (or `id`), verified by sha256. */
  static async create(modelsDir: string, o: { id?: string; threads?: number } = {}): Promise<MiniFasNet> {
    const entry = modelFor(loadModelManifest(modelsDir), 'pad', o.id);
    verifyModels(modelsDir, [entry.id]);
    const session = await ort.InferenceSession.create(join(modelsDir, entry.file), sessionOptions({ intraOpThreads: o.threads ?? 1 }));
    return new MiniFasNet(session, entry);
  }

  /** Fills the input tensor (at `offset`) with the crop of `box`: bilinear resize, raw pixel values, planar. */
  private pack(img: RgbImage, box: Box, buf = this.buf, offset = 0): void {
    const r = minifasnetCrop(img, box);
    const { width: W, height: H } = this.size;
    const n = W * H;
    const { mean, std } = this.entry.normalization;
    const order = this.bgr ? [2, 1, 0] : [0, 1, 2];
    for (let y = 0; y < H; y++) {
      // pixel centres, as cv.resize (INTER_LINEAR)
      const sy = Math.min(img.height - 1, Math.max(0, r.y + ((y + 0.5) * r.height) / H - 0.5));
      const y0 = Math.floor(sy),
        y1 = Math.min(img.height - 1, y0 + 1),
        fy = sy - y0;
      for (let x = 0; x < W; x++) {
        const sx = Math.min(img.width - 1, Math.max(0, r.x + ((x + 0.5) * r.width) / W - 0.5));
        const x0 = Math.floor(sx),
          x1 = Math.min(img.width - 1, x0 + 1),
          fx = sx - x0;
        for (let c = 0; c < 3; c++) {
          const src = order[c]!;
          const p = (yy: number, xx: number): number => img.data[(yy * img.width + xx) * 3 + src]!;
          const v = (p(y0, x0) * (1 - fx) + p(y0, x1) * fx) * (1 - fy) + (p(y1, x0) * (1 - fx) + p(y1, x1) * fx) * fy;
          buf[offset + c * n + y * W + x] = (v - mean[c]!) / std[c]!;
        }
      }
    }
  }

  async score(img: RgbImage, box: Box): Promise<MiniFasNetScore> {
    this.pack(img, box);
    const res = await this.session.run({ [this.entry.input.name]: this.tensor });
    return softmax3(res[this.entry.outputs[0]?.name ?? 'output']!.data as Float32Array);
  }

  /** The scores of several faces of one frame: one batched run when the model's input dim 0 is symbolic, else one run each. */
  async scores(img: RgbImage, boxes: readonly Box[]): Promise<MiniFasNetScore[]> {
    if (!acceptsBatch(this.session) || boxes.length < 2) {
      const out: MiniFasNetScore[] = [];
      for (const b of boxes) out.push(await this.score(img, b));
      return out;
    }
    const per = this.buf.length;
    const buf = new Float32Array(per * boxes.length);
    boxes.forEach((b, i) => this.pack(img, b, buf, i * per));
    const { width, height } = this.size;
    const res = await this.session.run({ [this.entry.input.name]: new ort.Tensor('float32', buf, [boxes.length, 3, height, width]) });
    const logits = res[this.entry.outputs[0]?.name ?? 'output']!.data as Float32Array;
    return boxes.map((_, i) => softmax3(logits.subarray(i * 3, i * 3 + 3)));
  }

  /** Scores an already packed input (tests: noise images). */
  async scoreInput(x: Float32Array): Promise<MiniFasNetScore> {
    this.buf.set(x);
    const res = await this.session.run({ [this.entry.input.name]: this.tensor });
    return softmax3(res[this.entry.outputs[0]?.name ?? 'output']!.data as Float32Array);
  }

  async release(): Promise<void> {
    await this.session.release().catch(() => {});
  }
}

function softmax3(l: Float32Array): MiniFasNetScore {
  const m = Math.max(l[0]!, l[1]!, l[2]!);
  const e = [Math.exp(l[0]! - m), Math.exp(l[1]! - m), Math.exp(l[2]! - m)];
  const s = e[0]! + e[1]! + e[2]!;
  const probs: [number, number, number] = [e[0]! / s, e[1]! / s, e[2]! / s];
  return { real: probs[0], probs };
}

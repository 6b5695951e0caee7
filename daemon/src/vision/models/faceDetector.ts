import ort from 'onnxruntime-node';
import type { ModelEntry } from '../modelManifest.js';
import { applySimilarity, invertSimilarity, warpToTensor, type InputNorm, type RgbImage, type Similarity } from '../align.js';
import { inputNorm, inputSize } from '../modelSet.js';
import type { Box, Point } from '../types.js';
import { iou } from '../box.js';

/** One face found by the detector, in image pixels. */
export interface Detection {
  box: Box;
  score: number;
  /** MediaPipe keypoints: subject's right eye, left eye, nose tip, mouth centre, right ear, left ear. */
  keypoints: Point[];
}

export interface DetectOptions {
  minScore: number;
  iou: number;
  maxFaces: number;
  /**
   * Zoom-out factor: the image is placed in a square canvas this many times its longer side
   * (1 = letterbox only). Tight face crops (aligned 150×150 chips) need 2 to be found.
   */
  zoomOut: number;
}

/** Anchor centres of the MediaPipe/BlazeFace SSD: strides size/16 and size/8 with 2 and 6 anchors per cell. */
export function blazeAnchors(size: number): Float32Array {
  const spec = [
    { stride: size / 16, n: 2 },
    { stride: size / 8, n: 6 },
  ];
  const out: number[] = [];
  for (const { stride, n } of spec) {
    const cells = Math.ceil(size / stride);
    for (let gy = 0; gy < cells; gy++) for (let gx = 0; gx < cells; gx++) for (let k = 0; k < n; k++) out.push(stride * (gx + 0.5), stride * (gy + 0.5));
  }
  return Float32Array.from(out);
}

export function nonMaxSuppression(dets: Detection[], iouThreshold: number, maxFaces: number): Detection[] {
  const sorted = [...dets].sort((a, b) => b.score - a.score);
  const kept: Detection[] = [];
  for (const d of sorted) {
    if (kept.length >= maxFaces) break;
    if (kept.every((k) => iou(k.box, d.box) < iouThreshold)) kept.push(d);
  }
  return kept;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/**
 * BlazeFace-family detector (Human's blazeface 256×256 or MediaPipe short-range 128×128).
 * The frame is letterboxed (optionally zoomed out) into the square input by one similarity
 * warp, so aspect ratio is kept and the boxes map back exactly.
 */
export class FaceDetector {
  private readonly size: number;
  private readonly anchors: Float32Array;
  private readonly input: Float32Array;
  private readonly tensor: ort.Tensor;
  private readonly norm: InputNorm;

  constructor(
    readonly session: ort.InferenceSession,
    readonly entry: ModelEntry,
  ) {
    const s = inputSize(entry);
    if (s.width !== s.height) throw new Error(`detector ${entry.id}: square input expected, got ${s.width}x${s.height}`);
    this.size = s.width;
    this.anchors = blazeAnchors(this.size);
    this.input = new Float32Array(this.size * this.size * 3);
    this.tensor = new ort.Tensor('float32', this.input, [1, this.size, this.size, 3]);
    this.norm = inputNorm(entry);
  }

  /** image → detector-input transform for a zoom-out factor. */
  private letterbox(img: RgbImage, zoomOut: number): Similarity {
    const side = Math.max(img.width, img.height) * zoomOut;
    const k = this.size / side;
    return { a: k, b: 0, tx: this.size / 2 - (k * img.width) / 2, ty: this.size / 2 - (k * img.height) / 2 };
  }

  async detect(img: RgbImage, o: DetectOptions): Promise<Detection[]> {
    const t = this.letterbox(img, o.zoomOut);
    warpToTensor(img, t, this.size, this.size, this.norm, this.input);
    const res = await this.session.run({ [this.entry.input.name]: this.tensor });
    const rows = this.rows(res);
    const inv = invertSimilarity(t);
    const dets: Detection[] = [];
    const n = this.anchors.length / 2;
    for (let i = 0; i < n; i++) {
      const r = rows(i);
      const score = sigmoid(r[0]!);
      if (score < o.minScore) continue;
      const ax = this.anchors[i * 2]!,
        ay = this.anchors[i * 2 + 1]!;
      const cx = ax + r[1]!,
        cy = ay + r[2]!,
        w = r[3]!,
        h = r[4]!;
      const p0 = applySimilarity(inv, { x: cx - w / 2, y: cy - h / 2 });
      const p1 = applySimilarity(inv, { x: cx + w / 2, y: cy + h / 2 });
      const keypoints: Point[] = [];
      for (let k = 0; k < 6; k++) keypoints.push(applySimilarity(inv, { x: ax + r[5 + 2 * k]!, y: ay + r[6 + 2 * k]! }));
      dets.push({ box: { x: p0.x, y: p0.y, width: p1.x - p0.x, height: p1.y - p0.y }, score, keypoints });
    }
    return nonMaxSuppression(dets, o.iou, o.maxFaces);
  }

  /** Row accessor over either output layout: one [1,896,17] tensor, or split scores/boxes per stride. */
  private rows(res: ort.InferenceSession.OnnxValueMapType): (i: number) => Float32Array {
    const outs = this.entry.outputs.map((s) => res[s.name]?.data as Float32Array | undefined);
    if (outs.length === 1 && outs[0]) {
      const d = outs[0];
      return (i) => d.subarray(i * 17, i * 17 + 17);
    }
    const byName = (name: string): Float32Array => {
      const v = res[name]?.data as Float32Array | undefined;
      if (!v) throw new Error(`detector ${this.entry.id}: output ${name} missing`);
      return v;
    };
    const names = this.entry.outputs.map((s) => s.name);
    const find = (re: RegExp): string => names.find((x) => re.test(x)) ?? '';
    const s16 = byName(find(/scores.*(16|first|0)$/) || names[0]!),
      s32 = byName(find(/scores.*(32|second|1)$/) || names[1]!);
    const b16 = byName(find(/boxes.*(16|first|0)$/) || names[2]!),
      b32 = byName(find(/boxes.*(32|second|1)$/) || names[3]!);
    const n16 = s16.length;
    const row = new Float32Array(17);
    return (i) => {
      if (i < n16) {
        row[0] = s16[i]!;
        row.set(b16.subarray(i * 16, i * 16 + 16), 1);
      } else {
        const j = i - n16;
        row[0] = s32[j]!;
        row.set(b32.subarray(j * 16, j * 16 + 16), 1);
      }
      return row;
    };
  }
}

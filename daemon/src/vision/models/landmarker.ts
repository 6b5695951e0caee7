import { invertSimilarity, similarityScale, squareRoiTransform, type RgbImage, type Similarity } from '../align.js';
import { MESH_POINTS, type Mesh } from '../meshIndices.js';
import type { ModelEntry } from '../modelManifest.js';
import type { SessionOptions } from '../modelSet.js';
import type { Box } from '../types.js';
import type { Detection } from './faceDetector.js';
import { ImageModel } from './imageModel.js';

/** A square crop around a face, rotated so the eyes are level. */
export interface Roi {
  cx: number;
  cy: number;
  size: number;
  angle: number;
}

/**
 * FaceMesh: 468 landmarks from a face crop. The crop is MediaPipe's ROI (detector box × 1.5,
 * square, rotated so the eyes are level); the mesh comes back in image pixels (x, y, z) with the
 * network's face-presence score.
 */
export class Landmarker {
  private constructor(private readonly model: ImageModel) {}

  /**
   * Several faces of a frame run as one batch only with more than one intra-op thread: on one
   * thread a batch of 3 crops measured 2.08 ms per face against 1.62 ms for single runs (x86
   * here, 2026-12-03; a batch's activations, ~2.4 MB per face in the first layers, outgrow the
   * cache), while on two threads the batch wins (1.31 ms per face).
   */
  static async load(modelsDir: string, entry: ModelEntry, o: SessionOptions): Promise<Landmarker> {
    return new Landmarker(await ImageModel.load(modelsDir, entry, o, (o.intraOpThreads ?? 1) > 1));
  }

  get entry(): ModelEntry {
    return this.model.entry;
  }

  /** MediaPipe's crop for a detection: box × scale, square, eyes level. */
  static roiFor(det: Detection, scale = 1.5): Roi {
    const [re, le] = det.keypoints;
    const angle = re && le ? Math.atan2(le.y - re.y, le.x - re.x) : 0;
    return { cx: det.box.x + det.box.width / 2, cy: det.box.y + det.box.height / 2, size: Math.max(det.box.width, det.box.height) * scale, angle };
  }

  private transform(roi: Roi): Similarity {
    return squareRoiTransform(roi.cx, roi.cy, roi.size, roi.angle, this.model.size.width);
  }

  async mesh(img: RgbImage, roi: Roi): Promise<{ mesh: Mesh; faceScore: number }> {
    const t = this.transform(roi);
    const res = await this.model.runWarped(img, t);
    return decodeMesh(this.model.out(res, 0), this.model.out(res, 1)[0] ?? 0, t);
  }

  /** The meshes of several ROIs of one frame: one batched run when the model takes a batch and batching pays (see load), else one run each. */
  async meshes(img: RgbImage, rois: readonly Roi[]): Promise<{ mesh: Mesh; faceScore: number }[]> {
    const ts = rois.map((r) => this.transform(r));
    const out = await this.model.runWarpedBatch(img, ts);
    const raw = out(0),
      flags = out(1);
    return ts.map((t, i) => decodeMesh(raw[i]!, flags[i]![0] ?? 0, t));
  }

  /** Does the mesh network run several faces as one batch (the file takes one and batching pays, see load)? */
  get batchable(): boolean {
    return this.model.batchable;
  }

  /** The bounding box of a mesh's points. */
  static box(mesh: Mesh): Box {
    let x0 = Infinity,
      y0 = Infinity,
      x1 = -Infinity,
      y1 = -Infinity;
    for (let i = 0; i < MESH_POINTS; i++) {
      const x = mesh[i * 3]!,
        y = mesh[i * 3 + 1]!;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
    return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
  }

  release(): Promise<void> {
    return this.model.release();
  }
}

/** The network's raw output (crop pixels) back to image pixels, and its face flag as a probability. */
function decodeMesh(raw: Float32Array, flag: number, t: Similarity): { mesh: Mesh; faceScore: number } {
  const inv = invertSimilarity(t);
  const zScale = 1 / similarityScale(t);
  const mesh = new Float32Array(MESH_POINTS * 3);
  for (let i = 0; i < MESH_POINTS; i++) {
    const x = raw[i * 3]!,
      y = raw[i * 3 + 1]!;
    mesh[i * 3] = inv.a * x - inv.b * y + inv.tx;
    mesh[i * 3 + 1] = inv.b * x + inv.a * y + inv.ty;
    mesh[i * 3 + 2] = raw[i * 3 + 2]! * zScale;
  }
  const faceScore = flag >= 0 && flag <= 1 ? flag : 1 / (1 + Math.exp(-flag));
  return { mesh, faceScore };
}

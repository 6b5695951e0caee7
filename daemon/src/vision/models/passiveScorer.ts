import { squareRoiTransform, type RgbImage, type Similarity } from '../align.js';
import type { ModelEntry } from '../modelManifest.js';
import type { SessionOptions } from '../modelSet.js';
import type { Box } from '../types.js';
import { ImageModel } from './imageModel.js';

/**
 * The crop Human's anti-spoof and liveness networks were trained on, into a `size`² input: the
 * face box × 1.4, square and upright. The one definition: the scorer and the INT8 calibration
 * (models/tools/faceCrops.ts) both use it.
 */
export function passiveCropTransform(box: Box, size: number): Similarity {
  const cx = box.x + box.width / 2,
    cy = box.y + box.height / 2,
    side = Math.max(box.width, box.height) * 1.4;
  return squareRoiTransform(cx, cy, side, 0, size);
}

/**
 * A passive presentation-attack network (Human's anti-spoof and liveness models): one score in
 * 0..1 (1 = a real, live face) from the face box × 1.4, square and upright — the crop those
 * models were trained on. A score, not a verdict: the liveness policy decides what it counts for.
 */
export class PassiveScorer {
  private constructor(private readonly model: ImageModel) {}

  static async load(modelsDir: string, entry: ModelEntry, o: SessionOptions): Promise<PassiveScorer> {
    return new PassiveScorer(await ImageModel.load(modelsDir, entry, o));
  }

  get entry(): ModelEntry {
    return this.model.entry;
  }

  private transform(box: Box): Similarity {
    return passiveCropTransform(box, this.model.size.width);
  }

  async score(img: RgbImage, box: Box): Promise<number | null> {
    const res = await this.model.runWarped(img, this.transform(box));
    return this.model.out(res, 0)[0] ?? null;
  }

  /** The scores of several faces of one frame (one batched run when the model takes a batch). */
  async scores(img: RgbImage, boxes: readonly Box[]): Promise<(number | null)[]> {
    const out = await this.model.runWarpedBatch(
      img,
      boxes.map((b) => this.transform(b)),
    );
    return out(0).map((r) => r[0] ?? null);
  }

  release(): Promise<void> {
    return this.model.release();
  }
}

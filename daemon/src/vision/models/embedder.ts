import { arcfaceTemplate, dlibChipTemplate, estimateSimilarity, warpRgb, type FivePoints, type RgbImage, type Similarity } from '../align.js';
import { claheRgb } from '../clahe.js';
import type { ModelEntry } from '../modelManifest.js';
import { inputSize, type SessionOptions } from '../modelSet.js';
import type { Point } from '../types.js';
import { l2normalize } from '../../util/vector.js';
import { ImageModel } from './imageModel.js';

/**
 * A face recognition network: aligns a face to its chip (dlib's face chip for face-api's ResNet,
 * the ArcFace 112 template otherwise) and turns the chip into an L2-normalised embedding. The
 * manifest id is the id templates are stored under; the dimension is its output's last axis.
 */
export class Embedder {
  private readonly template: FivePoints;

  private constructor(
    private readonly model: ImageModel,
    private readonly clahe: boolean,
  ) {
    const e = model.entry;
    const { width } = inputSize(e);
    this.template = /faceapi|dlib/i.test(e.id) || width === 150 ? dlibChipTemplate(width, 0.25) : arcfaceTemplate(width);
  }

  static async load(modelsDir: string, entry: ModelEntry, o: SessionOptions & { clahe?: boolean }): Promise<Embedder> {
    return new Embedder(await ImageModel.load(modelsDir, entry, o), !!o.clahe);
  }

  get entry(): ModelEntry {
    return this.model.entry;
  }

  get id(): string {
    return this.model.entry.id;
  }

  get precision(): 'int8' | 'fp32' {
    return this.model.entry.precision ?? 'fp32';
  }

  get dim(): number {
    const s = this.model.entry.outputs[0]?.shape;
    return s ? s[s.length - 1]! : 128;
  }

  /** The aligned RGB chip for this network from five points (image-left eye first). */
  align(img: RgbImage, five: readonly Point[]): { chip: Uint8Array; size: number; transform: Similarity } {
    const size = this.model.size.width;
    const transform = estimateSimilarity(five, this.template);
    return { chip: warpRgb(img, transform, size, size), size, transform };
  }

  /** The L2-normalised embedding of an aligned chip. */
  async embed(chip: Uint8Array): Promise<Float32Array> {
    const { width, height } = this.model.size;
    const input = this.clahe ? claheRgb(chip, width, height) : chip;
    const res = await this.model.runCrop(input);
    return l2normalize(Float32Array.from(this.model.out(res, 0)));
  }

  /** Embeddings of several chips (the faces of one frame): one batched run when the model takes a batch, else one run each. */
  async embedMany(chips: readonly Uint8Array[]): Promise<Float32Array[]> {
    const { width, height } = this.model.size;
    const inputs = this.clahe ? chips.map((c) => claheRgb(c, width, height)) : chips;
    const out = await this.model.runCropBatch(inputs);
    return out(0).map((e) => l2normalize(e));
  }

  /** Does this network run several faces as one batch? */
  get batchable(): boolean {
    return this.model.batchable;
  }

  release(): Promise<void> {
    return this.model.release();
  }
}

import { decodeChip, encodeChip } from './chip.js';
import { decodeImage, NotAnImageError } from './decode.js';
import { EnrollError } from './enrollError.js';
import type { FacePipeline } from './pipeline.js';
import { DEFAULT_GATES, type QualityGates } from './quality.js';
import type { Box, FaceQuality } from './types.js';

export interface EnrollImage {
  name: string;
  data: Buffer;
}

export interface EnrollerOptions {
  gates?: QualityGates;
  /** A second face at least this fraction of the main face's width makes the image "multiple faces". */
  secondFaceRatio?: number;
  maxImages?: number;
}

/** One enrollment photo analysed: the face's embedding, quality and box. */
export interface AnalyzedImage {
  name: string;
  embedding: Float32Array;
  quality: FaceQuality;
  /** The face box in the coordinates of the image as analysed (photos over 1920 px are downscaled first)... */
  box: Box;
  /** ...which had this size (scale the box by the original's size over this one). */
  analysedSize: { width: number; height: number };
  /** The model-independent aligned chip (PNG, vision/chip.ts), kept on the unit for re-embedding. */
  chip: Uint8Array;
}

/**
 * The vision half of enrollment: each photo must hold exactly one face that passes the quality
 * gates; its aligned chip is embedded. Nothing is written here — the people registry checks for
 * duplicates and stores the person (registry/peopleRegistry.ts). Runs wherever a pipeline runs:
 * the admin's enrollment worker, the CLI.
 */
export class Enroller {
  private readonly gates: QualityGates;

  constructor(
    private readonly pipeline: FacePipeline,
    private readonly options: EnrollerOptions = {},
  ) {
    this.gates = options.gates ?? DEFAULT_GATES;
  }

  get modelId(): string {
    return this.pipeline.embedderId();
  }

  get precision(): 'int8' | 'fp32' {
    return this.pipeline.choice.embedder.precision;
  }

  /** One image → its face's embedding, quality and box, or an EnrollError. */
  async analyze(data: Buffer, index = 0, name = `image ${index + 1}`): Promise<AnalyzedImage> {
    let img;
    try {
      img = await decodeImage(data);
    } catch (err) {
      if (err instanceof NotAnImageError) throw new EnrollError('not_an_image', `${name}: ${err.message}`, index);
      throw err;
    }
    const r = await this.pipeline.process(img, { retryZoomedOut: true, embed: false, passive: false, gates: this.gates });
    if (r.faces.length === 0) throw new EnrollError('no_face', `${name}: no face found`, index);
    const sorted = [...r.faces].sort((a, b) => b.box.width - a.box.width);
    const main = sorted[0]!;
    const ratio = this.options.secondFaceRatio ?? 0.4;
    const others = sorted.slice(1).filter((f) => f.box.width >= ratio * main.box.width);
    if (others.length > 0)
      throw new EnrollError('multiple_faces', `${name}: ${others.length + 1} faces found; use a photo of one person`, index, { faces: others.length + 1 });
    if (main.quality.problems.length > 0) {
      throw new EnrollError('poor_quality', `${name}: ${main.quality.problems.join('; ')}`, index, { reasons: main.quality.problems, quality: main.quality });
    }
    const { chip } = this.pipeline.alignChip(img, main.landmarks5);
    const embedding = await this.pipeline.embedChip(chip);
    const stored = await encodeChip(img, main.landmarks5);
    return { name, embedding, quality: main.quality, box: main.box, analysedSize: { width: img.width, height: img.height }, chip: stored };
  }

  /** Stored chips (vision/chip.ts) → their embeddings by this embedder, aligned its own way from the chip's five points. */
  async embedChips(pngs: readonly Uint8Array[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const png of pngs) {
      const { img, five } = await decodeChip(png);
      out.push(await this.pipeline.embedChip(this.pipeline.alignChip(img, five).chip));
    }
    return out;
  }

  /** Every image of an enrollment, in order; the first one that fails stops it. */
  async analyzeAll(images: readonly EnrollImage[]): Promise<AnalyzedImage[]> {
    const max = this.options.maxImages ?? 10;
    if (images.length === 0) throw new EnrollError('no_face', 'no images given (1 or more; 3–5 recommended)');
    if (images.length > max) throw new EnrollError('poor_quality', `too many images (${images.length} > ${max})`, null, { reasons: ['too many images'] });
    const out: AnalyzedImage[] = [];
    for (const [i, im] of images.entries()) out.push(await this.analyze(im.data, i, im.name));
    return out;
  }
}

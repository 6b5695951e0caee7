import type { EventBus } from '../events.js';
import type { Person } from '../store/peopleRepo.js';
import type { Store } from '../store/store.js';
import { Gallery } from '../gallery/gallery.js';
import { decodeImage, NotAnImageError } from './decode.js';
import type { FacePipeline } from './pipeline.js';
import { DEFAULT_GATES, type QualityGates } from './quality.js';
import type { Box, FaceQuality } from './types.js';

export type EnrollErrorKind = 'no_face' | 'multiple_faces' | 'poor_quality' | 'duplicate' | 'not_an_image';

/** Why enrollment refused; nothing was written. `imageIndex` is the 0-based image it is about. */
export class EnrollError extends Error {
  constructor(
    readonly kind: EnrollErrorKind,
    message: string,
    readonly imageIndex: number | null = null,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'EnrollError';
  }
}

export interface EnrollImage {
  name: string;
  data: Buffer;
}

export interface EnrollRequest {
  /** A new person, or an existing person's id to add templates to. */
  person: { name: string; externalId?: string | null } | { id: string };
  images: EnrollImage[];
  source?: 'upload' | 'camera' | 'cli' | 'sync';
}

export interface EnrolledImage {
  name: string;
  quality: number;
  box: Box;
  qualityDetails: FaceQuality;
}

export interface EnrollResult {
  person: Person;
  templates: number;
  modelId: string;
  images: EnrolledImage[];
}

export interface EnrollerOptions {
  /** Cosine threshold for the duplicate check (config access.threshold). */
  threshold: number;
  gates?: QualityGates;
  /** A second face at least this fraction of the main face's width makes the image "multiple faces". */
  secondFaceRatio?: number;
  maxImages?: number;
}

export interface AnalyzedImage {
  embedding: Float32Array;
  quality: FaceQuality;
  box: Box;
}

/**
 * Enrollment from photos: each image must hold exactly one face that passes the quality
 * gates; the face must not match anyone already enrolled (duplicate, naming them). Only when
 * every image passes are the person and templates written, in one transaction, and
 * 'people.changed' emitted. Used by the CLI and the admin API.
 */
export class Enroller {
  private readonly gates: QualityGates;

  constructor(
    private readonly pipeline: FacePipeline,
    private readonly store: Store,
    private readonly bus: EventBus | null,
    private readonly options: EnrollerOptions,
  ) {
    this.gates = options.gates ?? DEFAULT_GATES;
  }

  get modelId(): string {
    return this.pipeline.embedderId();
  }

  /** One image → its face's embedding and quality, or an EnrollError. */
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
    return { embedding, quality: main.quality, box: main.box };
  }

  /** Embedding of the single face in an image (admin "embed" API). */
  async embed(data: Buffer): Promise<{ embedding: Float32Array; modelId: string; precision: string }> {
    const a = await this.analyze(data);
    return { embedding: a.embedding, modelId: this.modelId, precision: this.pipeline.choice.embedder.precision };
  }

  async enroll(req: EnrollRequest): Promise<EnrollResult> {
    const max = this.options.maxImages ?? 10;
    if (req.images.length === 0) throw new EnrollError('no_face', 'no images given (1 or more; 3–5 recommended)');
    if (req.images.length > max)
      throw new EnrollError('poor_quality', `too many images (${req.images.length} > ${max})`, null, { reasons: ['too many images'] });
    let existing: Person | undefined;
    if ('id' in req.person) {
      existing = this.store.people.get(req.person.id);
      if (!existing) throw new Error(`no person with id ${req.person.id}`);
    } else if (!req.person.name || !req.person.name.trim()) {
      throw new Error('a name is required');
    }
    const analyzed: AnalyzedImage[] = [];
    for (const [i, im] of req.images.entries()) analyzed.push(await this.analyze(im.data, i, im.name));
    this.checkDuplicates(analyzed, req.images, existing?.id ?? null);
    const modelId = this.modelId;
    const source = req.source ?? 'upload';
    const person = this.store.transaction(() => {
      const p =
        existing ??
        this.store.people.create({
          name: (req.person as { name: string }).name.trim(),
          externalId: (req.person as { externalId?: string | null }).externalId ?? null,
        });
      for (const a of analyzed) this.store.templates.add(p.id, modelId, a.embedding, a.quality.overall, source);
      return p;
    });
    this.bus?.emit('people.changed', { personId: person.id, action: existing ? 'templates' : 'created' });
    return {
      person,
      templates: analyzed.length,
      modelId,
      images: analyzed.map((a, i) => ({ name: req.images[i]!.name, quality: a.quality.overall, box: a.box, qualityDetails: a.quality })),
    };
  }

  /** Refuses a face that matches someone else at or above the threshold (any status: a deactivated person is still that person). */
  private checkDuplicates(analyzed: AnalyzedImage[], images: EnrollImage[], self: string | null): void {
    const others: { personId: string; embedding: Float32Array }[] = [];
    for (const p of this.store.people.list({ limit: 10_000_000 })) {
      if (p.id === self) continue;
      for (const t of this.store.templates.forPerson(p.id)) if (t.modelId === this.modelId) others.push({ personId: t.personId, embedding: t.embedding });
    }
    if (others.length === 0) return;
    const g = new Gallery(analyzed[0]!.embedding.length);
    g.load(others);
    analyzed.forEach((a, i) => {
      const [best] = g.search(a.embedding, 1);
      if (best && best.score >= this.options.threshold) {
        const p = this.store.people.get(best.personId);
        const who = p ? `${p.name} (${p.id})` : best.personId;
        throw new EnrollError('duplicate', `${images[i]!.name}: this face is already enrolled as ${who} (similarity ${best.score.toFixed(3)})`, i, {
          personId: best.personId,
          personName: p?.name ?? null,
          score: best.score,
        });
      }
    });
  }
}

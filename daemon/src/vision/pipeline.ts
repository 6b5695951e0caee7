import type { RgbImage, Similarity } from './align.js';
import { earFromMesh, fivePointsFromMesh, headPoseFromMesh, type Mesh } from './meshIndices.js';
import { verifyModels } from './modelManifest.js';
import { createSession, defaultModelsDir, loadAndVerify, resolveEmbedder, type ModelChoice, type ModelSelection, type SessionOptions } from './modelSet.js';
import { Embedder } from './models/embedder.js';
import { FaceDetector, type Detection, type DetectOptions } from './models/faceDetector.js';
import { Landmarker, type Roi } from './models/landmarker.js';
import { PassiveScorer } from './models/passiveScorer.js';
import { MiniFasNet } from './miniFasNet.js';
import { assessQuality, DEFAULT_GATES, type QualityGates } from './quality.js';
import type { Box, FaceObservation, FrameTimings, Point } from './types.js';

export interface PipelineOptions extends ModelSelection, SessionOptions {
  /** Apply CLAHE to the aligned chip before embedding. */
  clahe?: boolean;
  /** Also load the other-precision embedder (for eval/bench side-by-side). */
  loadBothPrecisions?: boolean;
  /** Load the manifest's presentation-attack network (MiniFASNet) and score every face with it (FaceObservation.minifasnetScore). */
  pad?: boolean;
}

export interface ProcessOptions {
  minScore?: number;
  /** Faces whose box is narrower than this (pixels) are ignored. */
  minFaceSizePx?: number;
  maxFaces?: number;
  /** Retry with the image zoomed out when nothing is found (tight crops, uploads). */
  retryZoomedOut?: boolean;
  /** Compute embeddings (default true). */
  embed?: boolean;
  /** Run the anti-spoof / liveness networks (default true when loaded). */
  passive?: boolean;
  /** Embed with this precision when both are loaded. */
  precision?: 'int8' | 'fp32';
  gates?: QualityGates;
}

export interface ProcessResult {
  faces: FaceObservation[];
  timings: Omit<FrameTimings, 'decodeMs' | 'totalMs'>;
  /** Did the zoomed-out retry find the faces? */
  zoomedOut: boolean;
}

export interface StillFace {
  face: FaceObservation;
  /** How many faces the image holds. */
  faces: number;
  embeddings: Partial<Record<'int8' | 'fp32', Float32Array>>;
}

/**
 * The per-frame vision pipeline, as InsightFace's FaceAnalysis does it: each network is a class
 * that owns its session and its pre/post-processing (models/faceDetector.ts, landmarker.ts,
 * embedder.ts, passiveScorer.ts); this class only runs them in order — detect → mesh → five points
 * → aligned chip → quality → embed (+ passive scores). One instance per thread.
 */
export class FacePipeline {
  private constructor(
    readonly choice: ModelChoice,
    readonly modelsDir: string,
    private readonly detectors: FaceDetector[],
    private readonly landmarker: Landmarker,
    private readonly embedders: Map<'int8' | 'fp32', Embedder>,
    private readonly antispoof: PassiveScorer | null,
    private readonly liveness: PassiveScorer | null,
    private readonly pad: MiniFasNet | null = null,
  ) {}

  static async create(options: PipelineOptions = {}): Promise<FacePipeline> {
    const dir = options.modelsDir || defaultModelsDir();
    const { manifest, choice } = loadAndVerify(dir, options);
    const so = { intraOpThreads: options.intraOpThreads, interOpThreads: options.interOpThreads };
    const embedders = new Map<'int8' | 'fp32', Embedder>();
    embedders.set(choice.embedder.precision, await Embedder.load(dir, choice.embedder, { ...so, clahe: options.clahe }));
    if (options.loadBothPrecisions) {
      const other = choice.embedder.precision === 'int8' ? 'fp32' : 'int8';
      const e = resolveEmbedder(manifest, choice.embedder.id, other);
      if (e.precision === other) {
        verifyModels(dir, [e.id]);
        embedders.set(other, await Embedder.load(dir, e, { ...so, clahe: options.clahe }));
      }
    }
    return new FacePipeline(
      choice,
      dir,
      [
        new FaceDetector(await createSession(dir, choice.detector, so), choice.detector),
        ...(choice.fallbackDetector ? [new FaceDetector(await createSession(dir, choice.fallbackDetector, so), choice.fallbackDetector)] : []),
      ],
      await Landmarker.load(dir, choice.landmarks, so),
      embedders,
      choice.antispoof ? await PassiveScorer.load(dir, choice.antispoof, so) : null,
      choice.liveness ? await PassiveScorer.load(dir, choice.liveness, so) : null,
      options.pad ? await MiniFasNet.create(dir, { threads: options.intraOpThreads }) : null,
    );
  }

  /** Manifest id of the embedder used for templates at a precision. */
  embedderId(precision?: 'int8' | 'fp32'): string {
    return this.embedderFor(precision).id;
  }

  get embeddingDim(): number {
    return this.embedderFor().dim;
  }

  private embedderFor(precision?: 'int8' | 'fp32'): Embedder {
    const e = (precision && this.embedders.get(precision)) || this.embedders.get(this.choice.embedder.precision);
    if (!e) throw new Error(`no ${precision} embedder loaded`);
    return e;
  }

  /** Faces found by the first detector of the cascade that finds any (short-range, then BlazeFace with 'auto'). */
  async detect(img: RgbImage, o: Partial<DetectOptions> = {}): Promise<Detection[]> {
    const opts = { minScore: 0.5, iou: 0.3, maxFaces: 10, zoomOut: 1, ...o };
    let dets: Detection[] = [];
    for (const d of this.detectors) {
      dets = await d.detect(img, opts);
      if (dets.length > 0) break;
    }
    return dets;
  }

  /** Runs the mesh on a ROI; returns the mesh in image pixels (x, y, z) and the face-presence score. */
  landmarks(img: RgbImage, roi: Roi): Promise<{ mesh: Mesh; faceScore: number }> {
    return this.landmarker.mesh(img, roi);
  }

  /** Aligned RGB chip for the embedder from five points (image-left eye first). */
  alignChip(img: RgbImage, five: readonly Point[], precision?: 'int8' | 'fp32'): { chip: Uint8Array; size: number; transform: Similarity } {
    return this.embedderFor(precision).align(img, five);
  }

  /** L2-normalised embedding of an aligned chip. */
  embedChip(chip: Uint8Array, precision?: 'int8' | 'fp32'): Promise<Float32Array> {
    return this.embedderFor(precision).embed(chip);
  }

  /** Passive anti-spoof and liveness scores of the face box. */
  async passiveScores(img: RgbImage, box: Box): Promise<{ antispoof: number | null; liveness: number | null }> {
    return { antispoof: this.antispoof ? await this.antispoof.score(img, box) : null, liveness: this.liveness ? await this.liveness.score(img, box) : null };
  }

  async process(img: RgbImage, o: ProcessOptions = {}): Promise<ProcessResult> {
    const timings = { detectMs: 0, meshMs: 0, alignMs: 0, embedMs: 0, antispoofMs: 0 };
    const det = { minScore: o.minScore ?? 0.5, iou: 0.3, maxFaces: o.maxFaces ?? 10 };
    const minSize = o.minFaceSizePx ?? 0;
    // Detector cascade: the next detector (then the zoomed-out pass) runs only when the previous
    // one gave no face the mesh confirms (a false detection of the fast detector must not hide a face).
    const zooms = o.retryZoomedOut ? [1, 2] : [1];
    for (const zoomOut of zooms) {
      for (const detector of this.detectors) {
        const t0 = performance.now();
        const dets = (await detector.detect(img, { ...det, zoomOut })).filter((d) => Math.max(d.box.width, d.box.height) >= minSize);
        timings.detectMs += performance.now() - t0;
        if (dets.length === 0) continue;
        const faces = await this.describe(img, dets, o, timings);
        if (faces.length > 0) return { faces, timings, zoomedOut: zoomOut > 1 };
      }
    }
    return { faces: [], timings, zoomedOut: false };
  }

  /** Mesh → five points → chip → quality → embedding and passive scores for each detection the mesh confirms. */
  private async describe(img: RgbImage, dets: Detection[], o: ProcessOptions, timings: ProcessResult['timings']): Promise<FaceObservation[]> {
    const faces: FaceObservation[] = [];
    for (const d of dets) {
      let t0 = performance.now();
      const { mesh, faceScore } = await this.landmarker.mesh(img, Landmarker.roiFor(d));
      timings.meshMs += performance.now() - t0;
      if (faceScore < 0.5) continue;
      t0 = performance.now();
      const five = fivePointsFromMesh(mesh);
      const pose = headPoseFromMesh(mesh);
      const { chip, size } = this.alignChip(img, five, o.precision);
      const quality = assessQuality(chip, size, five[0]!, five[1]!, pose, o.gates ?? DEFAULT_GATES);
      timings.alignMs += performance.now() - t0;
      let embedding: Float32Array | null = null;
      if (o.embed !== false) {
        t0 = performance.now();
        embedding = await this.embedChip(chip, o.precision);
        timings.embedMs += performance.now() - t0;
      }
      let passive = { antispoof: null as number | null, liveness: null as number | null };
      if (o.passive !== false) {
        t0 = performance.now();
        passive = await this.passiveScores(img, d.box);
        timings.antispoofMs += performance.now() - t0;
      }
      const box = Landmarker.box(mesh);
      t0 = performance.now();
      const minifasnetScore = this.pad && o.passive !== false ? (await this.pad.score(img, box)).real : undefined;
      timings.antispoofMs += performance.now() - t0;
      faces.push({
        ...(minifasnetScore !== undefined ? { minifasnetScore } : {}),
        box,
        detectorScore: d.score,
        landmarks5: five,
        ear: earFromMesh(mesh),
        pose,
        quality,
        antispoofScore: passive.antispoof,
        livenessScore: passive.liveness,
        embedding,
        mesh,
        faceScore,
      });
    }
    return faces;
  }

  /**
   * The largest face of a still image (uploads, eval): detection with the zoomed-out retry,
   * mesh, alignment, quality, and one embedding per requested precision. Null when no face.
   */
  async describeLargestFace(
    img: RgbImage,
    precisions: ('int8' | 'fp32')[] = [this.choice.embedder.precision],
    o: ProcessOptions = {},
  ): Promise<StillFace | null> {
    const r = await this.process(img, { ...o, retryZoomedOut: true, embed: false, passive: o.passive ?? false, precision: precisions[0] });
    if (r.faces.length === 0) return null;
    const face = r.faces.reduce((a, b) => (b.box.width * b.box.height > a.box.width * a.box.height ? b : a));
    const embeddings: Partial<Record<'int8' | 'fp32', Float32Array>> = {};
    for (const p of precisions) {
      const { chip } = this.alignChip(img, face.landmarks5, p);
      embeddings[p] = await this.embedChip(chip, p);
    }
    face.embedding = embeddings[precisions[0]!] ?? null;
    return { face, faces: r.faces.length, embeddings };
  }

  get precisions(): ('int8' | 'fp32')[] {
    return [...this.embedders.keys()];
  }

  async release(): Promise<void> {
    await Promise.all([
      ...this.detectors.map((d) => d.session.release().catch(() => {})),
      this.landmarker.release(),
      ...[...this.embedders.values()].map((e) => e.release()),
      this.antispoof?.release(),
      this.liveness?.release(),
      this.pad?.session.release().catch(() => {}),
    ]);
  }
}

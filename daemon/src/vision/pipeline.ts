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
import { iou } from './box.js';
import { applyRelative, inside, relativeBox, type DetectReason, type FaceTracks, type MeshedFace } from './faceTracks.js';

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

export interface StreamResult extends ProcessResult {
  /** Why the detector ran on this frame (null: every face came from the previous frame's mesh). */
  detected: DetectReason;
}

const emptyTimings = (): ProcessResult['timings'] => ({ detectMs: 0, meshMs: 0, alignMs: 0, embedMs: 0, antispoofMs: 0 });

/** Does tracked face `k` hold face `f` (f's detector box centre inside k's mesh box)? */
function covers(k: MeshedFace, f: MeshedFace): boolean {
  const b = f.detectorBox;
  return inside(Landmarker.box(k.mesh), b.x + b.width / 2, b.y + b.height / 2);
}

/** Two tracks that converged on one face: keep the one with the higher face score. */
function dedupe(faces: MeshedFace[]): MeshedFace[] {
  const sorted = [...faces].sort((a, b) => b.faceScore - a.faceScore);
  const out: MeshedFace[] = [];
  for (const f of sorted) if (out.every((k) => iou(Landmarker.box(k.mesh), Landmarker.box(f.mesh)) < 0.5)) out.push(f);
  return out;
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

  /** A still image (enrollment, eval, identify): the detector cascade, then the faces it found. */
  async process(img: RgbImage, o: ProcessOptions = {}): Promise<ProcessResult> {
    const timings = emptyTimings();
    const zooms = o.retryZoomedOut ? [1, 2] : [1];
    for (const zoomOut of zooms) {
      const found = await this.detectConfirmed(img, o, timings, zoomOut, []);
      if (found.length > 0) return { faces: await this.describe(img, found, o, timings), timings, zoomedOut: zoomOut > 1 };
    }
    return { faces: [], timings, zoomedOut: false };
  }

  /**
   * One frame of a camera stream: the tracked faces' meshes run on crops from the previous frame's
   * meshes (one batch); the detector runs only when `tracks` says so (no face tracked, a track
   * lost, the safety-net schedule), and its faces are added where no tracked face is.
   */
  async processStream(img: RgbImage, tracks: FaceTracks, o: ProcessOptions = {}): Promise<StreamResult> {
    const timings = emptyTimings();
    const minScore = tracks.options.minFaceScore;
    const minSize = o.minFaceSizePx ?? 0;
    const followed = tracks.begin(img);
    const t0 = performance.now();
    const meshes = followed.length
      ? await this.landmarker.meshes(
          img,
          followed.map((t) => t.roi),
        )
      : [];
    timings.meshMs += performance.now() - t0;
    const kept: MeshedFace[] = [];
    meshes.forEach((m, i) => {
      const t = followed[i]!;
      const detectorBox = applyRelative(t.rel, Landmarker.box(m.mesh));
      if (m.faceScore >= minScore && Math.max(detectorBox.width, detectorBox.height) >= minSize)
        kept.push({
          mesh: m.mesh,
          faceScore: m.faceScore,
          detectorScore: t.detectorScore,
          detectorBox,
          rel: t.rel,
          age: t.age,
          phase: t.phase,
          quality: t.quality,
        });
    });
    const faces = dedupe(kept);
    const reason = tracks.detectReason(followed.length - kept.length);
    if (reason) {
      const found = await this.detectConfirmed(img, o, timings, 1, faces, minScore);
      for (const f of found) {
        // a detection on a tracked face re-anchors that track (its detector box and score); others are new faces
        const i = faces.findIndex((k) => covers(k, f));
        if (i >= 0) faces[i] = { ...faces[i]!, detectorScore: f.detectorScore, rel: relativeBox(f.detectorBox, Landmarker.box(faces[i]!.mesh)) };
        else if (faces.length < (o.maxFaces ?? 10)) faces.push(f);
      }
    }
    const due = { passive: (m: MeshedFace) => tracks.passiveDue(m.age, m.phase), embed: (m: MeshedFace) => tracks.embedDue(m.age, m.phase) };
    let observed: FaceObservation[] | undefined;
    try {
      observed = await this.describe(img, faces, o, timings, due);
    } finally {
      // the faces become the next frame's tracks, with the quality this frame measured (or carried)
      tracks.end(
        faces.map((f, i) => ({ ...f, quality: observed?.[i]?.quality ?? f.quality })),
        reason !== null,
      );
    }
    return { faces: observed, timings, zoomedOut: false, detected: reason };
  }

  /**
   * Detector cascade with the mesh's confirmation: the next detector runs only when the previous
   * one gave no face the mesh confirms (a false detection of the fast detector must not hide a
   * face). Detections on a face in `known` are not meshed again; the rest are meshed in one batch.
   */
  private async detectConfirmed(
    img: RgbImage,
    o: ProcessOptions,
    timings: ProcessResult['timings'],
    zoomOut: number,
    known: readonly MeshedFace[],
    minFaceScore = 0.5,
  ): Promise<MeshedFace[]> {
    const det = { minScore: o.minScore ?? 0.5, iou: 0.3, maxFaces: o.maxFaces ?? 10, zoomOut };
    const minSize = o.minFaceSizePx ?? 0;
    for (const detector of this.detectors) {
      let t0 = performance.now();
      const dets = (await detector.detect(img, det)).filter((d) => Math.max(d.box.width, d.box.height) >= minSize);
      timings.detectMs += performance.now() - t0;
      if (dets.length === 0) continue;
      const onKnown = dets.filter((d) => known.some((k) => inside(Landmarker.box(k.mesh), d.box.x + d.box.width / 2, d.box.y + d.box.height / 2)));
      const fresh = dets.filter((d) => !onKnown.includes(d));
      t0 = performance.now();
      const meshes = fresh.length
        ? await this.landmarker.meshes(
            img,
            fresh.map((d) => Landmarker.roiFor(d)),
          )
        : [];
      timings.meshMs += performance.now() - t0;
      const found: MeshedFace[] = [];
      meshes.forEach((m, i) => {
        const d = fresh[i]!;
        if (m.faceScore >= minFaceScore)
          found.push({
            mesh: m.mesh,
            faceScore: m.faceScore,
            detectorScore: d.score,
            detectorBox: d.box,
            rel: relativeBox(d.box, Landmarker.box(m.mesh)),
            age: 0,
          });
      });
      // detections on known faces: only their score and box (re-anchoring), the mesh is the tracked one
      for (const d of onKnown) {
        const k = known.find((f) => inside(Landmarker.box(f.mesh), d.box.x + d.box.width / 2, d.box.y + d.box.height / 2))!;
        found.push({ ...k, detectorScore: d.score, detectorBox: d.box, rel: relativeBox(d.box, Landmarker.box(k.mesh)) });
      }
      if (found.length > 0) return found;
    }
    return [];
  }

  /**
   * Five points → chip → quality for each meshed face, then the embeddings and passive scores of all
   * faces of the frame, each network in one batch. `due.passive` and `due.embed` pick the faces the
   * passive networks and the embedder run on this frame (a camera stream: a tracked face every Nth
   * frame, vision.tracking; still images: all); the others are marked `passiveSkipped` /
   * `embedSkipped`.
   */
  private async describe(
    img: RgbImage,
    meshed: readonly MeshedFace[],
    o: ProcessOptions,
    timings: ProcessResult['timings'],
    due: { passive: (m: MeshedFace) => boolean; embed: (m: MeshedFace) => boolean } = { passive: () => true, embed: () => true },
  ): Promise<FaceObservation[]> {
    if (meshed.length === 0) return [];
    const t0 = performance.now();
    const embedding = o.embed !== false;
    const parts = meshed.map((m) => {
      const five = fivePointsFromMesh(m.mesh);
      const pose = headPoseFromMesh(m.mesh);
      const box = Landmarker.box(m.mesh);
      // A tracked face the embedder skips this frame needs no chip: its quality (which only the
      // embedded frames' decisions use; the live view shows it) is the one its track measured last.
      if (embedding && m.quality && !due.embed(m)) return { five, pose, chip: null, quality: m.quality, box };
      const { chip, size } = this.alignChip(img, five, o.precision);
      const quality = assessQuality(chip, size, five[0]!, five[1]!, pose, o.gates ?? DEFAULT_GATES);
      return { five, pose, chip, quality, box };
    });
    timings.alignMs += performance.now() - t0;
    const passive = o.passive !== false;
    // faces the passive networks score on this frame, by index into meshed
    const passiveFaces = passive ? meshed.flatMap((m, i) => (due.passive(m) ? [i] : [])) : [];
    const scorePassive = passiveFaces.length > 0;
    const detBoxes = passiveFaces.map((i) => meshed[i]!.detectorBox);
    // faces the embedder runs on, by index into meshed
    const embedFaces = embedding ? meshed.flatMap((m, i) => (due.embed(m) && parts[i]!.chip ? [i] : [])) : [];
    const timed = async <T>(key: 'embedMs' | 'antispoofMs', f: () => Promise<T>): Promise<T> => {
      const t = performance.now();
      const r = await f();
      timings[key] += performance.now() - t;
      return r;
    };
    const none = (): Promise<null> => Promise.resolve(null);
    // The embedder and the passive networks are independent sessions, started together. onnxruntime-node
    // 1.30 runs each session.run synchronously on this (worker) thread from a setImmediate, so they do
    // not overlap in compute (a CPU profile of the tracked bench frame: 67 % inside session.run); what
    // the Promise.all saves is the event-loop turns between them. Each stage timing spans from the
    // start to its own end, so the timings overlap and can add up to more than the frame.
    const jobs = [
      embedFaces.length > 0 ? () => timed('embedMs', () => this.embedderFor(o.precision).embedMany(embedFaces.map((i) => parts[i]!.chip!))) : none,
      scorePassive && this.antispoof ? () => timed('antispoofMs', () => this.antispoof!.scores(img, detBoxes)) : none,
      scorePassive && this.liveness ? () => timed('antispoofMs', () => this.liveness!.scores(img, detBoxes)) : none,
      scorePassive && this.pad
        ? () =>
            timed('antispoofMs', () =>
              this.pad!.scores(
                img,
                passiveFaces.map((i) => parts[i]!.box),
              ),
            )
        : none,
    ] as const;
    const [embeddings, antispoof, liveness, pad] = await Promise.all([jobs[0](), jobs[1](), jobs[2](), jobs[3]()]);
    return meshed.map((m, i) => {
      const p = parts[i]!;
      const j = passiveFaces.indexOf(i);
      const k = embedFaces.indexOf(i);
      const face: FaceObservation = {
        box: p.box,
        detectorScore: m.detectorScore,
        landmarks5: p.five,
        ear: earFromMesh(m.mesh),
        pose: p.pose,
        quality: p.quality,
        antispoofScore: j >= 0 ? (antispoof?.[j] ?? null) : null,
        livenessScore: j >= 0 ? (liveness?.[j] ?? null) : null,
        embedding: k >= 0 ? (embeddings?.[k] ?? null) : null,
        mesh: m.mesh,
        faceScore: m.faceScore,
      };
      // not this frame's turn for the embedder: no embedding, the door keeps the track's identity
      if (embedding && k < 0) face.embedSkipped = true;
      // not this frame's turn: no passive scores (the liveness checks skip the frame; null alone would mean "model not loaded")
      if (passive && j < 0) return { ...face, passiveSkipped: true };
      return pad ? { ...face, minifasnetScore: pad[j]!.real } : face;
    });
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

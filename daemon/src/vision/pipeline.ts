import ort from 'onnxruntime-node';
import {
  type InputNorm,
  arcfaceTemplate,
  dlibChipTemplate,
  estimateSimilarity,
  invertSimilarity,
  packTensor,
  similarityScale,
  warpRgb,
  warpToTensor,
  type FivePoints,
  type RgbImage,
  type Similarity,
} from './align.js';
import { claheRgb } from './clahe.js';
import { MiniFasNet } from './miniFasNet.js';
import { FaceDetector, type Detection, type DetectOptions } from './detector.js';
import { earFromMesh, fivePointsFromMesh, headPoseFromMesh, MESH_POINTS, type Mesh } from './meshIndices.js';
import type { ModelEntry } from './modelManifest.js';
import {
  createSession,
  defaultModelsDir,
  inputNorm,
  inputSize,
  loadAndVerify,
  type ModelChoice,
  type ModelSelection,
  type SessionOptions,
} from './modelSet.js';
import { assessQuality, DEFAULT_GATES, type QualityGates } from './quality.js';
import type { Box, FaceObservation, FrameTimings, Point } from './types.js';

export interface PipelineOptions extends ModelSelection, SessionOptions {
  /** Apply CLAHE to the aligned chip before embedding. */
  clahe?: boolean;
  /** Also load the other-precision embedder (for eval/bench side-by-side). */
  loadBothPrecisions?: boolean;
  /** Load the manifest's presentation-attack network (MiniFASNet) and score every face with it (FaceObservation.pad). */
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

/** The mesh crop around a face: MediaPipe's ROI (box × 1.5, square, rotated so the eyes are level). */
function meshRoi(det: Detection, scale = 1.5): { cx: number; cy: number; size: number; angle: number } {
  const [re, le] = det.keypoints;
  const angle = re && le ? Math.atan2(le.y - re.y, le.x - re.x) : 0;
  return { cx: det.box.x + det.box.width / 2, cy: det.box.y + det.box.height / 2, size: Math.max(det.box.width, det.box.height) * scale, angle };
}

/** image → crop transform for a square ROI of `size` image pixels centred at (cx, cy), rotated by -angle, onto an out×out crop. */
function roiTransform(cx: number, cy: number, size: number, angle: number, out: number): Similarity {
  const k = out / size;
  const a = k * Math.cos(-angle),
    b = k * Math.sin(-angle);
  return { a, b, tx: out / 2 - (a * cx - b * cy), ty: out / 2 - (b * cx + a * cy) };
}

function meshBox(mesh: Mesh): Box {
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

class ImageModel {
  readonly size: { width: number; height: number };
  readonly buf: Float32Array;
  private readonly norm: InputNorm;
  private readonly tensor: ort.Tensor;
  constructor(
    readonly session: ort.InferenceSession,
    readonly entry: ModelEntry,
  ) {
    this.size = inputSize(entry);
    this.norm = inputNorm(entry);
    this.buf = new Float32Array(this.size.width * this.size.height * 3);
    const { width, height } = this.size;
    // one input tensor over the reused buffer: ORT reads it in place on every run
    this.tensor = new ort.Tensor('float32', this.buf, entry.input.layout === 'NCHW' ? [1, 3, height, width] : [1, height, width, 3]);
  }

  /** Warps `img` through `t` straight into the input tensor (or packs a ready crop) and runs; returns the outputs. */
  async run(img: RgbImage | null, t: Similarity | null, crop?: Uint8Array): Promise<ort.InferenceSession.OnnxValueMapType> {
    const { width, height } = this.size;
    if (crop) packTensor(crop, width, height, this.norm, this.buf);
    else warpToTensor(img as RgbImage, t as Similarity, width, height, this.norm, this.buf);
    return this.session.run({ [this.entry.input.name]: this.tensor });
  }

  out(res: ort.InferenceSession.OnnxValueMapType, i = 0): Float32Array {
    const name = this.entry.outputs[i]?.name ?? '';
    const v = res[name];
    if (!v) throw new Error(`model ${this.entry.id}: output ${name} missing`);
    return v.data as Float32Array;
  }
}

/**
 * The per-frame vision pipeline: detect → mesh → five points → aligned chip → quality →
 * embed (+ passive anti-spoof/liveness). Owns its ONNX sessions; one instance per thread.
 */
export class FacePipeline {
  private constructor(
    readonly choice: ModelChoice,
    readonly modelsDir: string,
    private readonly detectors: FaceDetector[],
    private readonly mesh: ImageModel,
    private readonly embedders: Map<'int8' | 'fp32', ImageModel>,
    private readonly antispoof: ImageModel | null,
    private readonly liveness: ImageModel | null,
    private readonly options: PipelineOptions,
    private readonly pad: MiniFasNet | null = null,
  ) {}

  static async create(options: PipelineOptions = {}): Promise<FacePipeline> {
    const dir = options.modelsDir || defaultModelsDir();
    const { manifest, choice } = loadAndVerify(dir, options);
    const so = { intraOpThreads: options.intraOpThreads, interOpThreads: options.interOpThreads };
    const embedders = new Map<'int8' | 'fp32', ImageModel>();
    embedders.set(choice.embedder.precision, new ImageModel(await createSession(dir, choice.embedder, so), choice.embedder));
    if (options.loadBothPrecisions) {
      const other = choice.embedder.precision === 'int8' ? 'fp32' : 'int8';
      const { resolveEmbedder } = await import('./modelSet.js');
      const e = resolveEmbedder(manifest, choice.embedder.id, other);
      if (e.precision === other) {
        const { verifyModels } = await import('./modelManifest.js');
        verifyModels(dir, [e.id]);
        embedders.set(other, new ImageModel(await createSession(dir, e, so), e));
      }
    }
    return new FacePipeline(
      choice,
      dir,
      [
        new FaceDetector(await createSession(dir, choice.detector, so), choice.detector),
        ...(choice.fallbackDetector ? [new FaceDetector(await createSession(dir, choice.fallbackDetector, so), choice.fallbackDetector)] : []),
      ],
      new ImageModel(await createSession(dir, choice.landmarks, so), choice.landmarks),
      embedders,
      choice.antispoof ? new ImageModel(await createSession(dir, choice.antispoof, so), choice.antispoof) : null,
      choice.liveness ? new ImageModel(await createSession(dir, choice.liveness, so), choice.liveness) : null,
      options,
      options.pad ? await MiniFasNet.create(dir, { threads: options.intraOpThreads }) : null,
    );
  }

  /** Manifest id of the embedder used for templates at a precision. */
  embedderId(precision?: 'int8' | 'fp32'): string {
    return this.embedderFor(precision).entry.id;
  }

  get embeddingDim(): number {
    const s = this.embedderFor().entry.outputs[0]?.shape;
    return s ? s[s.length - 1]! : 128;
  }

  private embedderFor(precision?: 'int8' | 'fp32'): ImageModel {
    const e = (precision && this.embedders.get(precision)) || this.embedders.get(this.choice.embedder.precision);
    if (!e) throw new Error(`no ${precision} embedder loaded`);
    return e;
  }

  /** The crop template of the embedder: dlib face chip for face-api's ResNet, ArcFace otherwise. */
  private chipTemplate(e: ModelEntry): FivePoints {
    const { width } = inputSize(e);
    return /faceapi|dlib/i.test(e.id) || width === 150 ? dlibChipTemplate(width, 0.25) : arcfaceTemplate(width);
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
  async landmarks(img: RgbImage, roi: { cx: number; cy: number; size: number; angle: number }): Promise<{ mesh: Mesh; faceScore: number }> {
    const s = this.mesh.size.width;
    const t = roiTransform(roi.cx, roi.cy, roi.size, roi.angle, s);
    const res = await this.mesh.run(img, t);
    const raw = this.mesh.out(res, 0);
    const flag = this.mesh.out(res, 1)[0] ?? 0;
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

  /** Aligned RGB chip for the embedder from five points (image-left eye first). */
  alignChip(img: RgbImage, five: readonly Point[], precision?: 'int8' | 'fp32'): { chip: Uint8Array; size: number; transform: Similarity } {
    const e = this.embedderFor(precision).entry;
    const size = inputSize(e).width;
    const transform = estimateSimilarity(five, this.chipTemplate(e));
    return { chip: warpRgb(img, transform, size, size), size, transform };
  }

  /** L2-normalised embedding of an aligned chip. */
  async embedChip(chip: Uint8Array, precision?: 'int8' | 'fp32'): Promise<Float32Array> {
    const m = this.embedderFor(precision);
    const input = this.options.clahe ? claheRgb(chip, m.size.width, m.size.height) : chip;
    const res = await m.run(null, null, input);
    const v = Float32Array.from(m.out(res, 0));
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
    const k = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let i = 0; i < v.length; i++) v[i] = v[i]! * k;
    return v;
  }

  /** Passive scores on the face box (× 1.4, square, upright: the crop Human's models were trained on). */
  async passiveScores(img: RgbImage, box: Box): Promise<{ antispoof: number | null; liveness: number | null }> {
    const cx = box.x + box.width / 2,
      cy = box.y + box.height / 2,
      size = Math.max(box.width, box.height) * 1.4;
    let antispoof: number | null = null,
      liveness: number | null = null;
    if (this.antispoof) {
      const res = await this.antispoof.run(img, roiTransform(cx, cy, size, 0, this.antispoof.size.width));
      antispoof = this.antispoof.out(res, 0)[0] ?? null;
    }
    if (this.liveness) {
      const res = await this.liveness.run(img, roiTransform(cx, cy, size, 0, this.liveness.size.width));
      liveness = this.liveness.out(res, 0)[0] ?? null;
    }
    return { antispoof, liveness };
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
      const { mesh, faceScore } = await this.landmarks(img, meshRoi(d));
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
      const box = meshBox(mesh);
      t0 = performance.now();
      const pad = this.pad && o.passive !== false ? (await this.pad.score(img, box)).real : undefined;
      timings.antispoofMs += performance.now() - t0;
      faces.push({
        ...(pad !== undefined ? { pad } : {}),
        box,
        detectorScore: d.score,
        landmarks5: five,
        ear: earFromMesh(mesh),
        pose,
        quality,
        antispoof: passive.antispoof,
        liveness: passive.liveness,
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
    const sessions = [
      ...this.detectors.map((d) => d.session),
      this.mesh.session,
      ...[...this.embedders.values()].map((e) => e.session),
      this.antispoof?.session,
      this.liveness?.session,
      this.pad?.session,
    ];
    await Promise.all(sessions.map((s) => s?.release().catch(() => {})));
  }
}

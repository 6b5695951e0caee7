import type { ServiceContext } from '../controller.js';
import { databasePath } from '../store/store.js';
import { defaultModelsDir } from '../vision/modelSet.js';
import { EnrollClient } from './enrollClient.js';
import { LiveTap } from './liveTap.js';
import { doorRuntime } from '../access/runtime.js';
import { FaceError, type Embedding, type EnrollRequest, type EnrollResult, type FaceServices, type LiveFrame } from './faceServices.js';

/**
 * The admin's view of vision and the camera. Enrollment and the embeddings API run the
 * vision Enroller in the admin's enrollment worker (off the main thread). The live view
 * reads frames and faces from `live` once the door runtime provides them.
 */
export class VisionFaceServices implements FaceServices {
  readonly client: EnrollClient;
  private lastError: string | null = null;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly live: LiveTap,
  ) {
    this.client = new EnrollClient(() => {
      const v = ctx.config.vision;
      return {
        modelsDir: v.modelsDir || defaultModelsDir(),
        recognitionModel: v.recognitionModel,
        precision: v.precision,
        detector: v.detector,
        clahe: v.clahe,
        intraOpThreads: v.intraOpThreads,
        interOpThreads: 1,
        antispoof: false,
        liveness: false,
      };
    }, databasePath(ctx.config));
  }

  unavailableReason(): string | null {
    return this.lastError;
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      const r = await fn();
      this.lastError = null;
      return r;
    } catch (err) {
      if (err instanceof FaceError && err.kind === 'unavailable') this.lastError = err.message;
      throw err;
    }
  }

  async enroll(req: EnrollRequest): Promise<EnrollResult> {
    const r = await this.guard(() => this.client.enroll(req, this.ctx.config.access.threshold));
    return { person: r.person, templates: r.templates, images: r.images.map((i) => ({ name: i.name, quality: i.quality, box: i.box })) };
  }

  async embed(image: Buffer): Promise<Embedding> {
    const r = await this.guard(() => this.client.embed(image));
    return { embedding: Array.from(r.embedding), dimension: r.embedding.length, model: r.modelId, precision: r.precision };
  }

  liveFrame(): Promise<LiveFrame | null> {
    return this.live.frame();
  }

  async assessCamera(): Promise<LiveFrame | null> {
    const raw = await this.live.rawFrame();
    if (!raw) return null;
    const r = await this.guard(() => this.client.analyze(raw.jpeg));
    return {
      seq: raw.frame.seq,
      capturedAt: raw.frame.capturedAt,
      width: r.width,
      height: r.height,
      jpeg: raw.jpeg,
      analysed: true,
      faces: r.faces.map((f) => ({
        box: f.box,
        name: null,
        score: null,
        quality: { faceSizePx: f.quality.faceSizePx, sharpness: f.quality.sharpness, poseScore: f.quality.poseScore, problems: f.quality.problems },
      })),
    };
  }

  stageTimings(): Record<string, number> | null {
    const t = this.live.timings();
    return t ? Object.fromEntries(Object.entries(t).map(([k, v]) => [k, Math.round(v * 10) / 10])) : null;
  }

  start(): void {
    this.live.start();
  }

  stop(): Promise<void> {
    this.live.stop();
    return this.client.stop();
  }
}

export function faceServicesFor(ctx: ServiceContext): FaceServices & { start?: () => void; stop?: () => Promise<void> } {
  const a = ctx.config.access;
  return new VisionFaceServices(
    ctx,
    new LiveTap(
      ctx.bus,
      ctx.store,
      () => ({ threshold: a.threshold, margin: a.margin }),
      Date.now,
      () => doorRuntime(ctx).camera?.peek() ?? null,
    ),
  );
}

import { EnrollError } from '../vision/enrollError.js';
import type { AnalyzedImage, EnrollImage } from '../vision/enroller.js';
import type { PipelineOptions } from '../vision/pipeline.js';
import { EnrollClient } from './enrollClient.js';
import type { Embedding, FaceServices, LiveFrame } from './faceServices.js';
import type { LiveTap } from './liveTap.js';

/**
 * The admin's view of vision and the camera. Enrollment analysis and the embeddings API run in
 * the admin's enrollment worker (off the main thread); the live view reads the door's analysed
 * frames through the LiveTap.
 */
export class VisionFaceServices implements FaceServices {
  readonly client: EnrollClient;
  private lastError: string | null = null;

  constructor(
    pipeline: () => PipelineOptions,
    private readonly live: LiveTap,
    client?: EnrollClient,
  ) {
    this.client = client ?? new EnrollClient(pipeline);
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
      if (err instanceof EnrollError && err.kind === 'unavailable') this.lastError = err.message;
      throw err;
    }
  }

  analyzePhotos(images: EnrollImage[]): Promise<{ modelId: string; faces: AnalyzedImage[] }> {
    return this.guard(() => this.client.analyzePhotos(images));
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
    const r = await this.guard(() => this.client.assess(raw.jpeg));
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
        status: null,
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

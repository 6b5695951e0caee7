import type { Config } from '../config/schema.js';
import type { Frame } from '../camera/frame.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logging.js';
import { BaseService } from '../service.js';
import { loadAndVerify } from './modelSet.js';
import { intraOpThreads, pipelineOptions } from './pipelineOptions.js';
import { VisionClient } from './visionClient.js';
import type { FrameResult } from './types.js';

/**
 * blinkd's vision service: checks the model files against models/manifest.json, then runs the
 * pipeline in a worker thread on the camera's stream (faces followed from frame to frame,
 * vision.tracking). Consumers call process(frame) (newest frame wins); the embedder's
 * id and dimension come from the worker once it runs.
 */
export class VisionService extends BaseService {
  private client: VisionClient | null = null;
  private error: string | null = null;

  constructor(
    private readonly config: Config['vision'],
    bus: EventBus,
    private readonly log: Logger,
    /** The door's K agreeing frames (access.trackMinFrames): a new track is embedded on each of its first K frames. */
    private readonly embedFirstFrames: number,
  ) {
    super('vision', bus);
  }

  protected async onStart(): Promise<void> {
    const options = pipelineOptions(this.config, { passive: true });
    try {
      loadAndVerify(options.modelsDir!, options);
    } catch (err) {
      this.lifecycle = 'failed';
      this.error = (err as Error).message;
      throw new Error(`vision: refusing to start: ${this.error}`);
    }
    // The frames are the camera's stream: follow faces from frame to frame (vision.tracking).
    const t = this.config.tracking;
    const tracking = t.enabled
      ? {
          newFaceIntervalFrames: t.newFaceIntervalFrames,
          redetectIntervalFrames: t.redetectIntervalFrames,
          minFaceScore: t.minFaceScore,
          passiveIntervalFrames: t.passiveIntervalFrames,
          embedIntervalFrames: t.embedIntervalFrames,
          embedFirstFrames: this.embedFirstFrames,
        }
      : null;
    this.client = new VisionClient(options, { minScore: this.config.detectorScore, minFaceSizePx: this.config.minFaceSizePx }, tracking);
    await this.client.start();
    this.log.info({ embedder: this.client.info?.embedder, detector: this.client.info?.detector, dim: this.client.info?.dim }, 'vision worker ready');
  }

  /** The frame's faces, or null when a newer frame replaced it while the worker was busy. */
  process(frame: Frame): Promise<FrameResult | null> {
    if (!this.client) return Promise.reject(new Error('vision service not running'));
    return this.client.process(frame);
  }

  /** The running embedder: manifest id (templates are stored under it) and embedding dimension; null before start. */
  embedder(): { id: string; dim: number } | null {
    const info = this.client?.info;
    return info ? { id: info.embedder, dim: info.dim } : null;
  }

  protected override async onStop(): Promise<void> {
    await this.client?.stop().catch(() => {});
    this.client = null;
  }

  health(): Record<string, unknown> {
    const v = this.config;
    return {
      engine: {
        runtime: 'onnxruntime-node',
        recognitionModel: this.client?.info?.embedder ?? v.recognitionModel,
        precision: this.client?.info?.precision ?? v.precision,
        // threads per model as run (vision.intraOpThreads, `auto` resolved by the core count)
        intraOpThreads: intraOpThreads(v.intraOpThreads),
        loaded: this.lifecycle === 'running',
      },
      ...(this.client ? { stats: this.client.getStats() } : {}),
      ...(this.error ? { error: this.error } : {}),
    };
  }
}

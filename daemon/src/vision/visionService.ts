import type { ServiceContext } from '../controller.js';
import type { Frame } from '../camera/frame.js';
import type { ServiceStatus } from '../events.js';
import type { Service } from '../service.js';
import { defaultModelsDir, loadAndVerify, type ModelSelection } from './modelSet.js';
import { VisionClient } from './visionClient.js';
import type { FrameResult } from './types.js';

/**
 * blinkd's vision service: checks the model files against models/manifest.json, then runs the
 * pipeline in a worker thread. Consumers call process(frame) (newest frame wins).
 */
export class VisionService implements Service {
  readonly name = 'vision';
  private state: ServiceStatus = 'stopped';
  private client: VisionClient | null = null;
  private error: string | null = null;

  constructor(private readonly ctx: ServiceContext) {}

  private selection(): ModelSelection {
    const v = this.ctx.config.vision;
    return {
      modelsDir: v.modelsDir || defaultModelsDir(),
      recognitionModel: v.recognitionModel,
      precision: v.precision,
      detector: v.detector,
      // Passive scores are always computed (1–2 ms) and kept with every decision, even when
      // access.liveness.passive does not let them decide: they are the evidence for calibrating it.
      antispoof: true,
      liveness: true,
    };
  }

  async start(): Promise<void> {
    this.state = 'starting';
    const sel = this.selection();
    try {
      loadAndVerify(sel.modelsDir!, sel);
    } catch (err) {
      this.state = 'failed';
      this.error = (err as Error).message;
      throw new Error(`vision: refusing to start: ${this.error}`);
    }
    const v = this.ctx.config.vision;
    this.client = new VisionClient(
      { ...sel, clahe: v.clahe, intraOpThreads: v.intraOpThreads, interOpThreads: v.interOpThreads },
      { minScore: v.detectorScore, minFaceSizePx: v.minFaceSizePx },
    );
    await this.client.start();
    this.state = 'running';
    this.ctx.log.info({ embedder: this.client.info?.embedder, detector: this.client.info?.detector }, 'vision worker ready');
  }

  /** The frame's faces, or null when a newer frame replaced it while the worker was busy. */
  process(frame: Frame): Promise<FrameResult | null> {
    if (!this.client) return Promise.reject(new Error('vision service not running'));
    return this.client.process(frame);
  }

  /** Manifest id of the embedder (templates are stored under it). */
  embedderId(): string | null {
    return this.client?.info?.embedder ?? null;
  }

  async stop(): Promise<void> {
    this.state = 'stopping';
    await this.client?.stop().catch(() => {});
    this.client = null;
    this.state = 'stopped';
  }

  status(): ServiceStatus {
    return this.state;
  }

  health(): Record<string, unknown> {
    const v = this.ctx.config.vision;
    return {
      engine: {
        runtime: 'onnxruntime-node',
        recognitionModel: this.client?.info?.embedder ?? v.recognitionModel,
        precision: this.client?.info?.precision ?? v.precision,
        loaded: this.state === 'running',
      },
      ...(this.client ? { stats: this.client.getStats() } : {}),
      ...(this.error ? { error: this.error } : {}),
    };
  }
}

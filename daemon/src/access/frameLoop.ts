import type { CameraService } from '../camera/cameraService.js';
import type { Frame } from '../camera/frame.js';
import type { Logger } from '../logging.js';
import type { FrameResult } from '../vision/types.js';
import type { FrameAnalyzer } from './ports.js';

export interface FrameLoopStats {
  processed: number;
  errors: number;
  /** Frames the camera replaced before the loop took them. */
  skipped: number;
  /** ms: frame capture → vision result, last frame. */
  lastLatencyMs: number | null;
  /** Results per second over the last few seconds. */
  fps: number;
  lastResultAgeMs: number | null;
  /** How long the current frame has been in the worker (null when idle). */
  inFlightMs: number | null;
}

/**
 * camera → vision → consumer, one frame in flight at a time: when the worker finishes it
 * takes the camera's newest frame (older ones were never queued). Runs on the main thread
 * but only moves buffers; the inference runs in the vision worker.
 */
export class FrameLoop {
  private busySince: number | null = null;
  private running = false;
  private unsubscribe: (() => void) | null = null;
  private lastResultAt: number | null = null;
  private readonly recent: number[] = [];
  private readonly stats = { processed: 0, errors: 0, skipped: 0, lastLatencyMs: null as number | null };
  private lastSeq = 0;

  constructor(
    private readonly camera: CameraService,
    private readonly analyzer: FrameAnalyzer,
    private readonly consume: (result: FrameResult, frame: Frame) => Promise<void> | void,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.running = true;
    this.unsubscribe = this.camera.onFrame(() => this.pump());
  }

  stop(): void {
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  snapshot(): FrameLoopStats {
    const now = performance.now();
    while (this.recent.length && now - this.recent[0]! > 3000) this.recent.shift();
    const fps = this.recent.length >= 2 ? ((this.recent.length - 1) * 1000) / (this.recent[this.recent.length - 1]! - this.recent[0]!) : 0;
    return {
      ...this.stats,
      fps: Math.round(fps * 10) / 10,
      lastResultAgeMs: this.lastResultAt === null ? null : Math.round(now - this.lastResultAt),
      inFlightMs: this.busySince === null ? null : Math.round(now - this.busySince),
    };
  }

  private pump(): void {
    if (!this.running || this.busySince !== null) return;
    const frame = this.camera.take();
    if (!frame) return;
    if (this.lastSeq && frame.seq > this.lastSeq + 1) this.stats.skipped += frame.seq - this.lastSeq - 1;
    this.lastSeq = frame.seq;
    this.busySince = performance.now();
    void this.analyzer
      .analyze(frame)
      .then(async (result) => {
        if (!result || !this.running) return;
        this.stats.processed++;
        this.stats.lastLatencyMs = Date.now() - frame.capturedAt;
        this.lastResultAt = performance.now();
        this.recent.push(this.lastResultAt);
        if (this.recent.length > 300) this.recent.shift();
        await this.consume(result, frame);
      })
      .catch((err: unknown) => {
        this.stats.errors++;
        this.log.error({ err, seq: frame.seq }, 'frame processing failed');
      })
      .finally(() => {
        this.busySince = null;
        this.pump();
      });
  }
}

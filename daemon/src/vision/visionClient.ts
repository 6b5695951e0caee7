import { Worker } from 'node:worker_threads';
import { compiledWorker } from '../util/workerPath.js';
import type { Frame } from '../camera/frame.js';
import type { TrackingOptions } from './faceTracks.js';
import type { PipelineOptions, ProcessOptions } from './pipeline.js';
import type { FrameResult } from './types.js';
import type { FromWorker, ToWorker } from './workerProtocol.js';

/** The compiled worker (dist), also when this module runs from TypeScript sources (tests). */
function workerPath(): string {
  return compiledWorker('vision/worker.js', import.meta.url, 'worker.js');
}

interface Pending {
  frame: Frame;
  resolve: (r: FrameResult | null) => void;
  reject: (e: Error) => void;
}

export interface VisionClientStats {
  processed: number;
  dropped: number;
  errors: number;
  lastTotalMs: number | null;
  /** Frames the detector ran on (with tracking, a fraction of `processed`). */
  detectorRuns: number;
}

/**
 * Main-thread handle on the vision worker. process(frame) resolves with the frame's result,
 * or with null when the frame was dropped: while the worker is busy only the NEWEST waiting
 * frame is kept, so results never lag behind the camera.
 */
export class VisionClient {
  private worker: Worker | null = null;
  private busy: Pending | null = null;
  private waiting: Pending | null = null;
  private nextId = 1;
  private inflightId = 0;
  private readonly stats: VisionClientStats = { processed: 0, dropped: 0, errors: 0, lastTotalMs: null, detectorRuns: 0 };
  info: Extract<FromWorker, { type: 'ready' }> | null = null;

  constructor(
    private readonly pipeline: PipelineOptions,
    private readonly processOptions: ProcessOptions = {},
    /** Follow faces across frames (the frames are one camera stream); null = detect on every frame. */
    private readonly tracking: TrackingOptions | null = null,
  ) {}

  async start(): Promise<void> {
    if (this.worker) return;
    const worker = new Worker(workerPath());
    this.worker = worker;
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: FromWorker): void => {
        if (m.type === 'ready') {
          this.info = m;
          worker.off('message', onMessage);
          worker.off('error', onError);
          resolve();
        } else if (m.type === 'error') {
          worker.off('message', onMessage);
          reject(new Error(m.message));
        }
      };
      const onError = (err: Error): void => reject(err);
      worker.on('message', onMessage);
      worker.once('error', onError);
      worker.postMessage({ type: 'init', pipeline: this.pipeline, process: this.processOptions, tracking: this.tracking } satisfies ToWorker);
    }).catch(async (err: unknown) => {
      this.worker = null;
      await worker.terminate();
      throw err;
    });
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.fail(new Error(`vision worker exited (code ${code})`));
    });
  }

  /** Submit a frame; resolves with its result, or null when a newer frame replaced it before it ran. */
  process(frame: Frame): Promise<FrameResult | null> {
    if (!this.worker) return Promise.reject(new Error('vision client not started'));
    return new Promise((resolve, reject) => {
      const p: Pending = { frame, resolve, reject };
      if (!this.busy) this.dispatch(p);
      else {
        if (this.waiting) {
          this.stats.dropped++;
          this.waiting.resolve(null);
        }
        this.waiting = p;
      }
    });
  }

  getStats(): VisionClientStats {
    return { ...this.stats };
  }

  get isBusy(): boolean {
    return this.busy !== null;
  }

  private dispatch(p: Pending): void {
    this.busy = p;
    this.inflightId = this.nextId++;
    const f = p.frame;
    // Copy into a transferable buffer: the camera keeps ownership of its own frame buffer.
    const data = new Uint8Array(f.data.byteLength);
    data.set(f.data);
    this.worker!.postMessage(
      { type: 'frame', id: this.inflightId, seq: f.seq, capturedAt: f.capturedAt, width: f.width, height: f.height, format: f.format, data } satisfies ToWorker,
      [data.buffer],
    );
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'ready') return;
    const p = this.busy;
    if (!p || (m.id !== null && m.id !== this.inflightId)) return;
    this.busy = null;
    if (m.type === 'result') {
      this.stats.processed++;
      this.stats.lastTotalMs = m.result.timings.totalMs;
      if (m.result.detectorRan !== false) this.stats.detectorRuns++;
      p.resolve(m.result);
    } else {
      this.stats.errors++;
      p.reject(new Error(m.message));
    }
    const next = this.waiting;
    this.waiting = null;
    if (next) this.dispatch(next);
  }

  private fail(err: Error): void {
    for (const p of [this.busy, this.waiting]) p?.reject(err);
    this.busy = this.waiting = null;
    this.worker = null;
  }

  async stop(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    for (const p of [this.busy, this.waiting]) p?.resolve(null);
    this.busy = this.waiting = null;
    if (!w) return;
    w.postMessage({ type: 'close' } satisfies ToWorker);
    const exited = new Promise<void>((r) => w.once('exit', () => r()));
    const timer = setTimeout(() => void w.terminate(), 1500);
    await exited;
    clearTimeout(timer);
  }
}

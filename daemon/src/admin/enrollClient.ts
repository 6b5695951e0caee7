import { Worker } from 'node:worker_threads';
import { compiledWorker } from '../util/workerPath.js';
import type { PipelineOptions } from '../vision/pipeline.js';
import type { AnalyzedImage, EnrollImage } from '../vision/enroller.js';
import { EnrollError } from '../vision/enrollError.js';
import type { FromEnrollWorker, ToEnrollWorker } from './enrollProtocol.js';

function workerPath(): string {
  return compiledWorker('admin/enrollWorker.js', import.meta.url, 'enrollWorker.js');
}

type Reply = Extract<FromEnrollWorker, { id: number }>;

/**
 * Main-thread handle on the enrollment worker. The worker (and its ~100 MB of ONNX
 * sessions) is started on the first request and stopped after `idleMs` without one, so a
 * unit that enrolls a few people a week does not carry a second pipeline all day.
 */
export class EnrollClient {
  private worker: Worker | null = null;
  private ready: Promise<Worker> | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (m: Reply) => void; reject: (e: Error) => void }>();
  private idleTimer: NodeJS.Timeout | null = null;
  embedder: string | null = null;

  constructor(
    private readonly pipeline: () => PipelineOptions,
    private readonly idleMs = 5 * 60_000,
  ) {}

  /** Every enrollment photo analysed (one face each, quality gates, embedding), or an EnrollError. */
  analyzePhotos(images: EnrollImage[]): Promise<{ modelId: string; faces: AnalyzedImage[] }> {
    return this.call((id) => ({ type: 'analyze_photos', id, images })).then((m) => {
      if (m.type !== 'photos_analyzed') throw new Error('unexpected reply from the enrollment worker');
      return { modelId: m.modelId, faces: m.faces };
    });
  }

  embed(data: Buffer): Promise<{ embedding: Float32Array; modelId: string; precision: string }> {
    return this.call((id) => ({ type: 'embed', id, data })).then((m) => {
      if (m.type !== 'embedded') throw new Error('unexpected reply from the enrollment worker');
      return { embedding: m.embedding, modelId: m.modelId, precision: m.precision };
    });
  }

  /** Stored aligned chips (PNG, vision/chip.ts) embedded by the worker's embedder: the re-embedder's off-thread half. */
  embedChips(chips: Uint8Array[]): Promise<{ modelId: string; embeddings: Float32Array[] }> {
    return this.call((id) => ({ type: 'embed_chips', id, chips })).then((m) => {
      if (m.type !== 'chips_embedded') throw new Error('unexpected reply from the enrollment worker');
      return { modelId: m.modelId, embeddings: m.embeddings };
    });
  }

  /** Faces and their quality in one image (no embedding): the camera-enrollment feedback. */
  assess(data: Buffer): Promise<Extract<FromEnrollWorker, { type: 'assessed' }>> {
    return this.call((id) => ({ type: 'assess', id, data })).then((m) => {
      if (m.type !== 'assessed') throw new Error('unexpected reply from the enrollment worker');
      return m;
    });
  }

  private async call(build: (id: number) => ToEnrollWorker): Promise<Reply> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const worker = await this.start();
    worker.ref(); // a request in flight keeps the process alive; an idle worker does not
    const id = this.nextId++;
    try {
      return await new Promise<Reply>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        worker.postMessage(build(id));
      });
    } finally {
      this.pending.delete(id);
      if (this.pending.size === 0) {
        worker.unref();
        this.idleTimer = setTimeout(() => void this.stop(), this.idleMs);
        this.idleTimer.unref();
      }
    }
  }

  private start(): Promise<Worker> {
    if (this.ready) return this.ready;
    this.ready = new Promise<Worker>((resolve, reject) => {
      const worker = new Worker(workerPath());
      const onMessage = (m: FromEnrollWorker) => {
        if (m.type === 'ready') {
          this.embedder = m.embedder;
          this.worker = worker;
          worker.off('message', onMessage);
          worker.on('message', (r: FromEnrollWorker) => this.onReply(r));
          resolve(worker);
        } else if (m.type === 'error' && m.id === null) {
          void worker.terminate();
          reject(new EnrollError('unavailable', `face recognition could not start: ${m.message}`));
        }
      };
      worker.on('message', onMessage);
      worker.once('error', (err) => {
        this.failAll(err);
        reject(new EnrollError('unavailable', `face recognition could not start: ${err.message}`));
      });
      worker.on('exit', () => {
        if (this.worker === worker || this.ready) this.failAll(new Error('the enrollment worker stopped'));
        if (this.worker === worker) this.worker = null;
        this.ready = null;
      });
      worker.unref();
      worker.postMessage({ type: 'init', pipeline: this.pipeline() } satisfies ToEnrollWorker);
    });
    this.ready.catch(() => (this.ready = null));
    return this.ready;
  }

  private onReply(m: FromEnrollWorker): void {
    if (!('id' in m) || m.id === null) return;
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'error') {
      p.reject(m.kind ? EnrollError.from({ kind: m.kind, message: m.message, imageIndex: m.imageIndex, details: m.details }) : new Error(m.message));
    } else p.resolve(m);
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  async stop(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const w = this.worker;
    this.worker = null;
    this.ready = null;
    if (!w) return;
    // Keep the process alive until the worker has released its sessions (it is unref'd while idle).
    w.ref();
    w.postMessage({ type: 'close' } satisfies ToEnrollWorker);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([new Promise((r) => w.once('exit', r)), new Promise((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    await w.terminate();
  }
}

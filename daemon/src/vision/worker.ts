/**
 * The vision worker thread: owns the ONNX Runtime sessions and runs the pipeline on the
 * frames the main thread posts, one at a time. Inference never runs on the main thread.
 * The frames are one camera stream: with tracking on, the stream's FaceTracks (vision/faceTracks.ts)
 * carries each face from one frame's mesh to the next and the detector runs only to find faces.
 */
import { parentPort } from 'node:worker_threads';
import { decodeFrame } from './decode.js';
import { FaceTracks } from './faceTracks.js';
import { FacePipeline, type ProcessOptions } from './pipeline.js';
import type { FromWorker, ToWorker } from './workerProtocol.js';

if (!parentPort) throw new Error('vision worker must run in a worker thread');
const port = parentPort;
let pipeline: FacePipeline | null = null;
let processOptions: ProcessOptions = {};
let tracks: FaceTracks | null = null;

function post(m: FromWorker, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

port.on('message', (m: ToWorker) => {
  void handle(m);
});

async function handle(m: ToWorker): Promise<void> {
  try {
    if (m.type === 'init') {
      pipeline = await FacePipeline.create(m.pipeline);
      processOptions = m.process;
      tracks = m.tracking ? new FaceTracks(m.tracking) : null;
      post({
        type: 'ready',
        embedder: pipeline.embedderId(),
        precision: pipeline.choice.embedder.precision,
        detector: pipeline.choice.detector.id,
        dim: pipeline.embeddingDim,
      });
    } else if (m.type === 'frame') {
      if (!pipeline) throw new Error('vision worker not initialised');
      const t0 = performance.now();
      const img = await decodeFrame({
        seq: m.seq,
        capturedAt: m.capturedAt,
        width: m.width,
        height: m.height,
        format: m.format,
        data: Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength),
      });
      const decodeMs = performance.now() - t0;
      const r = tracks ? await pipeline.processStream(img, tracks, processOptions) : await pipeline.process(img, processOptions);
      const detectorRan = 'detected' in r ? r.detected !== null : true;
      const result = {
        seq: m.seq,
        capturedAt: m.capturedAt,
        width: img.width,
        height: img.height,
        faces: r.faces,
        timings: { decodeMs, ...r.timings, totalMs: performance.now() - t0 },
        detectorRan,
      };
      post({ type: 'result', id: m.id, result });
    } else if (m.type === 'close') {
      await pipeline?.release();
      pipeline = null;
      port.close();
    }
  } catch (err) {
    post({ type: 'error', id: m.type === 'frame' ? m.id : null, message: (err as Error).message });
  }
}

/**
 * The admin's enrollment worker thread: its own face pipeline analyses enrollment photos (decode,
 * detect, quality gates, embed) and camera frames for the enrollment page's feedback. ONNX
 * Runtime's run() is synchronous in Node, so this on the main thread would stall the door; here it
 * never does. Nothing is written here: the people registry (main thread) stores the result.
 */
import { parentPort } from 'node:worker_threads';
import { Enroller } from '../vision/enroller.js';
import { EnrollError } from '../vision/enrollError.js';
import { FacePipeline } from '../vision/pipeline.js';
import { decodeImage } from '../vision/decode.js';
import { DEFAULT_GATES } from '../vision/quality.js';
import type { FromEnrollWorker, ToEnrollWorker } from './enrollProtocol.js';

if (!parentPort) throw new Error('the enrollment worker must run in a worker thread');
const port = parentPort;
let pipeline: FacePipeline | null = null;
let enroller: Enroller | null = null;

const post = (m: FromEnrollWorker) => port.postMessage(m);
const buffer = (d: Uint8Array) => Buffer.from(d.buffer, d.byteOffset, d.byteLength);

function fail(id: number | null, err: unknown): void {
  if (err instanceof EnrollError) post({ type: 'error', id, ...err.toJSON() });
  else post({ type: 'error', id, kind: null, message: (err as Error).message ?? String(err), imageIndex: null, details: {} });
}

// One request at a time, in order.
let chain: Promise<void> = Promise.resolve();
port.on('message', (m: ToEnrollWorker) => {
  chain = chain.then(() => handle(m));
});

async function handle(m: ToEnrollWorker): Promise<void> {
  const id = 'id' in m ? m.id : null;
  try {
    if (m.type === 'init') {
      pipeline = await FacePipeline.create(m.pipeline);
      enroller = new Enroller(pipeline);
      post({ type: 'ready', embedder: pipeline.embedderId(), precision: pipeline.choice.embedder.precision });
      return;
    }
    if (m.type === 'close') {
      await pipeline?.release();
      pipeline = null;
      enroller = null;
      port.close();
      return;
    }
    if (!pipeline || !enroller) throw new Error('enrollment worker not initialised');
    if (m.type === 'analyze_photos') {
      const faces = await enroller.analyzeAll(m.images.map((i) => ({ name: i.name, data: buffer(i.data) })));
      post({ type: 'photos_analyzed', id: m.id, modelId: enroller.modelId, faces });
    } else if (m.type === 'embed') {
      const a = await enroller.analyze(buffer(m.data));
      post({ type: 'embedded', id: m.id, embedding: a.embedding, modelId: enroller.modelId, precision: enroller.precision });
    } else if (m.type === 'embed_chips') {
      // Stored enrollment chips of a person, for the re-embedder (registry/reembedder.ts).
      const embeddings = await enroller.embedChips(m.chips);
      post({ type: 'chips_embedded', id: m.id, embeddings, modelId: enroller.modelId });
    } else if (m.type === 'assess') {
      // One camera frame for the enrollment page's feedback: faces and quality, no embedding.
      const img = await decodeImage(buffer(m.data));
      const r = await pipeline.process(img, { embed: false, passive: false, gates: DEFAULT_GATES });
      post({ type: 'assessed', id: m.id, width: img.width, height: img.height, faces: r.faces.map((f) => ({ box: f.box, quality: f.quality })) });
    }
  } catch (err) {
    fail(id, err);
  }
}

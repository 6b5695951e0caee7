/**
 * The admin's enrollment worker thread: its own face pipeline and database connection run
 * the vision Enroller (decode, detect, quality gates, embed, duplicate check, one write
 * transaction). ONNX Runtime's run() is synchronous in Node, so enrollment on the main
 * thread would stall the door; here it never does.
 */
import { parentPort } from 'node:worker_threads';
import { Store } from '../store/store.js';
import { Enroller, EnrollError } from '../vision/enroller.js';
import { FacePipeline } from '../vision/pipeline.js';
import { decodeImage } from '../vision/decode.js';
import { DEFAULT_GATES } from '../vision/quality.js';
import type { FromEnrollWorker, ToEnrollWorker } from './enrollProtocol.js';

if (!parentPort) throw new Error('the enrollment worker must run in a worker thread');
const port = parentPort;
let pipeline: FacePipeline | null = null;
let store: Store | null = null;

const post = (m: FromEnrollWorker) => port.postMessage(m);

function fail(id: number | null, err: unknown): void {
  if (err instanceof EnrollError) post({ type: 'error', id, kind: err.kind, message: err.message, imageIndex: err.imageIndex, details: err.details });
  else post({ type: 'error', id, kind: null, message: (err as Error).message ?? String(err), imageIndex: null, details: {} });
}

// One request at a time, in order: enrollments must see each other's writes (duplicates).
let chain: Promise<void> = Promise.resolve();
port.on('message', (m: ToEnrollWorker) => {
  chain = chain.then(() => handle(m));
});

async function handle(m: ToEnrollWorker): Promise<void> {
  const id = 'id' in m ? m.id : null;
  try {
    if (m.type === 'init') {
      pipeline = await FacePipeline.create(m.pipeline);
      store = Store.open(m.dbFile);
      post({ type: 'ready', embedder: pipeline.embedderId(), precision: pipeline.choice.embedder.precision });
    } else if (m.type === 'enroll') {
      if (!pipeline || !store) throw new Error('enrollment worker not initialised');
      const images = m.request.images.map((i) => ({ name: i.name, data: Buffer.from(i.data.buffer, i.data.byteOffset, i.data.byteLength) }));
      const result = await new Enroller(pipeline, store, null, { threshold: m.threshold }).enroll({ ...m.request, images });
      post({ type: 'enrolled', id: m.id, result });
    } else if (m.type === 'embed') {
      if (!pipeline || !store) throw new Error('enrollment worker not initialised');
      const r = await new Enroller(pipeline, store, null, { threshold: 1 }).embed(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));
      post({ type: 'embedded', id: m.id, embedding: r.embedding, modelId: r.modelId, precision: r.precision });
    } else if (m.type === 'analyze') {
      // One camera frame for the enrollment page's feedback: faces and quality, no embedding.
      if (!pipeline) throw new Error('enrollment worker not initialised');
      const img = await decodeImage(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));
      const r = await pipeline.process(img, { embed: false, passive: false, gates: DEFAULT_GATES });
      post({ type: 'analyzed', id: m.id, width: img.width, height: img.height, faces: r.faces.map((f) => ({ box: f.box, quality: f.quality })) });
    } else if (m.type === 'close') {
      await pipeline?.release();
      store?.close();
      pipeline = null;
      store = null;
      port.close();
    }
  } catch (err) {
    fail(id, err);
  }
}

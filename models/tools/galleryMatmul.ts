/**
 * `node dist/models/tools/galleryMatmul.js` — builds models/onnx/gallery-matmul.onnx and writes
 * its one entry into models/manifest.json (every other entry is left as it is).
 *
 * C[N,P] = MatMul(a[N,D], b[D,P]) with N, D and P symbolic: the large gallery's linear algebra on
 * onnxruntime (MLAS SGEMM, off the event loop) — projecting templates onto the gallery's principal
 * subspace, the coarse search over the projected rows (P = 1), and the sample products the
 * subspace is found from.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256, serializeManifest, tensorSpecs, type Manifest, type ManifestEntry } from './manifest.js';
import { OnnxGraph } from './onnxBuilder.js';
import { TensorType } from './onnxProto.js';

export const GALLERY_MATMUL_ID = 'gallery-matmul';
const FILE = 'onnx/gallery-matmul.onnx';
const NOTES =
  'c[N,P] = MatMul(a[N,D], b[D,P]) with N, D and P symbolic: the large gallery on onnxruntime (MLAS SGEMM, off the event loop): projection of templates onto the principal subspace, the coarse search over projected rows, the subspace iteration. Not an image model: second input b [D,P], normalization unused';

export function galleryMatmulGraph(): OnnxGraph {
  const g = new OnnxGraph('gallery_matmul');
  g.opset = 13;
  g.inputs = [
    { name: 'a', type: TensorType.FLOAT, shape: ['N', 'D'] },
    { name: 'b', type: TensorType.FLOAT, shape: ['D', 'P'] },
  ];
  g.opNamed('MatMul', ['a', 'b'], 'c');
  g.outputs = [{ name: 'c', type: TensorType.FLOAT, shape: ['N', 'P'] }];
  return g;
}

/** Writes the graph file under `outDir` and returns its manifest entry (buildAll adds it to the manifest it writes). */
export function writeGalleryMatmul(outDir: string): ManifestEntry {
  const g = galleryMatmulGraph();
  const bytes = g.encode(`${GALLERY_MATMUL_ID}: ${NOTES}`);
  mkdirSync(join(outDir, 'onnx'), { recursive: true });
  writeFileSync(join(outDir, FILE), bytes);
  const [input] = tensorSpecs(g.inputs);
  if (!input) throw new Error(`${GALLERY_MATMUL_ID}: no input`);
  const entry: ManifestEntry = {
    id: GALLERY_MATMUL_ID,
    task: 'search',
    precision: 'fp32',
    file: FILE,
    sha256: sha256(bytes),
    bytes: bytes.length,
    source: { kind: 'built' },
    input,
    outputs: tensorSpecs(g.outputs),
    normalization: { scale: 1, mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'RGB' },
    licence: 'project code (models/tools)',
    notes: NOTES,
  };
  return entry;
}

/** Writes the graph and puts its entry into `modelsDir`/manifest.json, leaving every other entry as it is. */
export function buildGalleryMatmul(modelsDir: string): ManifestEntry {
  const entry = writeGalleryMatmul(modelsDir);
  const path = join(modelsDir, 'manifest.json');
  const m = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  const at = m.models.findIndex((e) => e.id === GALLERY_MATMUL_ID);
  if (at >= 0) m.models[at] = entry;
  else {
    // where buildAll puts it: after the catalog's entries, before user-supplied ones
    const user = m.models.findIndex((e) => e.source.kind === 'user');
    m.models.splice(user >= 0 ? user : m.models.length, 0, entry);
  }
  writeFileSync(path, serializeManifest(m));
  return entry;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  // dist/models/tools -> models/ of the repo
  const e = buildGalleryMatmul(resolve(dirname(fileURLToPath(import.meta.url)), '../../../models'));
  process.stderr.write(`${e.file}: ${e.bytes} bytes sha256 ${e.sha256}\n`);
}

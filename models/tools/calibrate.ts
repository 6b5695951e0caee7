/**
 * Activation-range calibration for the INT8 quantizer: run the FP32 graph (with every
 * quantizable tensor exposed as an output) on aligned face crops and record min/max per tensor.
 * The crops come from ordinary photos, detected and aligned by the daemon's own pipeline
 * (faceChipsFromPhotos). The result is committed as models/calibration/<model>.json so
 * rebuilding needs no images.
 */
import * as ort from 'onnxruntime-node';
import { augment, faceChipsFromPhotos, listImages, passiveCropsFromPhotos } from './faceCrops.js';
import type { OnnxGraph } from './onnxBuilder.js';
import { withCalibrationOutputs, type CalibrationTable, type QuantizeOptions } from './quantize.js';

/** Fewer usable faces than this and --calibrate refuses: the ranges would not represent real faces. */
export const MIN_CALIBRATION_FACES = 20;
/** Crops per face: as-is, mirrored, two small shifts (alignment jitter). */
export const CALIBRATION_VARIANTS = 4;

export interface CalibrateOptions {
  /**
   * minmax: the full observed range. percentile: the central `percentile` % of the observed
   * values (both tails clipped; graph inputs keep their full range), which spends the 256 uint8
   * levels on the values that occur instead of on rare outliers.
   */
  method?: 'minmax' | 'percentile';
  percentile?: number;
  quantize?: QuantizeOptions;
}

const HIST_BINS = 4096;

export async function calibrate(
  g: OnnxGraph,
  inputs: Float32Array[],
  inputShape: number[],
  model: string,
  log: (m: string) => void = () => {},
  o: CalibrateOptions = {},
): Promise<CalibrationTable> {
  const method = o.method ?? 'minmax';
  const pct = o.percentile ?? 99.99;
  const { graph, tensors } = withCalibrationOutputs(g, o.quantize);
  const session = await ort.InferenceSession.create(graph.encode('calibration'), { graphOptimizationLevel: 'disabled' });
  const lo = new Map<string, number>(tensors.map((t) => [t, Infinity]));
  const hi = new Map<string, number>(tensors.map((t) => [t, -Infinity]));
  const inputName = g.inputs[0]?.name ?? 'input';
  const runAll = async (visit: (t: string, d: Float32Array) => void, pass: string): Promise<void> => {
    for (let i = 0; i < inputs.length; i++) {
      const x = inputs[i];
      if (!x) continue;
      const res = await session.run({ [inputName]: new ort.Tensor('float32', x, inputShape) }, tensors);
      for (const t of tensors) visit(t, res[t]?.data as Float32Array);
      if ((i + 1) % 20 === 0 || i + 1 === inputs.length) log(`  calibrated ${i + 1}/${inputs.length}${pass}`);
    }
  };
  await runAll(
    (t, d) => {
      let mn = lo.get(t) ?? Infinity;
      let mx = hi.get(t) ?? -Infinity;
      for (let k = 0; k < d.length; k++) {
        const v = d[k] ?? 0;
        if (v < mn) mn = v;
        if (v > mx) mx = v;
      }
      lo.set(t, mn);
      hi.set(t, mx);
    },
    method === 'percentile' ? ' (ranges)' : '',
  );
  if (method === 'percentile') {
    const graphInputs = new Set(g.inputs.map((i) => i.name));
    const hist = new Map<string, Float64Array>(tensors.map((t) => [t, new Float64Array(HIST_BINS)]));
    await runAll((t, d) => {
      const h = hist.get(t)!;
      const a = lo.get(t) ?? 0;
      const w = ((hi.get(t) ?? 0) - a) / HIST_BINS || 1;
      for (let k = 0; k < d.length; k++) h[Math.min(HIST_BINS - 1, Math.max(0, Math.floor(((d[k] ?? 0) - a) / w)))]! += 1;
    }, ' (histograms)');
    for (const t of tensors) {
      if (graphInputs.has(t)) continue;
      const h = hist.get(t)!;
      const total = h.reduce((p, c) => p + c, 0);
      const cut = (total * (100 - pct)) / 100;
      const a = lo.get(t) ?? 0;
      const w = ((hi.get(t) ?? 0) - a) / HIST_BINS;
      let acc = 0,
        b0 = 0;
      while (b0 < HIST_BINS - 1 && acc + h[b0]! <= cut) acc += h[b0++]!;
      acc = 0;
      let b1 = HIST_BINS - 1;
      while (b1 > 0 && acc + h[b1]! <= cut) acc += h[b1--]!;
      // keep 0 exactly representable and never widen past the observed range
      lo.set(t, Math.min(0, Math.max(a, a + b0 * w)));
      hi.set(t, Math.max(0, Math.min(hi.get(t) ?? 0, a + (b1 + 1) * w)));
    }
  }
  await session.release();
  const ranges: Record<string, [number, number]> = {};
  // rounded to 6 significant digits: small, diff-friendly, deterministic
  for (const t of tensors) ranges[t] = [Number((lo.get(t) ?? 0).toPrecision(6)), Number((hi.get(t) ?? 0).toPrecision(6))];
  return { model, method: method === 'percentile' ? `percentile ${pct}` : 'minmax', images: inputs.length, ranges };
}

export interface PhotoCalibrationOptions {
  /** models/ folder with the FP32 detector, FaceMesh and embedder used to align the faces. */
  modelsDir: string;
  /** FP32 embedder of that manifest whose chip geometry and normalisation the crops get (default: the manifest's). */
  embedder?: string;
  /** Calibrate a passive network instead: its FP32 manifest id; the crops are the ones the door's passive scorer feeds it. */
  passive?: string;
  minFaces?: number;
  variants?: number;
  minFaceSizePx?: number;
  method?: CalibrateOptions;
  log?: (m: string) => void;
  warn?: (m: string) => void;
}

export interface PhotoCalibrationTable extends CalibrationTable {
  /** Usable faces (before augmentation) and the photos they came from. */
  faces: number;
  photos: number;
  alignment: string;
}

export interface PhotoCalibration {
  table: PhotoCalibrationTable;
  warnings: string[];
}

/**
 * Calibrates the FP32 graph (`loadGraph`, called once the faces are found) on every face in the
 * photos under `dirs` (recursively; jpg/png/webp), aligned the way the daemon aligns at run time.
 * Bad images are warnings; throws when fewer than `minFaces` usable faces result, naming the
 * count, the folders and the most common problems.
 */
export async function calibrateFromPhotos(
  loadGraph: () => Promise<OnnxGraph>,
  dirs: string[],
  model: string,
  o: PhotoCalibrationOptions,
): Promise<PhotoCalibration> {
  const log = o.log ?? (() => {});
  const minFaces = o.minFaces ?? MIN_CALIBRATION_FACES;
  const variants = o.variants ?? CALIBRATION_VARIANTS;
  const paths = dirs.flatMap((d) => listImages(d));
  if (paths.length === 0) throw new Error(`--calibrate: no images (jpg, png, webp) in ${dirs.join(', ')}`);
  log(`detecting and aligning faces in ${paths.length} images from ${dirs.join(', ')}`);
  const found = o.passive
    ? await passiveCropsFromPhotos(paths, { modelsDir: o.modelsDir, model: o.passive, minFaceSizePx: o.minFaceSizePx, warn: o.warn, log })
    : await faceChipsFromPhotos(paths, { modelsDir: o.modelsDir, embedder: o.embedder, minFaceSizePx: o.minFaceSizePx, warn: o.warn, log });
  const photos = new Set(found.sources).size;
  if (found.chips.length < minFaces) {
    const noFace = found.warnings.filter((w) => w.endsWith('no face found')).length;
    const unreadable = found.warnings.filter((w) => w.includes('not a readable image') || w.includes('empty file')).length;
    throw new Error(
      `--calibrate: only ${found.chips.length} usable face${found.chips.length === 1 ? '' : 's'} in ${paths.length} images under ${dirs.join(', ')} ` +
        `(need at least ${minFaces}; ${noFace} images without a face, ${unreadable} unreadable). Add more photos of faces.`,
    );
  }
  const crops = augment(found.chips, variants);
  log(`calibrating on ${found.chips.length} faces from ${photos} photos (x${variants} with mirror/shift = ${crops.length} crops)`);
  const size = found.chips[0]?.width ?? 0;
  const shape = found.layout === 'NCHW' ? [1, 3, size, size] : [1, size, size, 3];
  const base = await calibrate(await loadGraph(), crops.map(found.toInput), shape, model, log, o.method);
  const table: PhotoCalibrationTable = {
    model: base.model,
    method: base.method,
    images: base.images,
    faces: found.chips.length,
    photos,
    alignment: o.passive
      ? `${found.modelId} crop, daemon/src/vision/pipeline.ts detector cascade, ${found.geometry}`
      : `${found.modelId} chip, daemon/src/vision/pipeline.ts (detector cascade, FaceMesh five points, ${found.geometry})`,
    ranges: base.ranges,
  };
  return { table, warnings: found.warnings };
}

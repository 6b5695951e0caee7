/**
 * Face crops for calibration, tests and benchmarks: aligned chips cut from ordinary photos by
 * the daemon's own vision pipeline (detect → FaceMesh → five points → dlib chip), or ready-made
 * chips decoded with sharp; simple deterministic augmentation (mirror, small shifts), and the
 * embedder's input normalisation.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { packTensor, warpRgb } from '../../daemon/src/vision/align.js';
import { decodeImage } from '../../daemon/src/vision/decode.js';
import { loadModelManifest, type ModelEntry } from '../../daemon/src/vision/modelManifest.js';
import { inputNorm, inputSize } from '../../daemon/src/vision/modelSet.js';
import { passiveCropTransform } from '../../daemon/src/vision/models/passiveScorer.js';
import { FacePipeline } from '../../daemon/src/vision/pipeline.js';
import { FACEAPI_INPUT, FACEAPI_MEAN_RGB } from './faceApiResnet.js';

export interface RgbImage {
  width: number;
  height: number;
  /** interleaved RGB, 0..255 */
  data: Uint8Array;
}

export async function loadRgb(path: string, size?: number): Promise<RgbImage> {
  let img = sharp(path).rotate().removeAlpha().toColourspace('srgb');
  if (size) img = img.resize(size, size, { fit: 'fill' });
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`${path}: expected 3 channels, got ${info.channels}`);
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

export function mirror(img: RgbImage): RgbImage {
  const out = new Uint8Array(img.data.length);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      for (let c = 0; c < 3; c++) out[(y * img.width + x) * 3 + c] = img.data[(y * img.width + (img.width - 1 - x)) * 3 + c] ?? 0;
    }
  }
  return { ...img, data: out };
}

/** Translate by (dx, dy) pixels, replicating the border. */
export function shift(img: RgbImage, dx: number, dy: number): RgbImage {
  const out = new Uint8Array(img.data.length);
  for (let y = 0; y < img.height; y++) {
    const sy = Math.min(img.height - 1, Math.max(0, y - dy));
    for (let x = 0; x < img.width; x++) {
      const sx = Math.min(img.width - 1, Math.max(0, x - dx));
      for (let c = 0; c < 3; c++) out[(y * img.width + x) * 3 + c] = img.data[(sy * img.width + sx) * 3 + c] ?? 0;
    }
  }
  return { ...img, data: out };
}

/** Each crop as-is, mirrored, and shifted by a few px: `variants` (1..6) per image. */
export function augment(imgs: RgbImage[], variants = 4): RgbImage[] {
  return imgs.flatMap((i) => [i, mirror(i), shift(i, 3, -2), shift(mirror(i), -3, 2), shift(i, -2, 3), shift(mirror(i), 2, -3)].slice(0, variants));
}

/** NHWC float input for face-api's network: (rgb - mean) / 255. */
export function faceApiInput(img: RgbImage): Float32Array {
  const out = new Float32Array(img.data.length);
  for (let i = 0; i < out.length; i++) out[i] = ((img.data[i] ?? 0) - (FACEAPI_MEAN_RGB[i % 3] ?? 0)) / 255;
  return out;
}

const IMAGE_EXT = /\.(png|jpe?g|webp)$/i;

/** Image files (jpg/png/webp) in a folder tree, sorted (deterministic order). */
export function listImages(dir: string): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch (err) {
    throw new Error(`cannot read folder ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  for (const e of entries) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...listImages(p));
    else if (IMAGE_EXT.test(e)) out.push(p);
  }
  return out;
}

/**
 * Identity folders of the shared test set that hold 150x150 aligned chips. The committed
 * calibration table uses the face-api.js chips; tests evaluate INT8 on the dlib chips, so the
 * accuracy check is out of the calibration sample.
 */
export const CALIBRATION_CHIP_IDENTITIES = ['amy', 'howard', 'leonard', 'penny', 'sheldon'];
export const EVAL_CHIP_IDENTITIES = ['john_salley', 'john_savage', 'john_schneider'];
export const ALIGNED_IDENTITIES_ALL = [...CALIBRATION_CHIP_IDENTITIES, ...EVAL_CHIP_IDENTITIES];

export async function loadAlignedChips(facesDir: string, identities: string[]): Promise<RgbImage[]> {
  const files = identities.flatMap((id) => listImages(join(facesDir, id)));
  return Promise.all(files.map((f) => loadRgb(f, FACEAPI_INPUT)));
}

/** The daemon's defaults for the faces it embeds at the door (config vision.detectorScore / minFaceSizePx). */
export const RUNTIME_DETECTOR_SCORE = 0.5;
export const RUNTIME_MIN_FACE_PX = 60;

export interface PhotoChipOptions {
  /** models/ folder whose FP32 detector, FaceMesh and embedder entries do the detection and alignment. */
  modelsDir: string;
  /** Embedder (id or family) whose chip the faces are aligned to (default: the manifest's). */
  embedder?: string;
  /** Faces smaller than this (largest side of the face box, image pixels) are skipped. */
  minFaceSizePx?: number;
  minScore?: number;
  /** Called per image with a problem (unreadable, no face, faces too small). */
  warn?: (m: string) => void;
  log?: (m: string) => void;
}

export interface PhotoChips {
  /** One aligned chip per usable face, in file order (faces in detection order). */
  chips: RgbImage[];
  /** The image path of each chip. */
  sources: string[];
  warnings: string[];
  /** Turns a chip into the embedder's input tensor exactly as the daemon does (manifest normalisation). */
  toInput: (chip: RgbImage) => Float32Array;
  /** Manifest id of the model whose crop geometry and input normalisation were used. */
  modelId: string;
  /** Layout of the tensors toInput makes. */
  layout: 'NHWC' | 'NCHW';
  /** The chip geometry, in words. */
  geometry: string;
}

/** The usable faces of some photos: one crop each, the photo it came from, and the problems met. */
type PhotoFaces = Pick<PhotoChips, 'chips' | 'sources' | 'warnings'>;

/**
 * Every photo decoded in turn and its faces found by `find` (each: the longer side of its box in
 * image pixels, and how to cut its crop); faces below the size floor are skipped. An unreadable
 * photo, one without a face and skipped small faces become warnings, never an exception.
 */
async function facesOfPhotos(
  paths: string[],
  o: { minFaceSizePx?: number; warn?: (m: string) => void; log?: (m: string) => void },
  verb: string,
  find: (img: RgbImage) => Promise<{ side: number; crop: () => RgbImage }[]>,
): Promise<PhotoFaces> {
  const minSize = o.minFaceSizePx ?? RUNTIME_MIN_FACE_PX;
  const chips: RgbImage[] = [];
  const sources: string[] = [];
  const warnings: string[] = [];
  const warn = (m: string): void => {
    warnings.push(m);
    o.warn?.(m);
  };
  for (const [i, path] of paths.entries()) {
    let img: RgbImage;
    try {
      img = await decodeImage(readFileSync(path));
    } catch (err) {
      warn(`${path}: skipped, ${(err as Error).message}`);
      continue;
    }
    const faces = await find(img);
    const usable = faces.filter((f) => f.side >= minSize);
    if (faces.length === 0) warn(`${path}: skipped, no face found`);
    else if (usable.length < faces.length) warn(`${path}: ${faces.length - usable.length} of ${faces.length} faces smaller than ${minSize} px skipped`);
    for (const f of usable) {
      chips.push(f.crop());
      sources.push(path);
    }
    if ((i + 1) % 20 === 0 || i + 1 === paths.length) o.log?.(`  ${verb} ${chips.length} faces from ${i + 1}/${paths.length} images`);
  }
  return { chips, sources, warnings };
}

/** What turns a crop into `entry`'s input tensor exactly as the daemon does (manifest normalisation and layout). */
function inputOf(entry: ModelEntry): Pick<PhotoChips, 'toInput' | 'modelId' | 'layout'> {
  const norm = inputNorm(entry);
  return {
    toInput: (chip) => packTensor(chip.data, chip.width, chip.height, norm, new Float32Array(chip.width * chip.height * 3)),
    modelId: entry.id,
    layout: entry.input.layout === 'NCHW' ? 'NCHW' : 'NHWC',
  };
}

/**
 * Aligned embedder chips from ordinary photos, made by the production pipeline
 * (daemon/src/vision/pipeline.ts) with FP32 models: detector cascade with the zoomed-out retry
 * (so tight, already aligned chips are found too), FaceMesh confirmation, five points, similarity
 * warp to dlib's face-chip geometry (`FacePipeline.alignChip`). Every face of an image is used.
 * Problems with single images become warnings; nothing here throws for a bad image.
 */
export async function faceChipsFromPhotos(paths: string[], o: PhotoChipOptions): Promise<PhotoChips> {
  const pipeline = await FacePipeline.create({
    modelsDir: o.modelsDir,
    recognitionModel: o.embedder,
    precision: 'fp32',
    detector: 'auto',
    antispoof: false,
    liveness: false,
  });
  const entry = pipeline.choice.embedder;
  let found: PhotoFaces;
  try {
    found = await facesOfPhotos(paths, o, 'aligned', async (img) => {
      const { faces } = await pipeline.process(img, {
        minScore: o.minScore ?? RUNTIME_DETECTOR_SCORE,
        retryZoomedOut: true,
        embed: false,
        passive: false,
        precision: 'fp32',
      });
      return faces.map((f) => ({
        side: Math.max(f.box.width, f.box.height),
        crop: () => {
          const { chip, size } = pipeline.alignChip(img, f.landmarks5, 'fp32');
          return { width: size, height: size, data: chip };
        },
      }));
    });
  } finally {
    await pipeline.release();
  }
  const size = inputSize(entry).width;
  const geometry = size === 150 ? 'dlib face-chip geometry 150x150, padding 0.25' : `ArcFace 5-point template ${size}x${size}`;
  return { ...found, ...inputOf(entry), geometry };
}

export interface PassiveCropOptions {
  /** models/ folder whose FP32 detectors find the faces and whose manifest has `model`. */
  modelsDir: string;
  /** Manifest id of the passive network (task antispoof or liveness) whose input the crops are. */
  model: string;
  minFaceSizePx?: number;
  minScore?: number;
  warn?: (m: string) => void;
  log?: (m: string) => void;
}

/**
 * The crops the door's passive scorer feeds a passive network (vision/models/passiveScorer.ts:
 * the detector box × 1.4, square, upright, warped to the network's input), from ordinary photos:
 * every face the daemon's FP32 detector cascade finds (letterboxed, and zoomed out ×2 when the
 * letterboxed image gives none, for tight face crops). Problems with single images are warnings.
 */
export async function passiveCropsFromPhotos(paths: string[], o: PassiveCropOptions): Promise<PhotoChips> {
  const entry = loadModelManifest(o.modelsDir).models.find((m) => m.id === o.model);
  if (!entry || (entry.task !== 'antispoof' && entry.task !== 'liveness'))
    throw new Error(`${o.model}: not an anti-spoof or liveness model of ${o.modelsDir}/manifest.json`);
  const pipeline = await FacePipeline.create({ modelsDir: o.modelsDir, precision: 'fp32', detector: 'auto', antispoof: false, liveness: false });
  const size = inputSize(entry).width;
  let found: PhotoFaces;
  try {
    found = await facesOfPhotos(paths, o, 'cropped', async (img) => {
      const minScore = o.minScore ?? RUNTIME_DETECTOR_SCORE;
      let dets = await pipeline.detect(img, { minScore });
      if (dets.length === 0) dets = await pipeline.detect(img, { minScore, zoomOut: 2 });
      return dets.map((d) => ({
        side: Math.max(d.box.width, d.box.height),
        crop: () => ({ width: size, height: size, data: warpRgb(img, passiveCropTransform(d.box, size), size, size) }),
      }));
    });
  } finally {
    await pipeline.release();
  }
  return { ...found, ...inputOf(entry), geometry: `detector box x1.4, square, upright, ${size}x${size} (vision/models/passiveScorer.ts)` };
}

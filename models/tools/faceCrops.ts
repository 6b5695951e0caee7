/**
 * Aligned face-crop loading for calibration, tests and benchmarks: decode with sharp to RGB,
 * resize to the embedder input, simple deterministic augmentation (mirror, small shifts), and
 * face-api's input normalisation.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
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

/** Image files in a folder tree, sorted (deterministic order). */
export function listImages(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir).sort()) {
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

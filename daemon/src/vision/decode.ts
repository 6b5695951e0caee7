import sharp from 'sharp';
import type { Frame } from '../camera/frame.js';
import type { RgbImage } from './align.js';

// libvips' operation cache keeps up to 50 MB of decoded pixels per process for re-use that a
// decode-once pipeline never makes; off, a burst of enrollment photos leaves nothing behind.
sharp.cache(false);

export class NotAnImageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotAnImageError';
  }
}

/** Largest side accepted from uploads; bigger photos are downscaled on decode (faces stay far above the detector's needs). */
export const MAX_DECODE_SIDE = 1920;

/**
 * Decodes any image sharp reads (JPEG, PNG, WebP, GIF, TIFF, AVIF…) to interleaved 8-bit RGB,
 * applying EXIF orientation, dropping alpha and converting grayscale to RGB. Anything else is
 * a NotAnImageError naming what was wrong.
 */
export async function decodeImage(data: Buffer | Uint8Array, maxSide = MAX_DECODE_SIDE): Promise<RgbImage> {
  if (!data || data.length === 0) throw new NotAnImageError('empty file');
  let info: { width: number; height: number; channels: number };
  let out: Buffer;
  try {
    let img = sharp(data, { failOn: 'error', limitInputPixels: 8000 * 8000 }).rotate();
    const meta = await img.metadata();
    if (!meta.width || !meta.height) throw new Error('no dimensions');
    if (Math.max(meta.width, meta.height) > maxSide) img = img.resize(maxSide, maxSide, { fit: 'inside' });
    ({ data: out, info } = await img.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true }));
  } catch (err) {
    throw new NotAnImageError(`not a readable image (${(err as Error).message.split('\n')[0]})`);
  }
  if (info.channels !== 3) throw new NotAnImageError(`unexpected channel count ${info.channels}`);
  return { width: info.width, height: info.height, data: new Uint8Array(out.buffer, out.byteOffset, out.byteLength) };
}

/** A camera frame as RGB: rgb24 frames are used in place (no copy), JPEG frames are decoded. */
export async function decodeFrame(frame: Frame): Promise<RgbImage> {
  if (frame.format === 'rgb24') {
    const need = frame.width * frame.height * 3;
    if (frame.data.length < need) throw new NotAnImageError(`rgb24 frame ${frame.width}x${frame.height} needs ${need} bytes, got ${frame.data.length}`);
    return { width: frame.width, height: frame.height, data: new Uint8Array(frame.data.buffer, frame.data.byteOffset, need) };
  }
  const { data, info } = await sharp(frame.data).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

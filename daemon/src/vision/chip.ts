import sharp from 'sharp';
import { arcfaceTemplate, estimateSimilarity, warpRgb, type RgbImage } from './align.js';
import type { Point } from './types.js';

/** The side of a stored chip, and its alignment's name (registry/chipsTable.ts CHIP_ALIGNMENT). */
export const CHIP_SIZE = 112;
export const CHIP_ALIGNMENT = 'arcface112';

/**
 * The face's model-independent chip: the image warped so the five points land on the ArcFace
 * 112×112 template, as a PNG (lossless). Every embedder's own alignment can be computed from it
 * again (the five points in it are the template), so a chip outlives the model that enrolled it.
 */
export async function encodeChip(img: RgbImage, five: readonly Point[]): Promise<Buffer> {
  const rgb = warpRgb(img, estimateSimilarity(five, arcfaceTemplate(CHIP_SIZE)), CHIP_SIZE, CHIP_SIZE);
  return sharp(rgb, { raw: { width: CHIP_SIZE, height: CHIP_SIZE, channels: 3 } })
    .png()
    .toBuffer();
}

/** A stored chip back to pixels, with its five points (the template); throws on anything but a 112×112 chip. */
export async function decodeChip(png: Uint8Array): Promise<{ img: RgbImage; five: readonly Point[] }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.width !== CHIP_SIZE || info.height !== CHIP_SIZE || info.channels !== 3)
    throw new Error(`a face chip is ${CHIP_SIZE}×${CHIP_SIZE} RGB (got ${info.width}×${info.height}×${info.channels})`);
  return {
    img: { width: CHIP_SIZE, height: CHIP_SIZE, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) },
    five: arcfaceTemplate(CHIP_SIZE),
  };
}

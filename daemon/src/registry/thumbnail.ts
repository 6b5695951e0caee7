import sharp from 'sharp';
import type { Box } from '../vision/types.js';

/**
 * A 112 px JPEG crop around the face box (box × 1.5, clamped to the image) of the photo it was
 * found in, for the admin's people list. The box is in the coordinates of the image as it was
 * analysed (`analysedSize`: large photos are downscaled for analysis), scaled here to the photo
 * as stored. Null when the crop would be empty.
 */
export async function makeThumbnail(image: Buffer, analysedBox: Box, analysedSize: { width: number; height: number }): Promise<Buffer | null> {
  const img = sharp(image).rotate();
  const meta = await img.metadata();
  const W = meta.autoOrient?.width ?? meta.width ?? 0;
  const H = meta.autoOrient?.height ?? meta.height ?? 0;
  const sx = analysedSize.width > 0 ? W / analysedSize.width : 1;
  const sy = analysedSize.height > 0 ? H / analysedSize.height : 1;
  const box = { x: analysedBox.x * sx, y: analysedBox.y * sy, width: analysedBox.width * sx, height: analysedBox.height * sy };
  const pad = Math.max(box.width, box.height) * 0.25;
  const left = Math.max(0, Math.floor(box.x - pad));
  const top = Math.max(0, Math.floor(box.y - pad));
  const width = Math.min(W - left, Math.ceil(box.width + 2 * pad));
  const height = Math.min(H - top, Math.ceil(box.height + 2 * pad));
  if (width < 4 || height < 4) return null;
  return img.extract({ left, top, width, height }).resize(112, 112, { fit: 'cover' }).jpeg({ quality: 80 }).toBuffer();
}

import sharp from 'sharp';
import type { Box } from '../vision/types.js';
import type { AdminContext } from './adminContext.js';

/**
 * Face thumbnails stay on the unit: a 112 px JPEG crop around the face, kept for
 * admin.thumbnailRetentionDays (0 = none is stored at all), pruned hourly.
 */
export async function storeThumbnail(admin: AdminContext, personId: string, image: Buffer, box: Box): Promise<boolean> {
  if (admin.ctx.config.admin.thumbnailRetentionDays <= 0) return false;
  const img = sharp(image).rotate();
  const meta = await img.metadata();
  const W = meta.autoOrient?.width ?? meta.width ?? 0;
  const H = meta.autoOrient?.height ?? meta.height ?? 0;
  const pad = Math.max(box.width, box.height) * 0.25;
  const left = Math.max(0, Math.floor(box.x - pad));
  const top = Math.max(0, Math.floor(box.y - pad));
  const width = Math.min(W - left, Math.ceil(box.width + 2 * pad));
  const height = Math.min(H - top, Math.ceil(box.height + 2 * pad));
  if (width < 4 || height < 4) return false;
  const jpeg = await img.extract({ left, top, width, height }).resize(112, 112, { fit: 'cover' }).jpeg({ quality: 80 }).toBuffer();
  admin.ctx.store.db
    .prepare('INSERT INTO face_thumbnails (person_id, event_id, jpeg, created_at) VALUES (?, NULL, ?, ?)')
    .run(personId, jpeg, admin.now().toISOString());
  return true;
}

export function pruneThumbnails(admin: AdminContext): number {
  const days = admin.ctx.config.admin.thumbnailRetentionDays;
  const db = admin.ctx.store.db;
  if (days <= 0) return db.prepare('DELETE FROM face_thumbnails').run().changes;
  const cut = new Date(admin.now().getTime() - days * 86_400_000).toISOString();
  return db.prepare('DELETE FROM face_thumbnails WHERE created_at < ?').run(cut).changes;
}

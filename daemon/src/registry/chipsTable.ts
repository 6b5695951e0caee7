import type { Db } from '../store/database.js';
import { CHIP_ALIGNMENT } from '../vision/chip.js';

export interface FaceChip {
  id: number;
  alignment: string;
  /** PNG of the aligned chip. */
  png: Buffer;
  quality: number;
}

/**
 * The aligned face chips of each person's enrollment photos, kept so a new embedder can be fed the
 * same faces (registry/reembedder.ts). Model-independent; never synced, never leave the unit.
 */
export class ChipsTable {
  constructor(private readonly db: Db) {}

  add(personId: string, png: Buffer, quality: number, createdAt: string, alignment = CHIP_ALIGNMENT): number {
    return Number(
      this.db
        .prepare('INSERT INTO face_chips (person_id, alignment, png, quality, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(personId, alignment, png, quality, createdAt).lastInsertRowid,
    );
  }

  forPerson(personId: string): FaceChip[] {
    return this.db.prepare('SELECT id, alignment, png, quality FROM face_chips WHERE person_id = ? ORDER BY id').all(personId) as FaceChip[];
  }

  /** Every person with chips, in id order. */
  people(): string[] {
    return (this.db.prepare('SELECT DISTINCT person_id AS id FROM face_chips ORDER BY person_id').all() as Array<{ id: string }>).map((r) => r.id);
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM face_chips').get() as { n: number }).n;
  }

  removeForPerson(personId: string): number {
    return this.db.prepare('DELETE FROM face_chips WHERE person_id = ?').run(personId).changes;
  }
}

import type { Db } from '../store/database.js';

/** Face thumbnails (small JPEG crops) of enrolled people; they never leave the unit. */
export class ThumbnailsTable {
  constructor(private readonly db: Db) {}

  add(personId: string, jpeg: Buffer, createdAt: string): number {
    return Number(
      this.db.prepare('INSERT INTO face_thumbnails (person_id, event_id, jpeg, created_at) VALUES (?, NULL, ?, ?)').run(personId, jpeg, createdAt)
        .lastInsertRowid,
    );
  }

  /** The newest thumbnail of the person, or undefined. */
  latest(personId: string): Buffer | undefined {
    const row = this.db.prepare('SELECT jpeg FROM face_thumbnails WHERE person_id = ? ORDER BY id DESC LIMIT 1').get(personId) as { jpeg: Buffer } | undefined;
    return row?.jpeg;
  }

  /** Which of these people have a thumbnail. */
  haveThumbnail(personIds: readonly string[]): Set<string> {
    const rows = this.db
      .prepare('SELECT DISTINCT person_id FROM face_thumbnails WHERE person_id IN (SELECT value FROM json_each(?))')
      .all(JSON.stringify(personIds)) as Array<{ person_id: string }>;
    return new Set(rows.map((r) => r.person_id));
  }

  removeForPerson(personId: string): number {
    return this.db.prepare('DELETE FROM face_thumbnails WHERE person_id = ?').run(personId).changes;
  }

  /** Deletes thumbnails created before `cutoffIso` (all of them when null). */
  pruneBefore(cutoffIso: string | null): number {
    return cutoffIso === null
      ? this.db.prepare('DELETE FROM face_thumbnails').run().changes
      : this.db.prepare('DELETE FROM face_thumbnails WHERE created_at < ?').run(cutoffIso).changes;
  }
}

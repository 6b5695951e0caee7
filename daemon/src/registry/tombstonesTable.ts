import type { Db } from '../store/database.js';
import type { PersonSyncStamp } from './peopleTable.js';

export interface Tombstone {
  personId: string;
  stamp: PersonSyncStamp;
  enrolledAt: string;
}

/**
 * The last version stamp of each deleted person (sync_tombstones): a deletion is a version too,
 * so an older version of the person pulled or pushed later loses to it and never brings them
 * back. Written in the transaction that removes the person (PeopleRegistry).
 */
export class TombstonesTable {
  constructor(private readonly db: Db) {}

  get(personId: string): Tombstone | undefined {
    const r = this.db.prepare('SELECT * FROM sync_tombstones WHERE person_id = ?').get(personId) as
      { person_id: string; version: number; updated_at: string; unit_id: string; enrolled_at: string } | undefined;
    return r && { personId: r.person_id, stamp: { version: r.version, updatedAt: r.updated_at, unitId: r.unit_id }, enrolledAt: r.enrolled_at };
  }

  put(t: Tombstone): void {
    this.db
      .prepare(
        `INSERT INTO sync_tombstones (person_id, version, updated_at, unit_id, enrolled_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(person_id) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at, unit_id = excluded.unit_id`,
      )
      .run(t.personId, t.stamp.version, t.stamp.updatedAt, t.stamp.unitId, t.enrolledAt);
  }

  remove(personId: string): void {
    this.db.prepare('DELETE FROM sync_tombstones WHERE person_id = ?').run(personId);
  }

  ids(): string[] {
    return (this.db.prepare('SELECT person_id FROM sync_tombstones').all() as Array<{ person_id: string }>).map((r) => r.person_id);
  }
}

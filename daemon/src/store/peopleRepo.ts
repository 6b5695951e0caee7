import { randomUUID } from 'node:crypto';
import type { Db } from './database.js';
import { isoNow } from './time.js';
import { Where } from './where.js';
import type { WeeklyWindow } from '../config/schema.js';

export type PersonStatus = 'ACTIVE' | 'DEACTIVATED';

export interface Person {
  id: string;
  externalId: string | null;
  name: string;
  status: PersonStatus;
  validFrom: string | null;
  validUntil: string | null;
  schedule: WeeklyWindow[] | null;
  notes: string | null;
  createdAt: string;
  updatedAt: string;
}

interface PersonRow {
  id: string;
  external_id: string | null;
  name: string;
  status: PersonStatus;
  valid_from: string | null;
  valid_until: string | null;
  schedule_json: string | null;
  notes: string | null;
  created_at: string;
  updated_at: string;
}

function toPerson(r: PersonRow): Person {
  return {
    id: r.id,
    externalId: r.external_id,
    name: r.name,
    status: r.status,
    validFrom: r.valid_from,
    validUntil: r.valid_until,
    schedule: r.schedule_json ? (JSON.parse(r.schedule_json) as WeeklyWindow[]) : null,
    notes: r.notes,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export type NewPerson = Partial<Omit<Person, 'id' | 'createdAt' | 'updatedAt'>> & { name: string; id?: string };
export type PersonPatch = Partial<Omit<Person, 'id' | 'createdAt' | 'updatedAt'>>;

export class PeopleRepo {
  constructor(private readonly db: Db) {}

  create(p: NewPerson): Person {
    const now = isoNow();
    const id = p.id ?? randomUUID();
    this.db
      .prepare(
        `INSERT INTO people (id, external_id, name, status, valid_from, valid_until, schedule_json, notes, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(id, p.externalId ?? null, p.name, p.status ?? 'ACTIVE', p.validFrom ?? null, p.validUntil ?? null,
        p.schedule ? JSON.stringify(p.schedule) : null, p.notes ?? null, now, now);
    return this.get(id) as Person;
  }

  get(id: string): Person | undefined {
    const row = this.db.prepare('SELECT * FROM people WHERE id = ?').get(id) as PersonRow | undefined;
    return row && toPerson(row);
  }

  byExternalId(externalId: string): Person | undefined {
    const row = this.db.prepare('SELECT * FROM people WHERE external_id = ?').get(externalId) as PersonRow | undefined;
    return row && toPerson(row);
  }

  list(options: { search?: string; status?: PersonStatus; limit?: number; offset?: number } = {}): Person[] {
    const like = options.search ? `%${options.search.replace(/[\\%_]/g, (c) => '\\' + c)}%` : undefined;
    const where = new Where()
      .when(like, `(name LIKE ? ESCAPE '\\' COLLATE NOCASE OR external_id LIKE ? ESCAPE '\\')`, like, like)
      .when(options.status, 'status = ?');
    const sql = `SELECT * FROM people ${where} ORDER BY name COLLATE NOCASE, id LIMIT ? OFFSET ?`;
    return (this.db.prepare(sql).all(...where.args, options.limit ?? 1000, options.offset ?? 0) as PersonRow[]).map(toPerson);
  }

  count(status?: PersonStatus): number {
    const row = status
      ? (this.db.prepare('SELECT count(*) AS n FROM people WHERE status = ?').get(status) as { n: number })
      : (this.db.prepare('SELECT count(*) AS n FROM people').get() as { n: number });
    return row.n;
  }

  update(id: string, patch: PersonPatch): Person | undefined {
    const current = this.get(id);
    if (!current) return undefined;
    const next = { ...current, ...patch };
    this.db
      .prepare(
        `UPDATE people SET external_id = ?, name = ?, status = ?, valid_from = ?, valid_until = ?, schedule_json = ?, notes = ?, updated_at = ?
         WHERE id = ?`,
      )
      .run(next.externalId, next.name, next.status, next.validFrom, next.validUntil,
        next.schedule ? JSON.stringify(next.schedule) : null, next.notes, isoNow(), id);
    return this.get(id);
  }

  /** Deletes the person; templates, thumbnails and attendance go with them (ON DELETE CASCADE). */
  remove(id: string): boolean {
    return this.db.prepare('DELETE FROM people WHERE id = ?').run(id).changes > 0;
  }
}

import { randomUUID } from 'node:crypto';
import type { Db } from '../store/database.js';
import { isoNow } from '../store/time.js';
import { Where } from '../store/where.js';
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
  sync_version: number;
  sync_unit_id: string;
}

/** A person's last-writer-wins stamp (sync/lww.ts): version, time of that version, the unit that wrote it. */
export interface PersonSyncStamp {
  version: number;
  updatedAt: string;
  /** '' = this unit (written before it had an id). */
  unitId: string;
}

/** A whole person as a pulled record carries it, with its stamp. */
export type SyncedPersonRow = Omit<Person, 'updatedAt'> & { stamp: PersonSyncStamp };

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

/** What the people list can be narrowed to (the same filter for a page and for its total). */
export interface PeopleFilter {
  search?: string;
  status?: PersonStatus;
}

/** A position in the name order: the name as it was on the page the caller saw, and the id that breaks ties. */
export interface PersonKey {
  name: string;
  id: string;
}

export interface PeoplePageQuery extends PeopleFilter {
  limit: number;
  /** Skip this many rows (only without after/before). */
  offset?: number;
  /** Rows strictly after this key in the order (next page). */
  after?: PersonKey;
  /** Rows strictly before this key in the order (previous page). */
  before?: PersonKey;
  /** Z–A instead of A–Z. */
  descending?: boolean;
}

export type NewPerson = Partial<Omit<Person, 'id' | 'createdAt' | 'updatedAt'>> & { name: string; id?: string };
export type PersonPatch = Partial<Omit<Person, 'id' | 'createdAt' | 'updatedAt'>>;

export class PeopleTable {
  constructor(
    private readonly db: Db,
    /** This unit's id, written as the author of every local change ('' when unknown). */
    private readonly unitId = '',
  ) {}

  create(p: NewPerson): Person {
    const now = isoNow();
    const id = p.id ?? randomUUID();
    this.db
      .prepare(
        `INSERT INTO people (id, external_id, name, status, valid_from, valid_until, schedule_json, notes, created_at, updated_at, sync_version, sync_unit_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`,
      )
      .run(
        id,
        p.externalId ?? null,
        p.name,
        p.status ?? 'ACTIVE',
        p.validFrom ?? null,
        p.validUntil ?? null,
        p.schedule ? JSON.stringify(p.schedule) : null,
        p.notes ?? null,
        now,
        now,
        this.unitId,
      );
    return this.get(id) as Person;
  }

  /** The person's sync stamp, or undefined when there is no such person. */
  stamp(id: string): PersonSyncStamp | undefined {
    const r = this.db.prepare('SELECT sync_version, updated_at, sync_unit_id FROM people WHERE id = ?').get(id) as
      { sync_version: number; updated_at: string; sync_unit_id: string } | undefined;
    return r && { version: r.sync_version, updatedAt: r.updated_at, unitId: r.sync_unit_id };
  }

  /** A new version written by this unit (a template added): version + 1, now, this unit. */
  touch(id: string): void {
    this.db.prepare('UPDATE people SET sync_version = sync_version + 1, updated_at = ?, sync_unit_id = ? WHERE id = ?').run(isoNow(), this.unitId, id);
  }

  /** Writes a pulled person whole (insert or replace), with the stamp it came with. */
  putSynced(p: SyncedPersonRow): void {
    this.db
      .prepare(
        `INSERT INTO people (id, external_id, name, status, valid_from, valid_until, schedule_json, notes, created_at, updated_at, sync_version, sync_unit_id)
         VALUES (@id, @externalId, @name, @status, @validFrom, @validUntil, @schedule, @notes, @createdAt, @updatedAt, @version, @unitId)
         ON CONFLICT(id) DO UPDATE SET external_id = excluded.external_id, name = excluded.name, status = excluded.status,
           valid_from = excluded.valid_from, valid_until = excluded.valid_until, schedule_json = excluded.schedule_json, notes = excluded.notes,
           updated_at = excluded.updated_at, sync_version = excluded.sync_version, sync_unit_id = excluded.sync_unit_id`,
      )
      .run({
        id: p.id,
        externalId: p.externalId,
        name: p.name,
        status: p.status,
        validFrom: p.validFrom,
        validUntil: p.validUntil,
        schedule: p.schedule ? JSON.stringify(p.schedule) : null,
        notes: p.notes,
        createdAt: p.createdAt,
        updatedAt: p.stamp.updatedAt,
        version: p.stamp.version,
        unitId: p.stamp.unitId,
      });
  }

  /** Every person's id and version (the sync digest, a full requeue). */
  versions(): Array<{ id: string; version: number }> {
    return (this.db.prepare('SELECT id, sync_version AS version FROM people').all() as Array<{ id: string; version: number }>).map((r) => ({ ...r }));
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
    const where = this.filterWhere(options);
    const sql = `SELECT * FROM people ${where} ORDER BY name COLLATE NOCASE, id LIMIT ? OFFSET ?`;
    return (this.db.prepare(sql).all(...where.args, options.limit ?? 1000, options.offset ?? 0) as PersonRow[]).map(toPerson);
  }

  /**
   * One page in name order (case-insensitive, ties by id), starting from a key rather than a row
   * number: a rename, enrollment or deletion elsewhere in the list does not shift the following
   * page, so nobody is skipped or shown twice because of it. Rows come back in display order.
   * With `offset` instead of a key it is plain row-number paging (for jumping to a page).
   */
  listPage(q: PeoplePageQuery): Person[] {
    if ([q.after, q.before, q.offset].filter((v) => v !== undefined).length > 1) throw new Error('listPage: one of offset, after, before');
    const where = this.filterWhere(q);
    // Walking backwards (before) reads the order reversed, then flips the page.
    const backwards = q.before !== undefined;
    const key = q.after ?? q.before;
    const greater = q.descending ? backwards : !backwards;
    if (key) this.keyCondition(where, key, greater);
    const dir = greater ? 'ASC' : 'DESC';
    const sql = `SELECT * FROM people ${where} ORDER BY name COLLATE NOCASE ${dir}, id ${dir} LIMIT ? OFFSET ?`;
    const rows = (this.db.prepare(sql).all(...where.args, q.limit, q.offset ?? 0) as PersonRow[]).map(toPerson);
    return backwards ? rows.reverse() : rows;
  }

  /**
   * How many people match the filter; with `before`, only those ahead of that key in the order
   * (the 0-based position of the key, for "201–300 of 2,143").
   */
  countMatching(filter: PeopleFilter & { before?: PersonKey; descending?: boolean } = {}): number {
    const where = this.filterWhere(filter);
    if (filter.before) this.keyCondition(where, filter.before, !!filter.descending);
    return (this.db.prepare(`SELECT count(*) AS n FROM people ${where}`).get(...where.args) as { n: number }).n;
  }

  private filterWhere(filter: PeopleFilter): Where {
    const like = filter.search ? `%${filter.search.replace(/[\\%_]/g, (c) => '\\' + c)}%` : undefined;
    return new Where().when(like, `(name LIKE ? ESCAPE '\\' COLLATE NOCASE OR external_id LIKE ? ESCAPE '\\')`, like, like).when(filter.status, 'status = ?');
  }

  /** Rows after (greater) or before the key in (name NOCASE, id) order. */
  private keyCondition(where: Where, key: PersonKey, greater: boolean): void {
    const op = greater ? '>' : '<';
    where.when(key, `(name COLLATE NOCASE ${op} ? OR (name COLLATE NOCASE = ? AND id ${op} ?))`, key.name, key.name, key.id);
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
        `UPDATE people SET external_id = ?, name = ?, status = ?, valid_from = ?, valid_until = ?, schedule_json = ?, notes = ?, updated_at = ?,
           sync_version = sync_version + 1, sync_unit_id = ?
         WHERE id = ?`,
      )
      .run(
        next.externalId,
        next.name,
        next.status,
        next.validFrom,
        next.validUntil,
        next.schedule ? JSON.stringify(next.schedule) : null,
        next.notes,
        isoNow(),
        this.unitId,
        id,
      );
    return this.get(id);
  }

  /** Deletes the person; templates, thumbnails and attendance go with them (ON DELETE CASCADE). */
  remove(id: string): boolean {
    return this.db.prepare('DELETE FROM people WHERE id = ?').run(id).changes > 0;
  }
}

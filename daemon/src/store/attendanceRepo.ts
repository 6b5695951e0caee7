import type { Db } from './database.js';
import { Where } from './where.js';

export type AttendanceKind = 'CHECK_IN' | 'CHECK_OUT';
export type AttendanceStatus = 'ON_TIME' | 'LATE';

export interface AttendanceRecord {
  id: number;
  personId: string;
  personName?: string;
  day: string;
  kind: AttendanceKind;
  status: AttendanceStatus | null;
  ts: string;
  eventId: string;
  synced: boolean;
}

interface AttendanceRow {
  id: number;
  person_id: string;
  person_name?: string;
  day: string;
  kind: AttendanceKind;
  status: AttendanceStatus | null;
  ts: string;
  event_id: string;
  synced: number;
}

function toRecord(r: AttendanceRow): AttendanceRecord {
  return {
    id: r.id,
    personId: r.person_id,
    ...(r.person_name !== undefined ? { personName: r.person_name } : {}),
    day: r.day,
    kind: r.kind,
    status: r.status,
    ts: r.ts,
    eventId: r.event_id,
    synced: r.synced === 1,
  };
}

/** A person's local day in attendance: the first check-in and the last check-out (either may be missing). */
export interface AttendanceDaySummary {
  personId: string;
  day: string;
  checkIn: string | null;
  checkOut: string | null;
}

export class AttendanceRepo {
  constructor(private readonly db: Db) {}

  add(r: Omit<AttendanceRecord, 'id' | 'synced' | 'personName'>): AttendanceRecord {
    const info = this.db
      .prepare('INSERT INTO attendance (person_id, day, kind, status, ts, event_id) VALUES (?, ?, ?, ?, ?, ?)')
      .run(r.personId, r.day, r.kind, r.status, r.ts, r.eventId);
    return { ...r, id: Number(info.lastInsertRowid), synced: false };
  }

  /** Adds many rows with one prepared statement (bulk loads: benches, imports). Call inside a transaction. */
  addMany(rows: ReadonlyArray<Omit<AttendanceRecord, 'id' | 'synced' | 'personName'>>): void {
    const stmt = this.db.prepare('INSERT INTO attendance (person_id, day, kind, status, ts, event_id) VALUES (?, ?, ?, ?, ?, ?)');
    for (const r of rows) stmt.run(r.personId, r.day, r.kind, r.status, r.ts, r.eventId);
  }

  forPersonDay(personId: string, day: string): AttendanceRecord[] {
    return (this.db.prepare('SELECT * FROM attendance WHERE person_id = ? AND day = ? ORDER BY ts').all(personId, day) as AttendanceRow[]).map(toRecord);
  }

  query(q: { from?: string; to?: string; personId?: string; limit?: number } = {}): AttendanceRecord[] {
    const where = new Where().when(q.from, 'a.day >= ?').when(q.to, 'a.day <= ?').when(q.personId, 'a.person_id = ?');
    const sql = `SELECT a.* FROM attendance a ${where} ORDER BY a.day DESC, a.ts ASC LIMIT ?`;
    return (this.db.prepare(sql).all(...where.args, Math.min(q.limit ?? 1000, 100_000)) as AttendanceRow[]).map(toRecord);
  }

  /** Deletes rows older than `cutoffIso` (with keepUnsynced, only those already delivered). Returns how many went. */
  pruneBefore(cutoffIso: string, keepUnsynced: boolean): number {
    return this.db.prepare(`DELETE FROM attendance WHERE ts < ? ${keepUnsynced ? 'AND synced = 1' : ''}`).run(cutoffIso).changes;
  }

  /** Event ids the rows older than `cutoffIso` still refer to (their events must stay). */
  eventIdsBefore(cutoffIso: string): string[] {
    return (this.db.prepare('SELECT event_id FROM attendance WHERE ts < ?').all(cutoffIso) as Array<{ event_id: string }>).map((r) => r.event_id);
  }

  /**
   * One row per person and local day in [from, to] that has attendance: the first CHECK_IN and
   * the last CHECK_OUT (day, then person order). Iterated, so a year of a large site is never
   * held in memory at once.
   */
  daySummaries(q: { from: string; to: string; personId?: string }): IterableIterator<AttendanceDaySummary> {
    const where = new Where().when(q.from, 'day >= ?').when(q.to, 'day <= ?').when(q.personId, 'person_id = ?');
    return this.db
      .prepare(
        `SELECT person_id AS personId, day, MIN(CASE WHEN kind = 'CHECK_IN' THEN ts END) AS checkIn,
                MAX(CASE WHEN kind = 'CHECK_OUT' THEN ts END) AS checkOut
         FROM attendance ${where} GROUP BY day, person_id ORDER BY day, person_id`,
      )
      .iterate(...where.args) as IterableIterator<AttendanceDaySummary>;
  }

  /** The CHECK_IN instants of the given local days. */
  checkInTimes(days: readonly string[]): Array<{ day: string; ts: string }> {
    return this.db
      .prepare(`SELECT day, ts FROM attendance WHERE kind = 'CHECK_IN' AND day IN (SELECT value FROM json_each(?))`)
      .all(JSON.stringify(days)) as Array<{ day: string; ts: string }>;
  }

  /**
   * Per local day: how many checked in, how many at or after `lateFrom` (the first late instant
   * of that day) and their minutes after `start` (that day's work start), summed.
   */
  lateByDay(
    days: ReadonlyArray<{ day: string; start: string; lateFrom: string }>,
  ): Array<{ day: string; checkIns: number; late: number; lateMinutes: number }> {
    return this.db
      .prepare(
        `WITH d AS (SELECT json_extract(value, '$.day') AS day, json_extract(value, '$.start') AS start, json_extract(value, '$.lateFrom') AS late_from
                    FROM json_each(?))
         SELECT d.day AS day, count(a.id) AS checkIns, COALESCE(SUM(a.ts >= d.late_from), 0) AS late,
                COALESCE(SUM(CASE WHEN a.ts >= d.late_from THEN CAST(round((julianday(a.ts) - julianday(d.start)) * 86400) AS INTEGER) / 60 END), 0) AS lateMinutes
         FROM d LEFT JOIN attendance a ON a.day = d.day AND a.kind = 'CHECK_IN'
         GROUP BY d.day ORDER BY d.day`,
      )
      .all(JSON.stringify(days)) as Array<{ day: string; checkIns: number; late: number; lateMinutes: number }>;
  }

  /** Who checked in on `day` and has no CHECK_OUT after it that day (person, check-in time). */
  checkedInNotOut(day: string): Array<{ personId: string; checkIn: string }> {
    return this.db
      .prepare(
        `SELECT a.person_id AS personId, a.ts AS checkIn FROM attendance a
         WHERE a.day = ? AND a.kind = 'CHECK_IN'
           AND NOT EXISTS (SELECT 1 FROM attendance b WHERE b.day = a.day AND b.person_id = a.person_id AND b.kind = 'CHECK_OUT')
         ORDER BY a.ts`,
      )
      .all(day) as Array<{ personId: string; checkIn: string }>;
  }

  unsynced(limit: number): AttendanceRecord[] {
    return (this.db.prepare('SELECT * FROM attendance WHERE synced = 0 ORDER BY id LIMIT ?').all(limit) as AttendanceRow[]).map(toRecord);
  }

  /** The sync server acknowledged the rows of these access events (their sync ids). */
  markSyncedByEvent(eventIds: readonly string[]): void {
    const stmt = this.db.prepare('UPDATE attendance SET synced = 1 WHERE event_id = ?');
    for (const id of eventIds) stmt.run(id);
  }

  markSynced(ids: number[]): void {
    const stmt = this.db.prepare('UPDATE attendance SET synced = 1 WHERE id = ?');
    this.db.transaction(() => ids.forEach((id) => stmt.run(id)))();
  }
}

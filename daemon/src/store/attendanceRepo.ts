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

export class AttendanceRepo {
  constructor(private readonly db: Db) {}

  add(r: Omit<AttendanceRecord, 'id' | 'synced' | 'personName'>): AttendanceRecord {
    const info = this.db
      .prepare('INSERT INTO attendance (person_id, day, kind, status, ts, event_id) VALUES (?, ?, ?, ?, ?, ?)')
      .run(r.personId, r.day, r.kind, r.status, r.ts, r.eventId);
    return { ...r, id: Number(info.lastInsertRowid), synced: false };
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

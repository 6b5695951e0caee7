import { randomUUID } from 'node:crypto';
import type { Db } from './database.js';
import { isoNow } from './time.js';
import { Where } from './where.js';

export type AccessResult = 'GRANTED' | 'DENIED';
export type EventSource = 'camera' | 'exit_button' | 'admin' | 'mqtt' | 'cli' | 'system';

export interface AccessEvent {
  seq: number;
  id: string;
  ts: string;
  result: AccessResult;
  reason: string;
  personId: string | null;
  personName: string | null;
  score: number | null;
  margin: number | null;
  liveness: Record<string, unknown> | null;
  trackId: number | null;
  source: EventSource;
  door: string;
  details: Record<string, unknown> | null;
}

export type NewAccessEvent = Partial<Omit<AccessEvent, 'seq' | 'result' | 'reason'>> & { result: AccessResult; reason: string };

interface EventRow {
  seq: number;
  id: string;
  ts: string;
  result: AccessResult;
  reason: string;
  person_id: string | null;
  person_name: string | null;
  score: number | null;
  margin: number | null;
  liveness_json: string | null;
  track_id: number | null;
  source: EventSource;
  door: string;
  details_json: string | null;
}

function toEvent(r: EventRow): AccessEvent {
  return {
    seq: r.seq,
    id: r.id,
    ts: r.ts,
    result: r.result,
    reason: r.reason,
    personId: r.person_id,
    personName: r.person_name,
    score: r.score,
    margin: r.margin,
    liveness: r.liveness_json ? (JSON.parse(r.liveness_json) as Record<string, unknown>) : null,
    trackId: r.track_id,
    source: r.source,
    door: r.door,
    details: r.details_json ? (JSON.parse(r.details_json) as Record<string, unknown>) : null,
  };
}

export interface EventQuery {
  personId?: string;
  result?: AccessResult;
  reason?: string;
  from?: string;
  to?: string;
  limit?: number;
  beforeSeq?: number;
}

const INSERT_EVENT = `INSERT INTO access_events (id, ts, result, reason, person_id, person_name, score, margin, liveness_json, track_id, source, door, details_json)
   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** The INSERT_EVENT parameters of a new decision, defaults applied. */
function eventRow(e: NewAccessEvent): Array<string | number | null> {
  return [
    e.id ?? randomUUID(),
    e.ts ?? isoNow(),
    e.result,
    e.reason,
    e.personId ?? null,
    e.personName ?? null,
    e.score ?? null,
    e.margin ?? null,
    e.liveness ? JSON.stringify(e.liveness) : null,
    e.trackId ?? null,
    e.source ?? 'camera',
    e.door ?? 'main',
    e.details ? JSON.stringify(e.details) : null,
  ];
}

export class EventsRepo {
  constructor(private readonly db: Db) {}

  /** Removes a deleted person's name from their decisions; returns how many decisions they had. */
  forgetPersonName(personId: string): number {
    this.db.prepare('UPDATE access_events SET person_name = NULL WHERE person_id = ? AND person_name IS NOT NULL').run(personId);
    return (this.db.prepare('SELECT COUNT(*) AS n FROM access_events WHERE person_id = ?').get(personId) as { n: number }).n;
  }

  /**
   * Inserts one decision. The call returns only after SQLite has committed (and, with
   * synchronous=FULL, fsynced) the row, so an event reported as written survives a crash.
   */
  insert(e: NewAccessEvent): AccessEvent {
    const info = this.db.prepare(INSERT_EVENT).run(...eventRow(e));
    return this.bySeq(Number(info.lastInsertRowid)) as AccessEvent;
  }

  /** Inserts many decisions with one prepared statement, without reading them back (bulk loads: benches, imports). Call inside a transaction. */
  insertMany(events: readonly NewAccessEvent[]): void {
    const stmt = this.db.prepare(INSERT_EVENT);
    for (const e of events) stmt.run(...eventRow(e));
  }

  bySeq(seq: number): AccessEvent | undefined {
    const row = this.db.prepare('SELECT * FROM access_events WHERE seq = ?').get(seq) as EventRow | undefined;
    return row && toEvent(row);
  }

  get(id: string): AccessEvent | undefined {
    const row = this.db.prepare('SELECT * FROM access_events WHERE id = ?').get(id) as EventRow | undefined;
    return row && toEvent(row);
  }

  query(q: EventQuery = {}): AccessEvent[] {
    const where = new Where()
      .when(q.personId, 'person_id = ?')
      .when(q.result, 'result = ?')
      .when(q.reason, 'reason = ?')
      .when(q.from, 'ts >= ?')
      .when(q.to, 'ts < ?')
      .when(q.beforeSeq, 'seq < ?');
    const sql = `SELECT * FROM access_events ${where} ORDER BY seq DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...where.args, Math.min(q.limit ?? 100, 10_000)) as EventRow[]).map(toEvent);
  }

  /** The newest seq (0 for an empty table). */
  maxSeq(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM access_events').get() as { s: number }).s;
  }

  /** Seqs after `mark`, oldest first (the MQTT feed's next batch). */
  seqsAfter(mark: number, limit: number): number[] {
    return (this.db.prepare('SELECT seq FROM access_events WHERE seq > ? ORDER BY seq LIMIT ?').all(mark, limit) as Array<{ seq: number }>).map((r) => r.seq);
  }

  countAfter(mark: number): number {
    return (this.db.prepare('SELECT count(*) AS n FROM access_events WHERE seq > ?').get(mark) as { n: number }).n;
  }

  /** Deletes events older than `cutoffIso`, except those listed (an attendance row still refers to them). */
  pruneBefore(cutoffIso: string, keepIds: readonly string[]): number {
    return this.db.prepare('DELETE FROM access_events WHERE ts < ? AND id NOT IN (SELECT value FROM json_each(?))').run(cutoffIso, JSON.stringify(keepIds))
      .changes;
  }

  /** Decisions in [from, to): time, result, source and the unlock latency the decider measured (camera decisions). */
  decisionsBetween(from: string, to: string): Array<{ ts: string; result: AccessResult; source: EventSource; latencyMs: number | null }> {
    return this.db
      .prepare(
        `SELECT ts, result, source, CASE WHEN details_json IS NULL THEN NULL ELSE json_extract(details_json, '$.latencyMs') END AS latencyMs
         FROM access_events WHERE ts >= ? AND ts < ?`,
      )
      .all(from, to) as Array<{ ts: string; result: AccessResult; source: EventSource; latencyMs: number | null }>;
  }

  /** Denied decisions in [from, to) by reason, with the time of each (for per-day counts). */
  deniedBetween(from: string, to: string): Array<{ ts: string; reason: string }> {
    return this.db.prepare(`SELECT ts, reason FROM access_events WHERE result = 'DENIED' AND ts >= ? AND ts < ?`).all(from, to) as Array<{
      ts: string;
      reason: string;
    }>;
  }

  count(q: Pick<EventQuery, 'result' | 'from' | 'to'> = {}): number {
    const where = new Where().when(q.result, 'result = ?').when(q.from, 'ts >= ?').when(q.to, 'ts < ?');
    return (this.db.prepare(`SELECT count(*) AS n FROM access_events ${where}`).get(...where.args) as { n: number }).n;
  }
}

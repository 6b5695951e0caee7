import type { Db } from './database.js';
import { isoNow } from './time.js';

export interface MqttOutboxRow {
  seq: number;
  kind: string;
  topic: string;
  payload: string;
  qos: 0 | 1 | 2;
  retain: boolean;
  createdAt: string;
  attempts: number;
}

/**
 * The MQTT outbox: a message is written here first and deleted only after the broker
 * acknowledged it, so an outage or a restart never loses one. Delivery is in seq order.
 */
export class MqttOutboxRepo {
  constructor(private readonly db: Db) {}

  enqueue(m: { kind: string; topic: string; payload: string; qos?: 0 | 1 | 2; retain?: boolean }): number {
    const info = this.db
      .prepare('INSERT INTO mqtt_outbox (kind, topic, payload, qos, retain, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(m.kind, m.topic, m.payload, m.qos ?? 1, m.retain ? 1 : 0, isoNow());
    return Number(info.lastInsertRowid);
  }

  peek(limit: number, afterSeq = 0): MqttOutboxRow[] {
    const rows = this.db.prepare('SELECT * FROM mqtt_outbox WHERE seq > ? ORDER BY seq LIMIT ?').all(afterSeq, limit) as Array<
      Omit<MqttOutboxRow, 'retain' | 'createdAt'> & { retain: number; created_at: string }
    >;
    return rows.map((r) => ({
      seq: r.seq,
      kind: r.kind,
      topic: r.topic,
      payload: r.payload,
      qos: r.qos,
      retain: r.retain === 1,
      createdAt: r.created_at,
      attempts: r.attempts,
    }));
  }

  ack(seq: number): void {
    this.db.prepare('DELETE FROM mqtt_outbox WHERE seq = ?').run(seq);
  }

  markAttempt(seq: number): void {
    this.db.prepare('UPDATE mqtt_outbox SET attempts = attempts + 1 WHERE seq = ?').run(seq);
  }

  depth(kind?: string): number {
    const row = kind
      ? (this.db.prepare('SELECT count(*) AS n FROM mqtt_outbox WHERE kind = ?').get(kind) as { n: number })
      : (this.db.prepare('SELECT count(*) AS n FROM mqtt_outbox').get() as { n: number });
    return row.n;
  }

  /** Drops the oldest rows of the given kinds; returns how many went. Never used for access events. */
  dropOldest(kinds: string[], count: number): number {
    if (count <= 0 || kinds.length === 0) return 0;
    const marks = kinds.map(() => '?').join(',');
    return this.db
      .prepare(`DELETE FROM mqtt_outbox WHERE seq IN (SELECT seq FROM mqtt_outbox WHERE kind IN (${marks}) ORDER BY seq LIMIT ?)`)
      .run(...kinds, count).changes;
  }
}

export interface SyncOutboxRow {
  seq: number;
  kind: string;
  refId: string;
  payload: string;
  createdAt: string;
  attempts: number;
  lastError: string | null;
}

/** An attendance row as the sync outbox carries it to the sync server (sync/localStore.ts AttendanceData). */
export interface SyncAttendancePayload {
  id: string;
  personId: string;
  timestamp: string;
  kind: 'CHECK_IN' | 'CHECK_OUT';
  punctuality: 'ON_TIME' | 'LATE' | null;
}

/** Keys of sync_state. */
type SyncStateKey = 'queueing' | 'cursor' | 'binding' | 'registered';

/**
 * The sync outbox and the unit's sync bookkeeping (sync_outbox, sync_state). Writers of people
 * (registry/peopleRegistry.ts) and attendance (access/recorder.ts) call personChanged /
 * attendanceRecorded INSIDE their own transaction, so a change and its outbox entry commit
 * together or not at all. Entries are queued only while sync is on (the `queueing` flag in the
 * database, set by the unit at start, so `blinkd enroll` in another process queues too). A
 * person entry names the person (their current state is sent); an attendance entry carries the
 * row (ref_id = the access event's id, also the row's id on the sync server). Entries are
 * deleted only when the sync server acknowledged them (sync/unitSyncStore.ts).
 */
export class SyncOutboxRepo {
  constructor(private readonly db: Db) {}

  private getState(key: SyncStateKey): string | null {
    return (this.db.prepare('SELECT value FROM sync_state WHERE key = ?').get(key) as { value: string } | undefined)?.value ?? null;
  }

  private setState(key: SyncStateKey, value: string | null): void {
    if (value === null) this.db.prepare('DELETE FROM sync_state WHERE key = ?').run(key);
    else
      this.db
        .prepare(
          'INSERT INTO sync_state (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
        )
        .run(key, value, isoNow());
  }

  /** Whether changes are queued for sync (sync.enabled of the unit that last started on this database). */
  queueing(): boolean {
    return this.getState('queueing') === '1';
  }

  setQueueing(on: boolean): void {
    this.setState('queueing', on ? '1' : null);
  }

  /** Call inside the transaction that changed (or removed) the person. */
  personChanged(personId: string): void {
    if (this.queueing()) this.enqueue('person', personId, '{}');
  }

  /** Call inside the transaction that wrote the attendance row. */
  attendanceRecorded(row: SyncAttendancePayload): void {
    if (this.queueing()) this.enqueue('attendance', row.id, JSON.stringify(row));
  }

  /** Queues these people regardless of the flag (a new server, a restored server). */
  queuePeople(personIds: Iterable<string>): void {
    for (const id of personIds) this.enqueue('person', id, '{}');
  }

  /** People with an unacknowledged entry. */
  pendingPeople(): Set<string> {
    return new Set((this.db.prepare("SELECT DISTINCT ref_id FROM sync_outbox WHERE kind = 'person'").all() as Array<{ ref_id: string }>).map((r) => r.ref_id));
  }

  /** Unacknowledged entries by kind: { person: n, attendance: n }. */
  depthByKind(): { people: number; attendance: number } {
    const rows = this.db.prepare('SELECT kind, count(*) AS n FROM sync_outbox GROUP BY kind').all() as Array<{ kind: string; n: number }>;
    const get = (k: string) => rows.find((r) => r.kind === k)?.n ?? 0;
    return { people: get('person'), attendance: get('attendance') };
  }

  /** The oldest unacknowledged entry's time, or null. */
  oldestAt(): string | null {
    return (this.db.prepare('SELECT min(created_at) AS t FROM sync_outbox').get() as { t: string | null }).t;
  }

  cursor(): string | null {
    return this.getState('cursor');
  }

  setCursor(cursor: string | null): void {
    this.setState('cursor', cursor);
  }

  /** Which sync server and organisation the cursor and registration belong to. */
  binding(): string | null {
    return this.getState('binding');
  }

  setBinding(binding: string): void {
    this.setState('binding', binding);
  }

  /** What the unit registered as ACTIVE (binding + device + key), or null. */
  registered(): string | null {
    return this.getState('registered');
  }

  setRegistered(value: string | null): void {
    this.setState('registered', value);
  }

  enqueue(kind: string, refId: string, payload: string): number {
    return Number(
      this.db.prepare('INSERT INTO sync_outbox (kind, ref_id, payload, created_at) VALUES (?, ?, ?, ?)').run(kind, refId, payload, isoNow()).lastInsertRowid,
    );
  }

  peek(limit: number, kind?: string): SyncOutboxRow[] {
    const rows = (
      kind
        ? this.db.prepare('SELECT * FROM sync_outbox WHERE kind = ? ORDER BY seq LIMIT ?').all(kind, limit)
        : this.db.prepare('SELECT * FROM sync_outbox ORDER BY seq LIMIT ?').all(limit)
    ) as Array<{
      seq: number;
      kind: string;
      ref_id: string;
      payload: string;
      created_at: string;
      attempts: number;
      last_error: string | null;
    }>;
    return rows.map((r) => ({
      seq: r.seq,
      kind: r.kind,
      refId: r.ref_id,
      payload: r.payload,
      createdAt: r.created_at,
      attempts: r.attempts,
      lastError: r.last_error,
    }));
  }

  ack(seqs: number[]): void {
    const stmt = this.db.prepare('DELETE FROM sync_outbox WHERE seq = ?');
    this.db.transaction(() => seqs.forEach((s) => stmt.run(s)))();
  }

  fail(seqs: number[], error: string): void {
    const stmt = this.db.prepare('UPDATE sync_outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?');
    this.db.transaction(() => seqs.forEach((s) => stmt.run(error.slice(0, 500), s)))();
  }

  depth(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM sync_outbox').get() as { n: number }).n;
  }

  /** The records still waiting to be delivered (retention keeps them). */
  refIds(): string[] {
    return (this.db.prepare('SELECT DISTINCT ref_id FROM sync_outbox').all() as Array<{ ref_id: string }>).map((r) => r.ref_id);
  }
}

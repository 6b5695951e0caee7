import type { Config } from '../config/schema.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logging.js';
import type { AttendanceRecord } from '../store/attendanceRepo.js';
import type { AccessEvent, NewAccessEvent } from '../store/eventsRepo.js';
import type { Store } from '../store/store.js';
import { attendanceFor } from './attendance.js';
import { localTime } from '../time/localTime.js';

export interface RecordedDecision {
  event: AccessEvent;
  attendance: AttendanceRecord | null;
}

/** Who is told when writes fail and work again (store/storageService.ts). */
export interface WriteHealth {
  writeFailed(writer: string, err: unknown): void;
  writeSucceeded(writer: string): void;
}

const WRITER = 'decisions';

/**
 * The one function that records a decision: the access_events row and, for a granted
 * person, its attendance row, in ONE transaction (synchronous=FULL: durable when this
 * returns). Only then are 'access.decided' and 'attendance.recorded' emitted, so nothing
 * downstream (MQTT, sync, UI) ever reports an event the database does not hold.
 *
 * When the database cannot take a decision (disk full, I/O error, a lock held too long), the
 * decision is never dropped: it goes to the journal at once and waits in a bounded memory queue
 * (store.pendingDecisionsMax, oldest dropped beyond it, counted), the storage service is told
 * (degraded + storage_failed alarm), and the queue is written, oldest first, by flush() (every
 * few seconds, and before each new decision so the order is kept).
 */
export class AccessRecorder {
  private readonly pending: Array<{ e: NewAccessEvent; at: Date }> = [];
  /** Decisions dropped from a full memory queue (they are in the journal only). */
  lost = 0;

  constructor(
    private readonly store: Store,
    private readonly bus: EventBus,
    private readonly config: Pick<Config, 'access' | 'unit'> & { store?: Pick<Config['store'], 'pendingDecisionsMax'> },
    private readonly log: Logger,
    private readonly health: WriteHealth | null = null,
  ) {}

  /** Decisions waiting in memory for the database. */
  pendingCount(): number {
    return this.pending.length;
  }

  /** True while decisions cannot be written (something is waiting in memory). */
  get failing(): boolean {
    return this.pending.length > 0;
  }

  /** Records a decision now, or queues it when the database cannot take it (null then). */
  record(e: NewAccessEvent, at: Date = new Date()): RecordedDecision | null {
    if (this.pending.length > 0) {
      this.enqueue(e, at, null);
      this.flush();
      return null;
    }
    try {
      return this.write(e, at);
    } catch (err) {
      if (transient(err)) this.enqueue(e, at, err);
      else this.refused(e, at, err);
      return null;
    }
  }

  /** Writes the queued decisions, oldest first, until the queue is empty or a write fails. Returns how many were written. */
  flush(): number {
    let written = 0;
    while (this.pending.length > 0) {
      const next = this.pending[0]!;
      try {
        this.write(next.e, next.at);
      } catch (err) {
        if (!transient(err)) {
          this.pending.shift();
          this.refused(next.e, next.at, err);
          continue;
        }
        this.health?.writeFailed(WRITER, err);
        return written;
      }
      this.pending.shift();
      written++;
    }
    if (written > 0) {
      this.log.info({ written, lost: this.lost }, 'queued decisions written to the database');
      this.health?.writeSucceeded(WRITER);
    }
    return written;
  }

  /**
   * A decision the database refuses for what it is (a constraint), not for the state of the disk:
   * retrying cannot help and would block every later one. It stays in the journal only.
   */
  private refused(e: NewAccessEvent, at: Date, err: unknown): void {
    this.lost++;
    this.log.error({ err, decision: { ...e, ts: at.toISOString() } }, 'access event refused by the database: kept in the journal only');
  }

  private enqueue(e: NewAccessEvent, at: Date, err: unknown): void {
    // The journal has it at once, whatever happens to the memory queue.
    this.log.error({ err, decision: { ...e, ts: at.toISOString() }, pending: this.pending.length + 1 }, 'access event NOT stored yet: kept in memory');
    this.pending.push({ e, at });
    const max = this.config.store?.pendingDecisionsMax ?? 10_000;
    if (this.pending.length > max) this.lost += this.pending.splice(0, this.pending.length - max).length;
    if (err !== null) this.health?.writeFailed(WRITER, err);
  }

  /** Writes one decision and its attendance in one transaction, then tells the bus. */
  private write(e: NewAccessEvent, at: Date): RecordedDecision {
    const ts = at.toISOString();
    const result = this.store.transaction(() => {
      const event = this.store.events.insert({ ...e, ts });
      let attendance: AttendanceRecord | null = null;
      if (event.result === 'GRANTED' && event.personId && event.source === 'camera') {
        const day = localTime(at, this.config.unit.timezone).date;
        const earlier = this.store.attendance.forPersonDay(event.personId, day);
        const entry = attendanceFor(at, earlier, { timeZone: this.config.unit.timezone, attendance: this.config.access.attendance });
        if (entry) {
          attendance = {
            ...this.store.attendance.add({ personId: event.personId, day: entry.day, kind: entry.kind, status: entry.status, ts, eventId: event.id }),
            personName: event.personName ?? undefined,
          };
          // Queued for the sync server in this same transaction: a crash cannot record the row and lose its delivery.
          this.store.syncOutbox.attendanceRecorded({ id: event.id, personId: event.personId, timestamp: ts, kind: entry.kind, punctuality: entry.status });
        }
      }
      return { event, attendance };
    });
    this.log.info(
      {
        event: result.event.id,
        result: result.event.result,
        reason: result.event.reason,
        person: result.event.personName,
        score: result.event.score,
        source: result.event.source,
        track: result.event.trackId,
      },
      'access decided',
    );
    this.bus.emit('access.decided', result.event);
    if (result.attendance) this.bus.emit('attendance.recorded', result.attendance);
    return result;
  }
}

/** Errors that come from the state of the storage (and go away with it), not from the record itself. */
function transient(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  return /^SQLITE_(FULL|IOERR|BUSY|LOCKED|READONLY|CANTOPEN|NOMEM|PROTOCOL)/.test(code) || ['ENOSPC', 'EIO', 'EROFS', 'EDQUOT'].includes(code);
}

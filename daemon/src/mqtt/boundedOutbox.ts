import type { Logger } from '../logging.js';
import type { Store } from '../store/store.js';

/** What a row in mqtt_outbox carries; the overflow policy is decided by kind. */
export type OutboxKind = 'access' | 'alarm' | 'state' | 'health';

/** Dropped first when the outbox is full, oldest first. Access events and alarms are never dropped. */
const DROP_ORDER: readonly OutboxKind[] = ['health', 'state'];

/**
 * The MQTT outbox with its bound (mqtt.outboxMaxRows). Policy when full:
 *   1. make room by dropping the oldest health messages, then the oldest state messages;
 *   2. a new health or state message that still does not fit is itself dropped;
 *   3. an alarm is always queued (alarms are rare; losing one is worse than a few rows);
 *   4. access events are never dropped: they stay in access_events (their durable home)
 *      and the access feed copies them in only while there is room.
 * The depth is counted in memory (recounted on every health tick), so enqueueing never
 * scans the table on the path after a decision.
 */
export class BoundedOutbox {
  private depth_ = 0;
  readonly dropped: Record<'health' | 'state', number> = { health: 0, state: 0 };

  constructor(
    private readonly store: Store,
    readonly maxRows: number,
    private readonly log: Logger,
  ) {}

  /** Re-reads the real depth (another process may have touched the table, drift is corrected). */
  recount(): number {
    this.depth_ = this.store.mqttOutbox.depth();
    return this.depth_;
  }

  depth(): number {
    return this.depth_;
  }

  /** Frees rows (health, then state) until `wanted` more fit; returns how many fit now. Call inside a transaction. */
  makeRoom(wanted: number): number {
    let free = this.maxRows - this.depth_;
    for (const kind of DROP_ORDER) {
      if (free >= wanted) break;
      const n = this.store.mqttOutbox.dropOldest([kind], wanted - free);
      if (n > 0) {
        this.dropped[kind as 'health' | 'state'] += n;
        this.depth_ -= n;
        free += n;
        this.log.warn({ kind, dropped: n, maxRows: this.maxRows }, 'MQTT outbox full: dropped the oldest messages of this kind');
      }
    }
    return Math.max(0, free);
  }

  /** Queues one message under the policy above; returns false when it was dropped. */
  enqueue(kind: Exclude<OutboxKind, 'access'>, topic: string, payload: string, retain: boolean): boolean {
    return this.store.transaction(() => {
      if (this.makeRoom(1) < 1 && kind !== 'alarm') {
        this.dropped[kind] += 1;
        return false;
      }
      this.insert(kind, topic, payload, retain);
      return true;
    });
  }

  /** Raw insert for callers that already made room inside their own transaction. */
  insert(kind: OutboxKind, topic: string, payload: string, retain: boolean): number {
    const seq = this.store.mqttOutbox.enqueue({ kind, topic, payload, qos: 1, retain });
    this.depth_ += 1;
    return seq;
  }

  /** Deletes rows the broker acknowledged, in one transaction (one fsync per window, not per row). */
  ack(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    this.store.transaction(() => {
      for (const s of seqs) this.store.mqttOutbox.ack(s);
    });
    this.depth_ = Math.max(0, this.depth_ - seqs.length);
  }
}

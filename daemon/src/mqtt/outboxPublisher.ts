import type { Logger } from '../logging.js';
import type { MqttOutboxRow } from '../store/outboxRepo.js';
import type { Store } from '../store/store.js';
import type { BoundedOutbox } from './boundedOutbox.js';

/** Publishes one row; resolves when the broker acknowledged it (QoS 1 PUBACK). */
export type PublishRow = (row: MqttOutboxRow) => Promise<void>;

/**
 * Drains the outbox to the broker: the oldest `window` rows are published in seq order
 * (in flight together on one connection, so the broker receives them in that order), and
 * only the rows the broker acknowledged are deleted, in one transaction. Then the next
 * window. A connection lost mid-window leaves the rows in flight with the MQTT client,
 * which resends them on reconnect (clean session off); a restart re-reads them from the
 * outbox. Either way a message lost nowhere, duplicated only if its PUBACK was lost.
 */
export class OutboxPublisher {
  private running = false;
  private again = false;
  private stopped = false;
  published = 0;
  lastError: string | null = null;

  constructor(
    private readonly store: Store,
    private readonly outbox: BoundedOutbox,
    private readonly window: number,
    private readonly publish: PublishRow,
    private readonly connected: () => boolean,
    private readonly onDelivered: (rows: readonly MqttOutboxRow[]) => void,
    private readonly log: Logger,
  ) {}

  /** Starts a drain if none is running (or asks the running one to look again). Never throws. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    void this.drain();
  }

  stop(): void {
    this.stopped = true;
  }

  idle(): boolean {
    return !this.running;
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      do {
        this.again = false;
        while (!this.stopped && this.connected()) {
          const rows = this.store.mqttOutbox.peek(this.window);
          if (rows.length === 0) break;
          this.store.transaction(() => rows.forEach((r) => this.store.mqttOutbox.markAttempt(r.seq)));
          const results = await Promise.allSettled(rows.map((r) => this.publish(r)));
          if (this.stopped && !this.store.db.open) return;
          const acked = rows.filter((_, i) => results[i]!.status === 'fulfilled');
          this.outbox.ack(acked.map((r) => r.seq));
          this.published += acked.length;
          if (acked.length) this.onDelivered(acked);
          const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
          if (failed) {
            this.lastError = (failed.reason as Error)?.message ?? String(failed.reason);
            this.log.warn({ err: this.lastError, failed: rows.length - acked.length }, 'MQTT publish failed; the rows stay in the outbox');
            break;
          }
        }
      } while (this.again && !this.stopped && this.connected());
    } catch (err) {
      this.lastError = (err as Error).message;
      this.log.error({ err }, 'MQTT outbox drain failed');
    } finally {
      this.running = false;
    }
  }
}

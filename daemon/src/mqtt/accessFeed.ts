import type { Store } from '../store/store.js';
import { isoNow } from '../store/time.js';
import type { BoundedOutbox } from './boundedOutbox.js';
import { accessPayload } from './payloads.js';

const CURSOR = 'access_events';
const BATCH = 200;

/**
 * Copies access decisions from access_events into the MQTT outbox, in seq order, and
 * keeps a persisted high-water mark (table mqtt_cursor) of what has been copied. Copy and
 * mark commit in one transaction. Because it reads the events table rather than trusting
 * the in-memory bus, a decision recorded just before a crash is still published: the next
 * start catches up from the mark.
 *
 * The first time the feed runs on a database (MQTT newly enabled) the mark starts at the
 * newest event: history recorded before MQTT was ever enabled is not replayed.
 */
export class AccessFeed {
  constructor(
    private readonly store: Store,
    private readonly outbox: BoundedOutbox,
    private readonly topic: string,
    private readonly unit: string,
  ) {}

  /** Creates the mark on first use. Returns the mark. */
  init(): number {
    return this.store.transaction(() => {
      const mark = this.mark();
      if (mark !== null) return mark;
      const newest = this.store.events.maxSeq();
      this.setMark(newest);
      return newest;
    });
  }

  mark(): number | null {
    const row = this.store.db.prepare('SELECT seq FROM mqtt_cursor WHERE name = ?').get(CURSOR) as { seq: number } | undefined;
    return row ? row.seq : null;
  }

  /** Decisions recorded but not yet in the outbox. */
  pending(): number {
    const mark = this.mark() ?? 0;
    return this.store.events.countAfter(mark);
  }

  /**
   * Moves every decision past the mark into the outbox, BATCH per transaction, while the
   * outbox has room. Returns how many were moved.
   */
  catchUp(): number {
    let moved = 0;
    for (;;) {
      const n = this.store.transaction(() => {
        const mark = this.mark() ?? 0;
        const seqs = this.store.events.seqsAfter(mark, BATCH);
        if (seqs.length === 0) return 0;
        const room = this.outbox.makeRoom(seqs.length);
        if (room === 0) return 0;
        const take = seqs.slice(0, room);
        for (const seq of take) {
          const e = this.store.events.bySeq(seq);
          if (e) this.outbox.insert('access', this.topic, accessPayload(e, this.unit), false);
        }
        this.setMark(take[take.length - 1]!);
        return take.length;
      });
      moved += n;
      if (n < BATCH) return moved;
    }
  }

  private setMark(seq: number): void {
    this.store.db
      .prepare(
        'INSERT INTO mqtt_cursor (name, seq, updated_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at',
      )
      .run(CURSOR, seq, isoNow());
  }
}

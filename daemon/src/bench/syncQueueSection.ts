/**
 * What queued attendance costs a unit's SD card while it is offline (`npm run bench -- --only
 * sync-queue`): 50,000 access decisions, their attendance rows and one sync outbox entry each,
 * written to the unit's own SQLite schema, then measured on disk (after a WAL checkpoint).
 *  - sync_unit_bytes_per_attendance: decision + attendance row + outbox entry, indexes included;
 *  - sync_unit_outbox_bytes_per_row: the outbox entry alone (the decision and attendance are kept anyway);
 *  - sync_unit_attendance_rows_per_gb: 1 GB / sync_unit_bytes_per_attendance.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchSection } from './main.js';
import { Store } from '../store/store.js';
import { PeopleTable } from '../registry/peopleTable.js';

const N = 50_000;

function sizeOf(store: Store): number {
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  store.db.exec('VACUUM');
  return statSync(store.file).size;
}

export const syncQueueSection: BenchSection = {
  name: 'sync-queue',
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), 'blink-bench-queue-'));
    try {
      const store = Store.open(join(dir, 'blink.db'));
      // Bench fixture: the row is written directly, outside the registry (nothing else runs here).
      const person = new PeopleTable(store.db).create({ name: 'Queued Person' });
      const empty = sizeOf(store);
      ctx.log(`sync-queue: ${N} decisions + attendance + outbox entries`);
      let withoutOutbox = 0;
      const liveness = { blink: true, blinks: 1, passive: 0.93, antispoof: 0.88, headTurn: null };
      for (const withOutbox of [false, true]) {
        store.transaction(() => {
          for (let i = 0; i < N; i++) {
            const ts = new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString();
            const e = store.events.insert({
              ts,
              result: 'GRANTED',
              reason: 'match',
              personId: person.id,
              personName: person.name,
              score: 0.95,
              margin: 0.2,
              liveness,
              trackId: i,
            });
            store.attendance.add({ personId: person.id, day: ts.slice(0, 10), kind: 'CHECK_OUT', status: null, ts, eventId: e.id });
            if (withOutbox) {
              const id = randomUUID();
              store.syncOutbox.enqueue('attendance', id, JSON.stringify({ id, person_id: person.id, timestamp: ts, status: 'CHECK_OUT', punctuality: null }));
            }
          }
        });
        if (!withOutbox) withoutOutbox = sizeOf(store) - empty;
      }
      // Phase one wrote N decisions + attendance rows (A bytes); phase two the same again plus N outbox entries.
      const total = sizeOf(store) - empty;
      store.close();
      const outboxPerRow = (total - 2 * withoutOutbox) / N;
      const perAttendance = withoutOutbox / N + outboxPerRow;
      return {
        sync_unit_bytes_per_attendance: Math.round(perAttendance),
        sync_unit_outbox_bytes_per_row: Math.round(outboxPerRow),
        sync_unit_attendance_rows_per_gb: Math.round(1e9 / perAttendance),
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

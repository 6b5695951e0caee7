import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging.js';
import { PeopleTable } from '../../src/registry/peopleTable.js';
import type { AttendanceKind } from '../../src/store/attendanceRepo.js';
import { UnitSyncStore } from '../../src/sync/unitSyncStore.js';
import { Client, startAdmin, type Harness } from './adminHarness.js';

interface Day {
  personName: string;
  checkOut: string | null;
  sync: { state: string; error?: string };
}

/**
 * The Attendance list carries each day's sync state, asked of the sync outbox's owner
 * (SyncOutboxRepo.attendanceSync): off while sync is off, pending once queued, synced once the
 * sync server acknowledged it (through the unit's real ack path), failed with the round's reason
 * (scrubbed, as /health shows it) when the attempt that carried it failed.
 */
describe('attendance sync state in the admin', () => {
  let h: Harness;
  let c: Client;
  const day = '2026-11-30';

  beforeAll(async () => {
    h = await startAdmin({ unit: { timezone: 'UTC' } });
    c = new Client(h.url);
    expect(await c.setup(h.setupToken())).toBe(200);
  });
  afterAll(async () => h?.close());

  /** What the decision recorder does: the decision, the row and (with sync on) its outbox entry, in one transaction. */
  function record(personId: string, name: string, kind: AttendanceKind, time: string): string {
    const store = h.unit.store;
    return store.transaction(() => {
      const ts = `${day}T${time}:00.000Z`;
      const e = store.events.insert({ result: 'GRANTED', reason: 'match', personId, personName: name, score: 0.95, margin: 0.2, ts });
      const status = kind === 'CHECK_IN' ? 'ON_TIME' : null;
      store.attendance.add({ personId, day, kind, status, ts, eventId: e.id });
      store.syncOutbox.attendanceRecorded({ id: e.id, personId, timestamp: ts, kind, punctuality: status });
      return e.id;
    });
  }

  async function days(query = ''): Promise<Day[]> {
    const r = await c.req('GET', `/api/v1/attendance?from=${day}&to=${day}${query}`);
    expect(r.status, r.text).toBe(200);
    return r.json.days as Day[];
  }

  const byName = (list: Day[]) => Object.fromEntries(list.map((d) => [d.personName, d.sync]));

  it('off, pending, synced, failed with the reason; filtered by state', async () => {
    const people = new PeopleTable(h.unit.store.db);
    const ada = people.create({ name: 'Ada' });
    const bob = people.create({ name: 'Bob' });
    const cy = people.create({ name: 'Cy' });
    expect(h.unit.store.syncOutbox.queueing()).toBe(false);
    record(ada.id, 'Ada', 'CHECK_IN', '08:00'); // recorded while sync is off: never queued
    expect(byName(await days())).toEqual({ Ada: { state: 'off' } });

    h.unit.store.syncOutbox.setQueueing(true); // sync on, as `blinkd run` sets it from sync.enabled
    record(bob.id, 'Bob', 'CHECK_IN', '08:05');
    record(cy.id, 'Cy', 'CHECK_IN', '08:10');
    expect(byName(await days())).toEqual({ Ada: { state: 'off' }, Bob: { state: 'pending' }, Cy: { state: 'pending' } });

    // Bob's row is delivered (the sync client acknowledges it through the unit's store).
    const local = new UnitSyncStore(h.unit.store, h.unit.registry, 'front-door', createLogger('silent'));
    const batch = local.nextOutboxBatch(10);
    expect(batch.attendance.map((a) => a.row.personId)).toEqual([bob.id, cy.id]);
    local.ack([batch.attendance[0]!.outboxId]);
    expect(byName(await days())).toMatchObject({ Bob: { state: 'synced' }, Cy: { state: 'pending' } });

    // The round that carried Cy's row failed: the row says why (as /health does, no credentials).
    const reason = 'sync server rejected the request (422): body/rows/0/timestamp: Input should be a valid datetime';
    local.failed(reason);
    expect(byName(await days())).toEqual({ Ada: { state: 'off' }, Bob: { state: 'synced' }, Cy: { state: 'failed', error: reason } });

    // A day shows its least far along row: Bob's check-out is still pending.
    record(bob.id, 'Bob', 'CHECK_OUT', '17:00');
    const bobDay = (await days()).find((d) => d.personName === 'Bob')!;
    expect(bobDay.checkOut).toBe(`${day}T17:00:00.000Z`);
    expect(bobDay.sync).toEqual({ state: 'pending' });

    expect((await days('&sync=failed')).map((d) => d.personName)).toEqual(['Cy']);
    expect((await days('&sync=pending')).map((d) => d.personName)).toEqual(['Bob']);
    expect((await days('&sync=off')).map((d) => d.personName)).toEqual(['Ada']);
    const bad = await c.req('GET', `/api/v1/attendance?sync=lost`);
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/sync/);

    // A later round delivers Cy's row: synced, the reason gone.
    const retry = local.nextOutboxBatch(10);
    local.ack(retry.attendance.filter((a) => a.row.personId === cy.id).map((a) => a.outboxId));
    expect(byName(await days())).toMatchObject({ Cy: { state: 'synced' } });

    // Sync off: every row says off.
    h.unit.store.syncOutbox.setQueueing(false);
    expect(Object.values(byName(await days()))).toEqual([{ state: 'off' }, { state: 'off' }, { state: 'off' }]);
  });
});

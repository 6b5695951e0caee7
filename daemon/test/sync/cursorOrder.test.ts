/**
 * The pull cursor on PostgreSQL with concurrent writers: a change number is taken under the
 * organisation's counter row lock inside the writing transaction, so numbers commit in order
 * and a reader following the cursor never skips a row that commits later with a lower number.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeUnit, createBackend, embedding, startServer, syncUntilDone, type RunningServer, type TestBackend, type TestUnit } from './harness.js';

describe('pull cursor under concurrent writers (PostgreSQL)', () => {
  let backend: TestBackend;
  let h1: RunningServer;
  let h2: RunningServer;

  beforeAll(async () => {
    backend = await createBackend('postgres');
    h1 = await startServer(backend, { database: { poolMax: 6 } });
    h2 = await startServer(backend, { database: { poolMax: 6 } });
    await h1.server.ctx.orgs.create('acme', 'Acme');
  });
  afterAll(async () => {
    await h1?.close();
    await h2?.close();
    await backend?.dispose();
  });

  it('a push waits for an earlier writer of the same organisation that has not committed, so numbers commit in order', async () => {
    const writer = await activeUnit(h1.server, h1.url, 'acme', 'door-w');
    const reader = await activeUnit(h2.server, h2.url, 'acme', 'door-r');
    await syncUntilDone(writer); // creates the key ring
    await syncUntilDone(reader);
    const held = new pg.Client({ connectionString: backend.databaseUrl });
    await held.connect();
    await held.query('BEGIN');
    const taken = Number(
      (await held.query(`UPDATE org_counters SET value = value + 1 WHERE org_id = 'acme' AND name = 'people' RETURNING value`)).rows[0].value,
    );
    writer.store.enroll({ name: 'Waits', templates: [{ id: 'w-1', modelId: 'm', embedding: embedding(1), quality: 1 }] });
    let settled = false;
    const push = writer.client.push(writer.store).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 800));
    expect(settled).toBe(false); // blocked on the counter row
    await held.query('COMMIT');
    await held.end();
    await push;
    const row = (
      await h1.server.ctx.sql.query<{ seq: number }>(`SELECT seq FROM people WHERE org_id = 'acme' AND id = $1`, [writer.store.livePeople()[0]!.id])
    )[0]!;
    expect(Number(row.seq)).toBeGreaterThan(taken);
    await syncUntilDone(reader);
    expect(reader.store.livePeople().map((p) => p.name)).toEqual(['Waits']);
  });

  it('a reader pulling while four units push through two instances never skips a row', async () => {
    const writers: TestUnit[] = [];
    for (let i = 0; i < 4; i++) writers.push(await activeUnit(i % 2 ? h2.server : h1.server, i % 2 ? h2.url : h1.url, 'acme', `door-${i}`, { batchSize: 3 }));
    const reader = await activeUnit(h1.server, h1.url, 'acme', 'door-reader', { pageSize: 7 });
    await syncUntilDone(reader);
    const enrolled: string[] = [];
    for (const [i, w] of writers.entries()) {
      for (let j = 0; j < 30; j++)
        enrolled.push(
          w.store.enroll({ name: `w${i}-${j}`, templates: [{ id: `w${i}-t${j}`, modelId: 'm', embedding: embedding(i * 100 + j), quality: 1 }] }).id,
        );
    }
    let done = false;
    const pulling = (async () => {
      while (!done) await reader.client.pull(reader.store);
    })();
    await Promise.all(writers.map((w) => syncUntilDone(w)));
    done = true;
    await pulling;
    // One more incremental pull from where the reader is: a row skipped earlier would never come back.
    await reader.client.pull(reader.store);
    const expected = [...enrolled].sort();
    const got = reader.store
      .livePeople()
      .map((p) => p.id)
      .filter((id) => expected.includes(id))
      .sort();
    expect(got).toEqual(expected);
    expect(reader.store.pagesApplied).toBeGreaterThan(5);
  });

  it('the attendance export never skips a row whose transaction commits after a later one (visibility-safe high-water mark)', async () => {
    const unit = await activeUnit(h1.server, h1.url, 'acme', 'door-att');
    const token = (await h1.server.ctx.tokens.create('acme', 'hq')).token;
    const exportPage = async (since: string) =>
      (await (
        await fetch(`${h2.url}/api/v1/attendance?since=${encodeURIComponent(since)}&limit=1000`, { headers: { authorization: `Bearer ${token}` } })
      ).json()) as {
        rows: Array<{ id: string }>;
        next: string;
        has_more: boolean;
      };
    // A slow writer: its transaction starts first (lower transaction id) and commits last.
    const slow = new pg.Client({ connectionString: backend.databaseUrl });
    await slow.connect();
    await slow.query('BEGIN');
    await slow.query(
      `INSERT INTO attendance (org_id, id, person_id, "timestamp", status, punctuality, ts_utc, unit_id, received_at, seq)
       VALUES ('acme', 'slow-1', 'p', '2025-01-01T00:00:00Z', 'CHECK_IN', NULL, '2025-01-01T00:00:00.000Z', 'door-slow', '2025-01-01T00:00:00.000Z', pg_current_xact_id()::text::bigint)`,
    );
    unit.store.recordAttendance({ id: 'fast-1', personId: 'p', timestamp: new Date().toISOString(), kind: 'CHECK_IN', punctuality: 'ON_TIME' });
    await syncUntilDone(unit);
    let cursor = '0';
    const seen: string[] = [];
    const drain = async () => {
      for (;;) {
        const page = await exportPage(cursor);
        seen.push(...page.rows.map((r) => r.id));
        cursor = page.next;
        if (!page.has_more) return;
      }
    };
    await drain();
    expect(seen).toEqual([]); // fast-1 is held back while the older transaction is still open
    await slow.query('COMMIT');
    await slow.end();
    await drain();
    expect(seen).toEqual(['slow-1', 'fast-1']);
  });
});

/**
 * Faults, each ending with nothing lost and nothing duplicated (ids compared one by one):
 * the sync server down while a unit queues 1,000 attendance rows and 50 enrollments, then
 * SIGKILLed in the middle of a batch; PostgreSQL restarted and crashed under load; a
 * loopback TCP proxy that drops and stalls connections. The server never answers 500.
 * Needs `npm run build` (the server runs as its own process from dist/).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging.js';
import { openServerDatabase } from '../../src/syncServer/db/open.js';
import { serverContext } from '../../src/syncServer/server.js';
import type { ServerContext } from '../../src/syncServer/context.js';
import { freePort } from '../mqtt/broker.js';
import { startFaultProxy } from './faultProxy.js';
import {
  activeUnit,
  createBackend,
  embedding,
  ENGINES,
  recordingFetch,
  runUntilDone,
  serverConfig,
  startChildServer,
  startServer,
  syncUntilDone,
  type TestBackend,
  type TestUnit,
} from './harness.js';
import { startPrivatePostgres, type PrivatePostgres } from './postgres.js';

const ORG = 'acme';

function queueWork(unit: TestUnit, people: number, rows: number): { personIds: string[]; rowIds: string[] } {
  const personIds: string[] = [];
  for (let i = 0; i < people; i++) {
    personIds.push(
      unit.store.enroll({
        name: `Queued ${i}`,
        templates: [{ id: `${unit.deviceId}-q${i}`, modelId: 'face-int8-v1', embedding: embedding(500 + i), quality: 1 }],
      }).id,
    );
  }
  const rowIds: string[] = [];
  for (let i = 0; i < rows; i++) {
    const pid = personIds[i % Math.max(personIds.length, 1)] ?? 'someone';
    rowIds.push(
      unit.store.recordAttendance({
        personId: pid,
        timestamp: new Date(Date.UTC(2025, 1, 1, 8, 0, i)).toISOString(),
        kind: i % 2 ? 'CHECK_OUT' : 'CHECK_IN',
        punctuality: null,
      }).id,
    );
  }
  return { personIds, rowIds };
}

async function serverIds(ctx: ServerContext, unitId: string): Promise<{ attendance: string[]; people: string[] }> {
  const attendance = (await ctx.sql.query<{ id: string }>('SELECT id FROM attendance WHERE org_id = $1 AND unit_id = $2', [ORG, unitId])).map((r) => r.id);
  const people = (
    await ctx.sql.query<{ id: string; templates_json: string }>(
      'SELECT id, templates_json FROM people WHERE org_id = $1 AND origin_unit = $2 AND deleted = 0',
      [ORG, unitId],
    )
  )
    .filter((r) => (JSON.parse(r.templates_json) as unknown[]).length === 1)
    .map((r) => r.id);
  return { attendance: attendance.sort(), people: people.sort() };
}

describe.each(ENGINES)('sync server down, then SIGKILLed mid-batch (%s)', (engine) => {
  let backend: TestBackend;
  let ctx: ServerContext;

  beforeAll(async () => {
    backend = await createBackend(engine);
    const cfg = serverConfig(backend);
    ctx = serverContext(cfg, createLogger('silent'), await openServerDatabase(cfg, createLogger('silent')));
    await ctx.orgs.create(ORG, 'Acme');
  });
  afterAll(async () => {
    await ctx?.sql.close();
    await backend?.dispose();
  });

  it('queues 1,000 rows and 50 enrollments while the server is down, survives a SIGKILL in the middle of a batch, and delivers each exactly once', async () => {
    const port = await freePort();
    let server = await startChildServer(backend, port);
    const statuses: number[] = [];
    let pushes = 0;
    let killed = false;
    const killingFetch = (async (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
      if (init?.method === 'POST' && String(input).includes('/attendance') && ++pushes === 3 && !killed) {
        killed = true;
        const victim = server;
        setTimeout(() => victim.child.kill('SIGKILL'), 3); // while the batch is in flight
      }
      return fetch(input, init);
    }) as typeof fetch;
    const unit = await activeUnit({ ctx }, server.url, ORG, 'door-k', {
      fetch: recordingFetch(statuses, killingFetch),
      batchSize: 100,
      backoff: { baseMs: 20, capMs: 300 },
    });
    await syncUntilDone(unit); // key ring created
    await server.kill('SIGTERM');

    const { personIds, rowIds } = queueWork(unit, 50, 1000);
    const ac = new AbortController();
    const loop = unit.client.run(unit.store, ac.signal);
    await new Promise((r) => setTimeout(r, 1500));
    const offline = unit.client.status();
    expect(offline.lastError?.kind).toBe('network');
    expect(offline.consecutiveFailures).toBeGreaterThanOrEqual(2);
    expect(unit.store.outboxDepth()).toBe(1050); // nothing dropped while offline
    ac.abort();
    await loop;

    server = await startChildServer(backend, port);
    // The loop pushes; the third attendance batch kills the server in flight. Bring it back.
    const restarter = (async () => {
      while (!killed) await new Promise((r) => setTimeout(r, 20));
      await server.exited;
      await new Promise((r) => setTimeout(r, 500));
      server = await startChildServer(backend, port);
    })();
    await runUntilDone(unit, 60_000);
    await restarter;
    expect(killed).toBe(true);
    const got = await serverIds(ctx, 'door-k');
    expect(got.attendance).toEqual([...rowIds].sort());
    expect(got.people).toEqual([...personIds].sort());
    expect(statuses).not.toContain(500);
    expect(statuses).toContain(0); // the client did see the server gone
    await server.kill('SIGTERM');
  });
});

describe('PostgreSQL restarted and crashed under load', () => {
  let pgc: PrivatePostgres;
  let backend: TestBackend;

  beforeAll(async () => {
    pgc = await startPrivatePostgres();
    backend = await createBackend('postgres', pgc.server);
  });
  afterAll(async () => {
    await backend?.dispose().catch(() => undefined);
    pgc?.dispose();
  });

  it('answers 503 (health: database down) while PostgreSQL is away and loses or duplicates nothing', async () => {
    const h = await startServer(backend, { database: { poolMax: 3, connectTimeoutMs: 1000 } });
    try {
      await h.server.ctx.orgs.create(ORG, 'Acme');
      const statuses: number[] = [];
      const unit = await activeUnit(h.server, h.url, ORG, 'door-pg', { fetch: recordingFetch(statuses), batchSize: 40, backoff: { baseMs: 20, capMs: 300 } });
      await syncUntilDone(unit);
      const { personIds, rowIds } = queueWork(unit, 20, 1000);
      const ac = new AbortController();
      const loop = unit.client.run(unit.store, ac.signal);
      for (const mode of ['fast', 'immediate'] as const) {
        const depth = unit.store.outboxDepth();
        while (unit.store.outboxDepth() > depth - 80) await new Promise((r) => setTimeout(r, 10));
        pgc.stop(mode);
        const health = await fetch(`${h.url}/health`);
        expect(health.status).toBe(503);
        expect(await health.json()).toMatchObject({ status: 'unhealthy', database: { state: 'down' } });
        await new Promise((r) => setTimeout(r, 1000));
        await pgc.start();
      }
      ac.abort();
      await loop;
      await runUntilDone(unit, 60_000);
      const got = await serverIds(h.server.ctx, 'door-pg');
      expect(got.attendance).toEqual([...rowIds].sort());
      expect(got.people).toEqual([...personIds].sort());
      expect(statuses).toContain(503);
      expect(statuses).not.toContain(500);
    } finally {
      await h.close();
    }
  });
});

describe('a network that drops and stalls connections (PostgreSQL)', () => {
  let backend: TestBackend;

  beforeAll(async () => {
    backend = await createBackend('postgres');
  });
  afterAll(async () => {
    await backend?.dispose();
  });

  it('delivers every row and person exactly once through a proxy that loses answers and hangs connections', async () => {
    const h = await startServer(backend);
    const proxy = await startFaultProxy(Number(new URL(h.url).port), { drop: 0, stall: 0, seed: 7 });
    try {
      await h.server.ctx.orgs.create(ORG, 'Acme');
      const statuses: number[] = [];
      const unit = await activeUnit(h.server, proxy.url, ORG, 'door-net', {
        fetch: recordingFetch(statuses),
        batchSize: 25,
        requestTimeoutMs: 1000,
        backoff: { baseMs: 20, capMs: 300 },
      });
      await syncUntilDone(unit);
      const { personIds, rowIds } = queueWork(unit, 30, 600);
      proxy.set({ drop: 0.25, stall: 0.15 });
      const ac = new AbortController();
      const loop = unit.client.run(unit.store, ac.signal);
      while (unit.store.outboxDepth() > 200) await new Promise((r) => setTimeout(r, 50));
      ac.abort();
      await loop;
      proxy.set({ drop: 0, stall: 0 });
      await runUntilDone(unit, 60_000);
      expect(proxy.stats.dropped).toBeGreaterThan(0);
      expect(proxy.stats.stalled).toBeGreaterThan(0);
      const got = await serverIds(h.server.ctx, 'door-net');
      expect(got.attendance).toEqual([...rowIds].sort());
      expect(got.people).toEqual([...personIds].sort());
      expect(statuses).not.toContain(500);
    } finally {
      await proxy.close();
      await h.close();
    }
  });
});

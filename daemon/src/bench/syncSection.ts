/**
 * Sync server load (`npm run bench -- --only sync`): 1,000 simulated units (real SyncClients
 * with in-memory stores, in this process) against two `blinkd sync-server` instances (their
 * own processes) on one PostgreSQL, all on loopback. The load generator is bounded: at most
 * BLINK_BENCH_SYNC_CONCURRENCY requests in flight during ingest.
 *
 *  - sync_ingest_rows_per_s, sync_push_p50_ms / sync_push_p99_ms: every unit pushes
 *    BLINK_BENCH_SYNC_ROWS attendance rows in batches of 50 (one organisation: the worst case,
 *    every batch takes that organisation's counter lock);
 *  - sync_pull_10k_ms: a fresh unit pulls 10,000 people (one 128-d template each) in pages of
 *    200, opening every envelope;
 *  - sync_storm_catchup_s: all 1,000 units running their sync loop (defaults: backoff base
 *    1 s, cap 2 min) while both servers are down for BLINK_BENCH_SYNC_OUTAGE_S (default 300 s)
 *    and the units keep recording; then the servers come back and the clock runs until every
 *    unit's outbox is empty and it has every person. sync_storm_status_* count the answers.
 *
 * PostgreSQL: BLINK_BENCH_DATABASE_SERVER (default postgresql://postgres@127.0.0.1:5432); a
 * database of its own is created and dropped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { BenchResult, BenchSection } from './main.js';
import { createLogger } from '../logging.js';
import { SyncClient } from '../sync/client.js';
import { KeyRing } from '../sync/envelopeKeyRing.js';
import { MemorySyncStore } from '../sync/memoryLocalStore.js';
import { generateDeviceKey } from '../sync/requestSigning.js';
import { syncServerConfigSchema } from '../syncServer/config.js';
import { openServerDatabase } from '../syncServer/db/open.js';
import { serverContext } from '../syncServer/server.js';
import { repoRoot } from '../system/paths.js';
import { freePort } from './freePort.js';

const PASSPHRASE = 'benchmark organisation passphrase';
const env = (name: string, def: number) => (process.env[name] ? Number(process.env[name]) : def);

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return Math.round((s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0) * 10) / 10;
}

interface Instance {
  port: number;
  url: string;
  child: ChildProcess | null;
}

async function startInstance(inst: Instance, databaseUrl: string, dataDir: string): Promise<void> {
  const child = spawn(process.execPath, [join(repoRoot(), 'daemon', 'bin', 'blinkd.js'), 'sync-server', '--port', String(inst.port), '--data', dataDir], {
    env: { ...process.env, DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  inst.child = child;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sync server exited: ${err}`);
    try {
      if ((await fetch(`${inst.url}/health`)).status === 200) return;
    } catch {
      /* starting */
    }
    if (Date.now() > deadline) throw new Error(`sync server did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopInstance(inst: Instance, signal: NodeJS.Signals): Promise<void> {
  const c = inst.child;
  inst.child = null;
  if (!c || c.exitCode !== null) return;
  const exited = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill(signal);
  await exited;
}

/** Runs fn over items with at most `limit` at once. */
async function bounded<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

function embedding(seed: number): Float32Array {
  const v = Float32Array.from({ length: 128 }, (_, i) => Math.sin(seed * 0.7 + i * 0.31));
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

interface SimUnit {
  client: SyncClient;
  store: MemorySyncStore;
}

export const syncSection: BenchSection = {
  name: 'sync',
  async run(ctx) {
    const result: BenchResult = {};
    const units = env('BLINK_BENCH_SYNC_UNITS', 1000);
    const rowsPerUnit = env('BLINK_BENCH_SYNC_ROWS', 100);
    const concurrency = env('BLINK_BENCH_SYNC_CONCURRENCY', 64);
    const outageS = env('BLINK_BENCH_SYNC_OUTAGE_S', 300);
    const people10k = env('BLINK_BENCH_SYNC_PEOPLE', 10_000);
    const server = process.env.BLINK_BENCH_DATABASE_SERVER ?? 'postgresql://postgres@127.0.0.1:5432';
    const dbName = `blink_sync_bench_${process.pid}_${randomBytes(3).toString('hex')}`;
    const admin = new pg.Client({ connectionString: `${server}/postgres` });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const databaseUrl = `${server}/${dbName}`;
    const dataDir = mkdtempSync(join(tmpdir(), 'blink-bench-sync-'));
    const instances: Instance[] = [];
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      instances.push({ port, url: `http://127.0.0.1:${port}`, child: null });
    }
    const log = createLogger('silent');
    const cfg = syncServerConfigSchema.parse({ databaseUrl, dataDir, database: { poolMax: 2 } });
    const sql = await openServerDatabase(cfg, log);
    const op = serverContext(cfg, log, sql);
    const statuses = new Map<number, number>();
    const pushLatencies: number[] = [];
    let measurePush = false;
    const countingFetch = (async (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
      const t0 = performance.now();
      try {
        const res = await fetch(input, init);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (measurePush && init?.method === 'POST' && String(input).endsWith('/attendance')) pushLatencies.push(performance.now() - t0);
        return res;
      } catch (err) {
        statuses.set(0, (statuses.get(0) ?? 0) + 1);
        throw err;
      }
    }) as typeof fetch;

    try {
      for (const inst of instances) await startInstance(inst, databaseUrl, dataDir);
      await op.orgs.create('fleet', 'Fleet');
      await op.orgs.create('bulk', 'Bulk');
      ctx.log(`sync: ${units} units registering with claim codes on 2 instances`);
      // One scrypt for everyone: each real unit opens the ring once on its own CPU.
      const fleetRing = await KeyRing.create('fleet', PASSPHRASE);
      await op.keyRings.put('fleet', 0, fleetRing.toDocument(), 'bench');
      const sims: SimUnit[] = [];
      for (let i = 0; i < units; i++) {
        const deviceId = `door-${String(i).padStart(4, '0')}`;
        const client = new SyncClient({
          serverUrl: instances[i % 2]!.url,
          org: 'fleet',
          deviceId,
          key: generateDeviceKey(),
          passphrase: () => PASSPHRASE,
          openedKeyRing: fleetRing,
          batchSize: 50,
          fetch: countingFetch,
        });
        sims.push({ client, store: new MemorySyncStore(deviceId) });
      }
      const codes = await Promise.all(sims.map(() => op.devices.createClaimCode('fleet', 24)));
      await bounded(sims, concurrency, async (s, i) => void (await s.client.register(codes[i]!.code)));

      // ---- ingest ----
      const seedPeople: string[] = [];
      for (let i = 0; i < 50; i++)
        seedPeople.push(
          sims[0]!.store.enroll({ name: `Seed ${i}`, templates: [{ id: `seed-${i}`, modelId: 'face-int8-v1', embedding: embedding(i), quality: 1 }] }).id,
        );
      await sims[0]!.client.push(sims[0]!.store);
      for (const [u, s] of sims.entries()) {
        for (let r = 0; r < rowsPerUnit; r++) {
          s.store.recordAttendance({
            personId: seedPeople[(u + r) % 50]!,
            timestamp: new Date(Date.UTC(2025, 3, 1, 8, 0, 0, u * 1000 + r)).toISOString(),
            kind: 'CHECK_IN',
            punctuality: 'ON_TIME',
          });
        }
      }
      ctx.log(`sync: ingest ${units * rowsPerUnit} rows (batches of 50, ${concurrency} requests in flight)`);
      statuses.clear();
      measurePush = true;
      const t0 = performance.now();
      await bounded(sims, concurrency, async (s) => {
        for (let attempt = 0; s.store.outboxDepth() > 0; attempt++) {
          try {
            await s.client.push(s.store);
          } catch (err) {
            await new Promise((r) => setTimeout(r, s.client.nextDelay(err)));
          }
        }
      });
      const ingestS = (performance.now() - t0) / 1000;
      measurePush = false;
      const stored = await op.attendance.count('fleet');
      result.sync_ingest_rows = stored;
      result.sync_ingest_rows_per_s = Math.round(stored / ingestS);
      result.sync_push_p50_ms = percentile(pushLatencies, 50);
      result.sync_push_p99_ms = percentile(pushLatencies, 99);
      result.sync_ingest_status_2xx = statuses.get(200) ?? 0;
      result.sync_ingest_status_503 = statuses.get(503) ?? 0;
      result.sync_ingest_status_429 = statuses.get(429) ?? 0;
      result.sync_ingest_status_500 = statuses.get(500) ?? 0;
      if (stored !== units * rowsPerUnit) throw new Error(`ingest stored ${stored} rows, expected ${units * rowsPerUnit}`);

      // ---- pull of 10,000 people ----
      ctx.log(`sync: seeding ${people10k} people in another organisation`);
      const bulkRing = await KeyRing.create('bulk', PASSPHRASE);
      await op.keyRings.put('bulk', 0, bulkRing.toDocument(), 'bench');
      const mkBulk = async (id: string, url: string) => {
        const client = new SyncClient({
          serverUrl: url,
          org: 'bulk',
          deviceId: id,
          key: generateDeviceKey(),
          passphrase: () => PASSPHRASE,
          openedKeyRing: bulkRing,
          batchSize: 500,
        });
        await client.register((await op.devices.createClaimCode('bulk', 1)).code);
        return { client, store: new MemorySyncStore(id) };
      };
      const seeder = await mkBulk('seeder', instances[0]!.url);
      for (let i = 0; i < people10k; i++)
        seeder.store.enroll({ name: `Person ${i}`, templates: [{ id: `bulk-${i}`, modelId: 'face-int8-v1', embedding: embedding(i), quality: 1 }] });
      while (seeder.store.outboxDepth() > 0) await seeder.client.push(seeder.store);
      const fresh = await mkBulk('fresh', instances[1]!.url);
      ctx.log(`sync: a fresh unit pulls ${people10k} people`);
      const tp = performance.now();
      await fresh.client.pull(fresh.store);
      result.sync_pull_10k_ms = Math.round(performance.now() - tp);
      result.sync_pull_10k_pages = fresh.store.pagesApplied;
      if (fresh.store.livePeople().length !== people10k) throw new Error(`pulled ${fresh.store.livePeople().length} people, expected ${people10k}`);

      // ---- reconnect storm ----
      ctx.log(`sync: every unit up to date, then both servers down for ${outageS} s while units record`);
      await bounded(sims, concurrency, async (s) => {
        for (;;) {
          try {
            await s.client.pull(s.store);
            return;
          } catch (err) {
            await new Promise((r) => setTimeout(r, s.client.nextDelay(err)));
          }
        }
      });
      const ac = new AbortController();
      setMaxListeners(units + 100, ac.signal); // one per simulated unit's loop
      const loops = sims.map((s) => s.client.run(s.store, ac.signal));
      await new Promise((r) => setTimeout(r, 2000));
      for (const inst of instances) await stopInstance(inst, 'SIGKILL');
      statuses.clear();
      const outageStart = Date.now();
      const enrolled: string[] = [];
      const ticker = setInterval(() => {
        // While offline: every unit records a row every ~10 s; ten units enroll someone each minute.
        const minute = Math.floor((Date.now() - outageStart) / 60_000);
        for (const [u, s] of sims.entries()) {
          if (Math.random() < 0.1)
            s.store.recordAttendance({ personId: seedPeople[u % 50]!, timestamp: new Date().toISOString(), kind: 'CHECK_OUT', punctuality: null });
        }
        if (enrolled.length < (minute + 1) * 10) {
          const s = sims[enrolled.length % sims.length]!;
          enrolled.push(
            s.store.enroll({
              name: `Offline ${enrolled.length}`,
              templates: [{ id: `off-${enrolled.length}`, modelId: 'face-int8-v1', embedding: embedding(9000 + enrolled.length), quality: 1 }],
            }).id,
          );
        }
      }, 1000);
      await new Promise((r) => setTimeout(r, outageS * 1000));
      clearInterval(ticker);
      const queued = sims.reduce((n, s) => n + s.store.outboxDepth(), 0);
      const expectedPeople = 50 + enrolled.length;
      ctx.log(`sync: servers back; ${queued} outbox entries queued on ${units} units, ${enrolled.length} people enrolled offline`);
      const tr = Date.now();
      await Promise.all(instances.map((inst) => startInstance(inst, databaseUrl, dataDir)));
      let caughtUp = 0;
      while (Date.now() - tr < 30 * 60_000) {
        caughtUp = sims.filter((s) => s.store.outboxDepth() === 0 && s.store.livePeople().length === expectedPeople).length;
        if (caughtUp === sims.length) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      result.sync_storm_catchup_s = Math.round((Date.now() - tr) / 100) / 10;
      result.sync_storm_outage_s = outageS;
      result.sync_storm_units_caught_up = caughtUp;
      result.sync_storm_queued_entries = queued;
      const after: Record<string, number> = {};
      for (const [code, n] of statuses) after[code === 0 ? 'refused' : String(code)] = n;
      result.sync_storm_status_2xx = Object.entries(after)
        .filter(([c]) => /^2/.test(c))
        .reduce((n, [, v]) => n + v, 0);
      result.sync_storm_status_429 = after['429'] ?? 0;
      result.sync_storm_status_503 = after['503'] ?? 0;
      result.sync_storm_status_500 = after['500'] ?? 0;
      result.sync_storm_status_other = Object.entries(after)
        .filter(([c]) => !/^(2\d\d|429|503|500|refused)$/.test(c))
        .reduce((n, [, v]) => n + v, 0);
      result.sync_storm_connection_refused = after.refused ?? 0;
      ac.abort();
      await Promise.all(loops);
      result.sync_attendance_total = await op.attendance.count('fleet');
      result.sync_load_avg_1m = Math.round(loadavg()[0]! * 100) / 100;
      if (caughtUp !== sims.length) throw new Error(`only ${caughtUp} of ${sims.length} units caught up`);
    } finally {
      for (const inst of instances) await stopInstance(inst, 'SIGTERM');
      await sql.close();
      const c = new pg.Client({ connectionString: `${server}/postgres` });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await c.end();
      rmSync(dataDir, { recursive: true, force: true });
    }
    return result;
  },
};

/**
 * Test harness for the sync server: a real server (in this process, or a child `blinkd
 * sync-server` from dist/) on real PostgreSQL or the SQLite fallback, and real clients.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { createLogger } from '../../src/logging.js';
import { SyncClient, type SyncClientOptions } from '../../src/sync/client.js';
import { MemorySyncStore } from '../../src/sync/memoryLocalStore.js';
import { generateDeviceKey, signRequest } from '../../src/sync/requestSigning.js';
import { syncServerConfigSchema, type SyncServerConfig } from '../../src/syncServer/config.js';
import { SyncServer } from '../../src/syncServer/server.js';
import type { ServerContext } from '../../src/syncServer/context.js';
import { BLINKD } from '../helpers/blinkd.js';
import { freePort } from '../mqtt/broker.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';

export type EngineName = 'postgres' | 'sqlite';
export const ENGINES: EngineName[] = ['postgres', 'sqlite'];
export const PASSPHRASE = 'the organisation passphrase, long enough';

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export interface TestBackend {
  engine: EngineName;
  /** PostgreSQL URL, or '' for SQLite. */
  databaseUrl: string;
  dataDir: string;
  dispose(): Promise<void>;
}

export async function createBackend(engine: EngineName, pgServer?: string): Promise<TestBackend> {
  const dataDir = mkdtempSync(join(tmpdir(), 'blink-sync-'));
  let db: TestDatabase | null = null;
  if (engine === 'postgres') db = await createTestDatabase('blink_sync', pgServer);
  return {
    engine,
    databaseUrl: db?.url ?? '',
    dataDir,
    async dispose() {
      await db?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function serverConfig(backend: TestBackend, over: DeepPartial<SyncServerConfig> = {}): SyncServerConfig {
  return syncServerConfigSchema.parse({
    port: 0,
    dataDir: backend.dataDir,
    databaseUrl: backend.databaseUrl,
    logLevel: 'silent',
    ...over,
    database: { poolMax: 4, ...(over.database ?? {}) },
    // The server shares this process with the test: a busy CI machine must not make it shed load by event-loop delay.
    limits: { maxEventLoopDelayMs: 30_000, ...(over.limits ?? {}) },
    auth: { ...(over.auth ?? {}) },
  });
}

export interface RunningServer {
  server: SyncServer;
  url: string;
  close(): Promise<void>;
}

export async function startServer(backend: TestBackend, over: DeepPartial<SyncServerConfig> = {}, now?: () => Date): Promise<RunningServer> {
  const server = await SyncServer.open(serverConfig(backend, over), createLogger('silent'), { now });
  const url = await server.listen();
  return { server, url, close: () => server.close() };
}

export interface TestUnit {
  client: SyncClient;
  store: MemorySyncStore;
  key: KeyObject;
  deviceId: string;
  org: string;
}

/** A unit registered with a claim code (ACTIVE), with a fresh in-memory store. */
export async function activeUnit(
  server: { ctx: Pick<ServerContext, 'devices'> },
  url: string,
  org: string,
  deviceId: string,
  options: Partial<SyncClientOptions> = {},
): Promise<TestUnit> {
  const { code } = await server.ctx.devices.createClaimCode(org, 1);
  const key = options.key ?? generateDeviceKey();
  const client = new SyncClient({ serverUrl: url, org, deviceId, key, passphrase: () => PASSPHRASE, backoff: { baseMs: 20, capMs: 200 }, ...options });
  await client.register(code);
  return { client, store: new MemorySyncStore(deviceId), key, deviceId, org };
}

/** A unit-shaped embedding: 128 deterministic floats, L2-normalised. */
export function embedding(seed: number, dim = 128): Float32Array {
  const v = Float32Array.from({ length: dim }, (_, i) => Math.sin(seed * 7.3 + i * 0.37) + Math.cos(seed * 1.1 * i));
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

export interface ChildServer {
  url: string;
  port: number;
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** `blinkd sync-server` as its own process (compiled: run npm run build first). */
export async function startChildServer(backend: TestBackend, port?: number, extraEnv: Record<string, string> = {}): Promise<ChildServer> {
  const p = port ?? (await freePort());
  const env = { ...process.env, DATABASE_URL: backend.databaseUrl, ...extraEnv };
  if (!backend.databaseUrl) delete (env as Record<string, string | undefined>).DATABASE_URL;
  const child = spawn(process.execPath, [BLINKD, 'sync-server', '--port', String(p), '--data', backend.dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => output.push(d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => output.push(d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${p}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sync server exited (${child.exitCode}): ${output.join('')}`);
    try {
      const res = await fetch(`${url}/health`);
      if (res.status === 200 || res.status === 503) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`sync server did not start: ${output.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    port: p,
    child,
    output,
    exited,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}

/** Runs syncOnce until it succeeds and everything is up to date, backing off between failures like run() does. */
export async function syncUntilDone(unit: TestUnit, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let failures = 0;
  for (;;) {
    try {
      const r = await unit.client.syncOnce(unit.store);
      if (r.upToDate && unit.store.outboxDepth() === 0) return failures;
    } catch (err) {
      failures++;
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, unit.client.nextDelay(err)));
    }
  }
}

/** A request signed by a unit's key, sent as given (for protocol-level tests). */
export async function signedFetch(
  url: string,
  unit: { key: KeyObject; deviceId: string; org: string },
  method: string,
  path: string,
  body?: unknown,
  options: { ts?: number; rawBody?: string; authorization?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers; authorization: string }> {
  const text = options.rawBody ?? (body === undefined ? undefined : JSON.stringify(body));
  const u = new URL(path, url);
  const authorization = options.authorization ?? signRequest(unit.key, unit.org, unit.deviceId, method, u.pathname + u.search, text, options.ts ?? Date.now());
  const res = await fetch(u, {
    method,
    headers: { authorization, ...(text !== undefined ? { 'content-type': 'application/json' } : {}), ...(options.headers ?? {}) },
    body: text,
  });
  const t = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = t ? (JSON.parse(t) as Record<string, unknown>) : {};
  } catch {
    parsed = { text: t };
  }
  return { status: res.status, body: parsed, headers: res.headers, authorization };
}

/** fetch that records every status code it saw (and network failures as 0). */
export function recordingFetch(statuses: number[], inner: typeof fetch = fetch): typeof fetch {
  return (async (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
    try {
      const res = await inner(input, init);
      statuses.push(res.status);
      return res;
    } catch (err) {
      statuses.push(0);
      throw err;
    }
  }) as typeof fetch;
}

/** Runs the client's own loop (run()) until a round is up to date with an empty outbox. */
export async function runUntilDone(unit: TestUnit, timeoutMs = 90_000): Promise<{ rounds: number; failures: number }> {
  const ac = new AbortController();
  let rounds = 0;
  let failures = 0;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const loop = unit.client.run(unit.store, ac.signal, (r) => {
    rounds++;
    if (r instanceof Error) failures++;
    else if (r.upToDate && unit.store.outboxDepth() === 0) finish();
  });
  await Promise.race([done, loop]);
  clearTimeout(timer);
  const timedOut = ac.signal.aborted;
  ac.abort();
  await loop;
  if (timedOut)
    throw new Error(`not done within ${timeoutMs} ms: outbox ${unit.store.outboxDepth()}, last error ${JSON.stringify(unit.client.status().lastError)}`);
  return { rounds, failures };
}

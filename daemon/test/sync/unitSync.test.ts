/**
 * The unit side of sync with real parts: two units, each with its own SQLite database, people
 * registry, decision recorder and SyncService, and a real sync server on PostgreSQL (a database
 * of its own on 127.0.0.1:5432) and on the SQLite fallback.
 *
 * - a person enrolled on unit A is matched (ACTIVE) on unit B; deactivated on B, A sees them
 *   deactivated; deleted on A, their templates are gone from B and from the server;
 * - attendance from both units reaches the server exactly once (ids compared);
 * - the server down while 50 enrollments and 1,000 attendance rows happen: all queued (nothing
 *   lost) and delivered exactly once when it is back;
 * - a unit SIGKILLed while writing: every person and attendance row in its database has its
 *   outbox entry (written in the same transaction), and all of them reach the server.
 *
 * The crash test runs the compiled modules in a child process: `npm run build` first.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessRecorder } from '../../src/access/recorder.js';
import { parseConfig } from '../../src/config/load.js';
import { EventBus } from '../../src/events.js';
import { createLogger } from '../../src/logging.js';
import { PeopleRegistry } from '../../src/registry/peopleRegistry.js';
import { Store } from '../../src/store/store.js';
import { SyncService } from '../../src/sync/syncService.js';
import type { ServerContext } from '../../src/syncServer/context.js';
import { REPO_ROOT, tempDir } from '../helpers/blinkd.js';
import { freePort } from '../mqtt/broker.js';
import { activeUnit, createBackend, embedding, ENGINES, PASSPHRASE, startServer, type RunningServer, type TestBackend } from './harness.js';

const ORG = 'acme';
const MODEL = 'test-model';
const log = createLogger('silent');

interface Unit {
  id: string;
  store: Store;
  registry: PeopleRegistry;
  recorder: AccessRecorder;
  sync: SyncService;
  cleanup(): Promise<void>;
}

async function makeUnit(ctx: ServerContext, url: string, id: string, dir?: string): Promise<Unit> {
  const t = dir ? { dir, cleanup: () => {} } : tempDir(`blink-unit-${id}-`);
  const passphraseFile = join(t.dir, 'passphrase');
  writeFileSync(passphraseFile, PASSPHRASE + '\n');
  const { code } = await ctx.devices.createClaimCode(ORG, 1);
  const config = parseConfig(
    {
      unit: { id, timezone: 'UTC' },
      store: { dataDir: t.dir },
      sync: { enabled: true, serverUrl: url, org: ORG, passphraseFile, claimCode: code, intervalSec: 3600 },
    },
    'test',
  );
  const bus = new EventBus();
  const store = Store.fromConfig(config);
  const registry = new PeopleRegistry(store, store.audit, bus, log, () => null, id);
  registry.activate(MODEL, 128);
  store.syncOutbox.setQueueing(true);
  const recorder = new AccessRecorder(store, bus, config, log);
  const sync = new SyncService({ config, store, registry, bus, log, backoff: { baseMs: 20, capMs: 200 } });
  return {
    id,
    store,
    registry,
    recorder,
    sync,
    async cleanup() {
      await sync.stop();
      store.close();
      t.cleanup();
    },
  };
}

function enroll(u: Unit, name: string, seed: number): string {
  return u.registry.enroll({
    person: { name },
    faces: [{ embedding: embedding(seed), quality: 0.9 }],
    modelId: MODEL,
    source: 'upload',
    duplicateThreshold: 0.999,
    actor: 'test',
  }).person.id;
}

/** A camera grant of this person at this time: the decision and (first of the day) a CHECK_IN. Returns the attendance row's sync id. */
function grant(u: Unit, personId: string, at: Date): string {
  const r = u.recorder.record({ result: 'GRANTED', reason: 'granted', personId, personName: 'x', source: 'camera' }, at);
  expect(r?.attendance).not.toBeNull();
  return r!.event.id;
}

function sh(u: Unit): { pending: { people: number; attendance: number }; lastError: { kind: string; message: string } | null; lastSuccessAt: string | null } {
  return u.sync.health() as never;
}

async function serverAttendance(ctx: ServerContext): Promise<string[]> {
  return (await ctx.sql.query<{ id: string }>('SELECT id FROM attendance WHERE org_id = $1', [ORG])).map((r) => r.id).sort();
}

async function serverPerson(ctx: ServerContext, id: string): Promise<{ deleted: boolean; templates: number; status: string } | null> {
  const r = (
    await ctx.sql.query<{ deleted: number | boolean; templates_json: string; status: string }>(
      'SELECT deleted, templates_json, status FROM people WHERE org_id = $1 AND id = $2',
      [ORG, id],
    )
  )[0];
  return r ? { deleted: Boolean(Number(r.deleted)), templates: (JSON.parse(r.templates_json) as unknown[]).length, status: r.status } : null;
}

describe.each(ENGINES)('two units and a sync server (%s)', (engine) => {
  let backend: TestBackend;
  let server: RunningServer;
  let port: number;
  const units: Unit[] = [];

  beforeAll(async () => {
    backend = await createBackend(engine);
    port = await freePort();
    server = await startServer(backend, { port });
    await server.server.ctx.orgs.create(ORG, 'Acme');
  });
  afterAll(async () => {
    for (const u of units) await u.cleanup();
    await server?.close();
    await backend?.dispose();
  });

  it('enrolled on A passes B; deactivated on B, denied on A; deleted on A, gone from B and the server; attendance from both arrives once', async () => {
    const ctx = server.server.ctx;
    const a = await makeUnit(ctx, server.url, `door-a-${engine}`);
    const b = await makeUnit(ctx, server.url, `door-b-${engine}`);
    units.push(a, b);
    const face = embedding(1);
    const pid = enroll(a, 'Ada', 1);
    expect(b.registry.identify(face, 0.5, 0.05).decision).toBe('no_match');

    await a.sync.start();
    await b.sync.start();
    await a.sync.syncNow();
    await b.sync.syncNow();
    expect(sh(a).lastError).toBeNull();
    expect(sh(b).lastError).toBeNull();
    const onB = b.registry.identify(face, 0.5, 0.05);
    expect(onB.decision).toBe('match');
    expect(onB.person).toEqual({ id: pid, name: 'Ada', status: 'ACTIVE' });

    // Attendance on both units, each queued with its row.
    const rows = [
      grant(a, pid, new Date('2026-03-02T08:00:00Z')),
      grant(b, pid, new Date('2026-03-03T08:00:00Z')),
      grant(a, pid, new Date('2026-03-04T08:00:00Z')),
    ];
    expect(sh(a).pending.attendance).toBe(2);

    // Deactivated on B reaches A.
    b.registry.update(pid, { status: 'DEACTIVATED' }, 'admin:test');
    await b.sync.syncNow();
    await a.sync.syncNow();
    expect(a.registry.get(pid)?.status).toBe('DEACTIVATED');
    expect(a.registry.identify(face, 0.5, 0.05).person?.status).toBe('DEACTIVATED');
    expect((await serverPerson(ctx, pid))?.status).toBe('DEACTIVATED');

    // Every attendance row once, from both units; syncing again duplicates nothing.
    await a.sync.syncNow();
    await b.sync.syncNow();
    expect(await serverAttendance(ctx)).toEqual([...rows].sort());
    expect(sh(a).pending).toMatchObject({ people: 0, attendance: 0 });
    expect(sh(b).pending).toMatchObject({ people: 0, attendance: 0 });
    expect(a.store.attendance.unsynced(10)).toEqual([]);

    // Deleted on A: the templates are gone from B and from the server.
    a.registry.remove(pid, 'admin:test');
    await a.sync.syncNow();
    await b.sync.syncNow();
    expect(b.registry.get(pid)).toBeUndefined();
    expect(b.registry.templateCount(pid)).toBe(0);
    expect(b.registry.identify(face, 0.5, 0.05).decision).toBe('no_match');
    expect(await serverPerson(ctx, pid)).toMatchObject({ deleted: true, templates: 0 });
    // The local digests agree with the server's (nothing drifted).
    const remote = await ctx.people.digest(ORG);
    expect(a.sync.local.digest()).toEqual({ count: remote.count, sha256: remote.sha256 });
    expect(b.sync.local.digest()).toEqual({ count: remote.count, sha256: remote.sha256 });
    expect(await serverAttendance(ctx)).toEqual([...rows].sort());
  });

  it('server down: changes are queued, nothing lost, and delivered once when it is back', async () => {
    const ctx = server.server.ctx;
    const u = await makeUnit(ctx, server.url, `door-c-${engine}`);
    units.push(u);
    await u.sync.start();
    await u.sync.syncNow();
    expect(sh(u).lastError).toBeNull();
    const before = await serverAttendance(ctx);

    await server.close();
    // 50 enrollments and 1,000 attendance rows (50 people × 20 days) while the server is down.
    const people = Array.from({ length: 50 }, (_, i) => enroll(u, `Offline ${i}`, 100 + i));
    const rows: string[] = [];
    for (let d = 1; d <= 20; d++) for (const [i, p] of people.entries()) rows.push(grant(u, p, new Date(Date.UTC(2026, 4, d, 8, i))));
    await u.sync.syncNow();
    expect(sh(u).lastError?.kind).toBe('network');
    expect(sh(u).pending).toMatchObject({ people: 50, attendance: 1000 });
    await u.sync.syncNow(); // still down: still queued, never dropped
    expect(sh(u).pending).toMatchObject({ people: 50, attendance: 1000 });

    server = await startServer(backend, { port });
    await u.sync.syncNow();
    expect(sh(u).lastError).toBeNull();
    expect(sh(u).pending).toMatchObject({ people: 0, attendance: 0 });
    expect(await serverAttendance(server.server.ctx)).toEqual([...before, ...rows].sort());
    for (const p of people) expect(await serverPerson(server.server.ctx, p)).toMatchObject({ deleted: false, templates: 1 });
  });

  it('a unit SIGKILLed while writing loses nothing: every row it committed has its outbox entry, and all reach the server', async () => {
    const ctx = server.server.ctx;
    const t = tempDir('blink-unit-crash-');
    // Prepare the database (migrations, queueing on) as the unit would at start.
    const u0 = await makeUnit(ctx, server.url, `door-k-${engine}`, t.dir);
    await u0.cleanup();
    const dist = join(REPO_ROOT, 'dist', 'daemon', 'src');
    const script = join(t.dir, 'writer.mjs');
    writeFileSync(
      script,
      `
import { Store } from ${JSON.stringify(join(dist, 'store', 'store.js'))};
import { PeopleRegistry } from ${JSON.stringify(join(dist, 'registry', 'peopleRegistry.js'))};
import { AccessRecorder } from ${JSON.stringify(join(dist, 'access', 'recorder.js'))};
import { EventBus } from ${JSON.stringify(join(dist, 'events.js'))};
import { createLogger } from ${JSON.stringify(join(dist, 'logging.js'))};
import { parseConfig } from ${JSON.stringify(join(dist, 'config', 'load.js'))};
const config = parseConfig({ unit: { id: 'door-k', timezone: 'UTC' }, store: { dataDir: ${JSON.stringify(t.dir)} } }, 'test');
const store = Store.fromConfig(config);
const log = createLogger('silent');
const bus = new EventBus();
const registry = new PeopleRegistry(store, store.audit, bus, log, () => null, 'door-k');
const recorder = new AccessRecorder(store, bus, config, log);
for (let i = 0; ; i++) {
  const v = Float32Array.from({ length: 128 }, (_, k) => Math.sin(i * 13.1 + k) + (k === i % 128 ? 5 : 0));
  const p = registry.enroll({ person: { name: 'Crash ' + i }, faces: [{ embedding: v, quality: 1 }], modelId: 'other-model', source: 'cli', duplicateThreshold: 2, actor: 'cli' }).person;
  recorder.record({ result: 'GRANTED', reason: 'granted', personId: p.id, personName: p.name, source: 'camera' }, new Date(Date.UTC(2026, 5, 1, 8, 0, i % 60)));
  if (i === 20) process.stdout.write('writing\\n');
}
`,
    );
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => resolve());
      child.once('exit', (c) => reject(new Error(`writer exited ${c}: ${err}`)));
    });
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    const u = await makeUnit(ctx, server.url, `door-k-${engine}`, t.dir);
    units.push(u);
    const people = u.registry.list().map((p) => p.id);
    const rows = u.store.attendance.query({ limit: 100_000 }).map((r) => r.eventId);
    expect(people.length).toBeGreaterThan(20);
    // The outbox holds an entry for every committed person and attendance row: none half-written.
    const queued = u.store.syncOutbox.peek(1_000_000);
    expect(new Set(queued.filter((q) => q.kind === 'person').map((q) => q.refId))).toEqual(new Set(people));
    expect(
      queued
        .filter((q) => q.kind === 'attendance')
        .map((q) => q.refId)
        .sort(),
    ).toEqual([...rows].sort());

    const before = new Set(await serverAttendance(ctx));
    await u.sync.start();
    await u.sync.syncNow();
    expect(sh(u).lastError).toBeNull();
    expect(sh(u).pending).toMatchObject({ people: 0, attendance: 0 });
    const after = (await serverAttendance(ctx)).filter((id) => !before.has(id));
    expect(after).toEqual([...rows].sort());
    for (const p of people) expect(await serverPerson(ctx, p)).toMatchObject({ deleted: false, templates: 1 });
  });
});

describe('the outbox entry commits with its change', () => {
  it('a change that fails inside its transaction leaves neither the change nor its entry; a retried decision writes both', async () => {
    const t = tempDir('blink-unit-tx-');
    const config = parseConfig({ unit: { id: 'door-t', timezone: 'UTC' }, store: { dataDir: t.dir } }, 'test');
    const store = Store.fromConfig(config);
    try {
      store.syncOutbox.setQueueing(true);
      const bus = new EventBus();
      const registry = new PeopleRegistry(store, store.audit, bus, log, () => null, 'door-t');
      registry.activate(MODEL, 128);
      const u = { registry } as Unit;
      // The audit write after the person, template and outbox rows fails: all of it rolls back.
      const record = store.audit.record.bind(store.audit);
      store.audit.record = () => {
        throw new Error('disk went away');
      };
      expect(() => enroll(u, 'Half', 7)).toThrow('disk went away');
      store.audit.record = record;
      expect(registry.count()).toBe(0);
      expect(store.syncOutbox.depth()).toBe(0);
      const pid = enroll(u, 'Whole', 7);
      expect(store.syncOutbox.pendingPeople()).toEqual(new Set([pid]));

      // The attendance's outbox entry cannot be written (disk full): the decision and its row are not written either,
      // they wait in the recorder's memory queue, and are written together, entry included, when the disk is back.
      const recorder = new AccessRecorder(store, bus, config, log);
      const queue = store.syncOutbox.attendanceRecorded.bind(store.syncOutbox);
      store.syncOutbox.attendanceRecorded = () => {
        throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      };
      expect(
        recorder.record({ result: 'GRANTED', reason: 'granted', personId: pid, personName: 'Whole', source: 'camera' }, new Date('2026-03-02T08:00:00Z')),
      ).toBeNull();
      expect(store.events.count()).toBe(0);
      expect(store.attendance.query({}).length).toBe(0);
      store.syncOutbox.attendanceRecorded = queue;
      expect(recorder.flush()).toBe(1);
      const rows = store.attendance.query({});
      expect(rows.length).toBe(1);
      expect(store.syncOutbox.peek(10, 'attendance').map((r) => r.refId)).toEqual([rows[0]!.eventId]);
    } finally {
      store.close();
      t.cleanup();
    }
  });
});

describe('conflicts and refused records (sqlite server)', () => {
  let backend: TestBackend;
  let server: RunningServer;
  const units: Unit[] = [];

  beforeAll(async () => {
    backend = await createBackend('sqlite');
    server = await startServer(backend);
    await server.server.ctx.orgs.create(ORG, 'Acme');
  });
  afterAll(async () => {
    for (const u of units) await u.cleanup();
    await server?.close();
    await backend?.dispose();
  });

  it('concurrent edits on two units end the same on both (last writer wins); a record with an unreadable schedule is refused whole', async () => {
    const ctx = server.server.ctx;
    const a = await makeUnit(ctx, server.url, 'door-x');
    const b = await makeUnit(ctx, server.url, 'door-y');
    units.push(a, b);
    const pid = enroll(a, 'Bea', 11);
    await a.sync.start();
    await b.sync.start();
    await a.sync.syncNow();
    await b.sync.syncNow();
    expect(b.registry.get(pid)?.name).toBe('Bea');

    // Both edit version 1 → 2 while apart; A's edit is the later one, so it wins everywhere.
    b.registry.update(pid, { notes: 'from B' }, 'admin:b');
    await new Promise((r) => setTimeout(r, 5));
    a.registry.update(pid, { notes: 'from A' }, 'admin:a');
    await b.sync.syncNow();
    await a.sync.syncNow();
    await b.sync.syncNow();
    expect(a.registry.get(pid)?.notes).toBe('from A');
    expect(b.registry.get(pid)?.notes).toBe('from A');
    expect(a.sync.local.digest()).toEqual(b.sync.local.digest());

    // A record whose schedule this unit cannot read is refused whole (the person keeps their last good version).
    const rogue = await activeUnit(server.server, server.url, ORG, 'rogue');
    await rogue.client.syncOnce(rogue.store); // pulls Bea
    const cur = rogue.store.live(pid)!;
    rogue.store.update(pid, { notes: 'rogue' });
    rogue.store.records.set(pid, { ...rogue.store.records.get(pid)!, schedule: [{ days: ['funday'], start: '25:00', end: 'x' }], name: cur.name });
    await rogue.client.syncOnce(rogue.store);
    await b.sync.syncNow();
    expect(b.registry.get(pid)?.notes).toBe('from A');
    expect(b.registry.get(pid)?.schedule).toBeNull();
    const issues = (b.sync.health() as { issues: Array<{ personId: string; reason: string }> }).issues;
    expect(issues.at(-1)).toMatchObject({ personId: pid, reason: expect.stringContaining('schedule is not a list of weekly windows') });
  });
});

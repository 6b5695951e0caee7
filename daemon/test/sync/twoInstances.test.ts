/**
 * End to end with the client library: two units, each talking to its own sync server
 * instance (separate processes), both instances on one PostgreSQL. Enroll on A → B has the
 * person and the same embeddings; deactivate on B → A sees it; delete on A → gone from B and
 * from the server (a tombstone without templates); attendance from both arrives exactly once.
 * The operator side runs through the real `blinkd sync-server` command.
 * Needs `npm run build`.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDeviceKey } from '../../src/sync/requestSigning.js';
import { SyncClient } from '../../src/sync/client.js';
import { MemorySyncStore } from '../../src/sync/memoryLocalStore.js';
import { BLINKD } from '../helpers/blinkd.js';
import { createBackend, embedding, PASSPHRASE, startChildServer, syncUntilDone, type ChildServer, type TestBackend, type TestUnit } from './harness.js';

function operator(backend: TestBackend, ...args: string[]): string {
  const r = spawnSync(process.execPath, [BLINKD, 'sync-server', ...args, '--data', backend.dataDir], {
    env: { ...process.env, DATABASE_URL: backend.databaseUrl },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`blinkd sync-server ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

describe('two units, two sync server instances, one PostgreSQL', () => {
  let backend: TestBackend;
  let s1: ChildServer;
  let s2: ChildServer;
  let a: TestUnit;
  let b: TestUnit;

  beforeAll(async () => {
    backend = await createBackend('postgres');
    expect(operator(backend, 'orgs', 'create', 'acme', '--name', 'Acme Ltd')).toMatch(/created organisation acme/);
    s1 = await startChildServer(backend);
    s2 = await startChildServer(backend);
    const codeA = /^([0-9A-Z]{4}(-[0-9A-Z]{4}){3})/m.exec(operator(backend, 'claims', 'create', '--org', 'acme'))![1]!;
    const mk = (url: string, id: string) =>
      new SyncClient({
        serverUrl: url,
        org: 'acme',
        deviceId: id,
        key: generateDeviceKey(),
        passphrase: () => PASSPHRASE,
        backoff: { baseMs: 20, capMs: 200 },
      });
    const ca = mk(s1.url, 'front-door');
    expect((await ca.register(codeA)).status).toBe('ACTIVE');
    // B registers without a code and is approved by the operator.
    const cb = mk(s2.url, 'back-door');
    expect((await cb.register()).status).toBe('PENDING');
    expect(operator(backend, 'devices', 'list', '--org', 'acme')).toMatch(/acme\/back-door .*PENDING/);
    expect(operator(backend, 'devices', 'approve', 'acme/back-door')).toMatch(/ACTIVE/);
    a = { client: ca, store: new MemorySyncStore('front-door'), key: generateDeviceKey(), deviceId: 'front-door', org: 'acme' };
    b = { client: cb, store: new MemorySyncStore('back-door'), key: generateDeviceKey(), deviceId: 'back-door', org: 'acme' };
  });
  afterAll(async () => {
    await s1?.kill();
    await s2?.kill();
    await backend?.dispose();
  });

  it('enroll on A, pass at B; deactivate on B, A knows; delete on A, gone everywhere; attendance from both exactly once', async () => {
    const ada = a.store.enroll({
      name: 'Ada',
      templates: [
        { id: 'ada-1', modelId: 'face-int8-v1', embedding: embedding(1), quality: 0.9 },
        { id: 'ada-2', modelId: 'face-int8-v1', embedding: embedding(2), quality: 0.8 },
      ],
    });
    await syncUntilDone(a);
    await syncUntilDone(b);
    const atB = b.store.live(ada.id)!;
    expect(atB.status).toBe('ACTIVE');
    expect(atB.templates.map((t) => Array.from(t.embedding))).toEqual(ada.templates.map((t) => Array.from(t.embedding)));

    b.store.update(ada.id, { status: 'DEACTIVATED' });
    await syncUntilDone(b);
    await syncUntilDone(a);
    expect(a.store.live(ada.id)!.status).toBe('DEACTIVATED');
    expect(a.store.live(ada.id)!.unitId).toBe('back-door');

    const rowsA = Array.from({ length: 40 }, (_, i) =>
      a.store.recordAttendance({ personId: ada.id, timestamp: new Date(Date.UTC(2025, 2, 1, 8, i)).toISOString(), kind: 'CHECK_IN', punctuality: 'ON_TIME' }),
    );
    const rowsB = Array.from({ length: 35 }, (_, i) =>
      b.store.recordAttendance({ personId: ada.id, timestamp: new Date(Date.UTC(2025, 2, 1, 17, i)).toISOString(), kind: 'CHECK_OUT', punctuality: null }),
    );
    await Promise.all([syncUntilDone(a), syncUntilDone(b)]);

    a.store.remove(ada.id);
    await syncUntilDone(a);
    await syncUntilDone(b);
    expect(b.store.live(ada.id)).toBeNull();
    expect(b.store.records.get(ada.id)?.templates ?? []).toEqual([]);

    const token = /^(blk_\S+)/m.exec(operator(backend, 'tokens', 'create', '--org', 'acme', '--name', 'hq'))![1]!;
    const res = await fetch(`${s2.url}/api/v1/attendance?limit=1000`, { headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json()) as { rows: Array<{ id: string; unit_id: string }> };
    expect(body.rows.map((r) => r.id).sort()).toEqual([...rowsA, ...rowsB].map((r) => r.id).sort());
    expect(body.rows.filter((r) => r.unit_id === 'front-door')).toHaveLength(40);
    const users = (await (await fetch(`${s1.url}/api/v1/sync/users`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      users: Array<{ id: string }>;
    };
    expect(users.users.map((u) => u.id)).not.toContain(ada.id);
    expect(operator(backend, 'status')).toMatch(/acme .* 0 people {2}1 tombstones {2}75 attendance {2}2 devices/);

    expect(operator(backend, 'devices', 'revoke', 'acme/back-door')).toMatch(/REVOKED/);
    b.store.recordAttendance({ personId: ada.id, timestamp: new Date().toISOString(), kind: 'CHECK_IN', punctuality: 'ON_TIME' });
    await expect(b.client.syncOnce(b.store)).rejects.toThrow(/revoked/);
  });
});

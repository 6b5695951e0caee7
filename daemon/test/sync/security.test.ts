/**
 * Security, on PostgreSQL and on the SQLite fallback: every request is authenticated and each
 * attack is refused with a clear error, changing nothing. Device side: no credentials, unknown
 * device, changed body, replay, old timestamp, pending, revoked, another organisation, spent
 * claim codes, key rotation. Envelope side (a malicious or broken server): a tampered envelope,
 * an envelope moved onto another person, a replayed older version, a wrong passphrase; the
 * unit's people stay exactly as they were.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncClient, SyncError } from '../../src/sync/client.js';
import { MemorySyncStore } from '../../src/sync/memoryLocalStore.js';
import { generateDeviceKey, signRequest } from '../../src/sync/requestSigning.js';
import type { Sql } from '../../src/syncServer/db/sql.js';
import {
  activeUnit,
  createBackend,
  embedding,
  ENGINES,
  PASSPHRASE,
  signedFetch,
  startServer,
  syncUntilDone,
  type RunningServer,
  type TestBackend,
  type TestUnit,
} from './harness.js';

const ORG = 'acme';

/** What a malicious server (or anyone with write access to its database) could do to a record: change it and hand it out again. */
async function serveAltered(sql: Sql, id: string, set: Record<string, string | number>): Promise<void> {
  const seq = Number(
    (await sql.query<{ value: number }>(`UPDATE org_counters SET value = value + 1 WHERE org_id = $1 AND name = 'people' RETURNING value`, [ORG]))[0]!.value,
  );
  const cols = Object.keys(set);
  await sql.query(`UPDATE people SET ${cols.map((c, i) => `${c} = $${i + 3}`).join(', ')}, seq = $2 WHERE org_id = '${ORG}' AND id = $1`, [
    id,
    seq,
    ...Object.values(set),
  ]);
}

const snapshotOf = (s: MemorySyncStore) =>
  JSON.stringify(s.livePeople().map((p) => ({ ...p, templates: p.templates.map((t) => ({ ...t, embedding: Array.from(t.embedding) })) })));

async function status(url: string, path: string, init: RequestInit = {}): Promise<{ status: number; detail: string }> {
  const res = await fetch(new URL(path, url), init);
  const body = (await res.json().catch(() => ({}))) as { detail?: unknown };
  return { status: res.status, detail: typeof body.detail === 'string' ? body.detail : JSON.stringify(body.detail) };
}

describe.each(ENGINES)('security (%s)', (engine) => {
  let backend: TestBackend;
  let h: RunningServer;
  let a: TestUnit;
  let b: TestUnit;

  beforeAll(async () => {
    backend = await createBackend(engine);
    h = await startServer(backend, { auth: { maxPendingDevices: 2 } });
    await h.server.ctx.orgs.create(ORG, 'Acme');
    await h.server.ctx.orgs.create('globex', 'Globex');
    a = await activeUnit(h.server, h.url, ORG, 'door-a');
    b = await activeUnit(h.server, h.url, ORG, 'door-b');
    for (let i = 0; i < 3; i++)
      a.store.enroll({ id: `p-${i}`, name: `Person ${i}`, templates: [{ id: `t-${i}`, modelId: 'face-int8-v1', embedding: embedding(i), quality: 1 }] });
    await syncUntilDone(a);
    await syncUntilDone(b);
  });
  afterAll(async () => {
    await h?.close();
    await backend?.dispose();
  });

  it('no credentials: 401 on every unit route, before the body is read, and nothing is written', async () => {
    const before = await h.server.ctx.attendance.count(ORG);
    for (const [method, path] of [
      ['GET', `/api/v2/orgs/${ORG}/people`],
      ['POST', `/api/v2/orgs/${ORG}/people`],
      ['POST', `/api/v2/orgs/${ORG}/attendance`],
      ['GET', `/api/v2/orgs/${ORG}/keyring`],
      ['PUT', `/api/v2/orgs/${ORG}/keyring`],
      ['GET', '/api/v1/attendance'],
      ['GET', '/api/v1/sync/users'],
      ['POST', '/api/v1/sync/attendance'],
      ['POST', '/api/v2/register'],
    ]) {
      const r = await status(h.url, path!, { method, headers: { 'content-type': 'application/json' }, body: method === 'GET' ? undefined : '{"rows":[]}' });
      expect(r.status, `${method} ${path}`).toBe(401);
      expect(r.detail).toMatch(/authentication required|sign|legacy/);
    }
    expect(await h.server.ctx.attendance.count(ORG)).toBe(before);
  });

  it('an unknown device, a changed body, a replay and an old timestamp are 401 with the reason', async () => {
    const stranger = { key: generateDeviceKey(), deviceId: 'door-x', org: ORG };
    expect((await signedFetch(h.url, stranger, 'GET', `/api/v2/orgs/${ORG}/people`)).body.detail).toMatch(/unknown device acme\/door-x/);
    // Signed for one body, sent with another.
    const row = { id: 'att-1', person_id: 'p-0', timestamp: '2025-01-01T08:00:00Z', status: 'CHECK_IN', punctuality: 'ON_TIME' };
    const path = `/api/v2/orgs/${ORG}/attendance`;
    const auth = signRequest(a.key, ORG, 'door-a', 'POST', path, JSON.stringify({ rows: [row] }));
    const changed = await signedFetch(h.url, a, 'POST', path, { rows: [{ ...row, status: 'CHECK_OUT' }] }, { authorization: auth });
    expect(changed.status).toBe(401);
    expect(changed.body.detail).toMatch(/signature does not verify/);
    // The same request twice: the second is a replay.
    const once = await signedFetch(h.url, a, 'POST', path, { rows: [row] });
    expect(once.status).toBe(200);
    const replay = await signedFetch(h.url, a, 'POST', path, { rows: [row] }, { authorization: once.authorization });
    expect(replay.status).toBe(401);
    expect(replay.body.detail).toMatch(/replayed request/);
    const old = await signedFetch(h.url, a, 'GET', `/api/v2/orgs/${ORG}/people`, undefined, { ts: Date.now() - 10 * 60_000 });
    expect(old.status).toBe(401);
    expect(old.body.detail).toMatch(/request time differs.*check the unit's clock/);
    expect(await h.server.ctx.attendance.count(ORG)).toBe(1);
  });

  it("another organisation's path is 404, and its units see none of this organisation's data", async () => {
    expect((await signedFetch(h.url, a, 'GET', '/api/v2/orgs/globex/people')).status).toBe(404);
    expect((await signedFetch(h.url, a, 'POST', '/api/v2/orgs/globex/attendance', { rows: [] })).status).toBe(404);
    const g = await activeUnit(h.server, h.url, 'globex', 'door-a'); // the same device id in another organisation is another device
    await syncUntilDone(g);
    expect(g.store.livePeople()).toEqual([]);
  });

  it('a device without a claim code waits PENDING (403) until an operator approves it; a claim code works once and for its organisation only', async () => {
    const key = generateDeviceKey();
    const pending = new SyncClient({ serverUrl: h.url, org: ORG, deviceId: 'door-p', key, passphrase: () => PASSPHRASE });
    expect((await pending.register()).status).toBe('PENDING');
    const store = new MemorySyncStore('door-p');
    const refused = await pending.syncOnce(store).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(SyncError);
    expect((refused as SyncError).status).toBe(403);
    expect((refused as SyncError).message).toMatch(/waiting for an operator's approval/);
    expect(pending.status().device).toBe('PENDING');
    expect((await pending.deviceInfo()).status).toBe('PENDING');
    await h.server.ctx.devices.approve(ORG, 'door-p');
    await pending.syncOnce(store);
    expect(store.livePeople()).toHaveLength(3);

    const { code } = await h.server.ctx.devices.createClaimCode(ORG, 1);
    const first = new SyncClient({ serverUrl: h.url, org: ORG, deviceId: 'door-q', key: generateDeviceKey(), passphrase: () => PASSPHRASE });
    expect((await first.register(code)).status).toBe('ACTIVE');
    const second = new SyncClient({ serverUrl: h.url, org: ORG, deviceId: 'door-r', key: generateDeviceKey(), passphrase: () => PASSPHRASE });
    expect(((await second.register(code).catch((e: unknown) => e)) as SyncError).message).toMatch(/claim code unknown, used already/);
    const other = await h.server.ctx.devices.createClaimCode('globex', 1);
    expect(((await second.register(other.code).catch((e: unknown) => e)) as SyncError).status).toBe(403);
    // Someone else's key cannot take over an active device id.
    const thief = new SyncClient({ serverUrl: h.url, org: ORG, deviceId: 'door-a', key: generateDeviceKey(), passphrase: () => PASSPHRASE });
    const again = await h.server.ctx.devices.createClaimCode(ORG, 1);
    expect(((await thief.register(again.code).catch((e: unknown) => e)) as SyncError).status).toBe(409);
  });

  it('a revoked device is refused (403) from its next request, and says so in its status', async () => {
    const r = await activeUnit(h.server, h.url, ORG, 'door-rev');
    await syncUntilDone(r);
    await h.server.ctx.devices.revoke(ORG, 'door-rev');
    r.store.recordAttendance({ personId: 'p-0', timestamp: new Date().toISOString(), kind: 'CHECK_IN', punctuality: 'ON_TIME' });
    const err = (await r.client.syncOnce(r.store).catch((e: unknown) => e)) as SyncError;
    expect(err.status).toBe(403);
    expect(err.message).toMatch(/revoked/);
    expect(r.client.status()).toMatchObject({ device: 'REVOKED', lastError: { kind: 'forbidden' } });
    expect(r.store.outboxDepth()).toBe(1); // kept, never dropped
  });

  it('rotates a device key: the old key is refused afterwards, the new one works', async () => {
    const r = await activeUnit(h.server, h.url, ORG, 'door-rot');
    const oldKey = r.key;
    const newKey = generateDeviceKey();
    expect((await r.client.rotateDeviceKey(newKey)).status).toBe('ACTIVE');
    expect((await signedFetch(h.url, { key: oldKey, deviceId: 'door-rot', org: ORG }, 'GET', `/api/v2/orgs/${ORG}/people`)).status).toBe(401);
    expect((await signedFetch(h.url, { key: newKey, deviceId: 'door-rot', org: ORG }, 'GET', `/api/v2/orgs/${ORG}/people`)).status).toBe(200);
    await syncUntilDone(r);
    // Rotation must be signed by the new key too.
    const bad = await signedFetch(h.url, { key: newKey, deviceId: 'door-rot', org: ORG }, 'POST', `/api/v2/orgs/${ORG}/device/rotate`, {
      public_key: 'A'.repeat(43),
    });
    expect(bad.status).toBe(401);
  });

  it('a tampered envelope is refused with a clear error and the person stays as they were', async () => {
    const before = snapshotOf(b.store);
    const row = (await h.server.ctx.sql.query<{ templates_json: string }>('SELECT templates_json FROM people WHERE org_id = $1 AND id = $2', [ORG, 'p-0']))[0]!;
    const t = JSON.parse(row.templates_json) as Array<{ envelope: { ct: string } }>;
    const ct = Buffer.from(t[0]!.envelope.ct, 'base64');
    ct[5] = ct[5]! ^ 0x01;
    t[0]!.envelope.ct = ct.toString('base64');
    await serveAltered(h.server.ctx.sql, 'p-0', { templates_json: JSON.stringify(t), name: 'Mallory' });
    const r = await b.client.syncOnce(b.store);
    expect(r.rejected).toBe(1);
    expect(b.store.rejected.at(-1)).toMatchObject({ personId: 'p-0', reason: expect.stringMatching(/does not authenticate/) });
    expect(snapshotOf(b.store)).toBe(before);
  });

  it("an envelope moved onto another person's record is refused (AAD), the gallery unchanged", async () => {
    // p-1 moves on to version 3; p-2 stays at 1. The server then serves p-2 at version 3 with p-1's
    // envelopes (sealed for version 3): only the person id in the AAD tells them apart.
    a.store.update('p-1', { notes: 'one' });
    a.store.update('p-1', { notes: 'two' });
    await syncUntilDone(a);
    await syncUntilDone(b);
    const before = snapshotOf(b.store);
    const donor = (
      await h.server.ctx.sql.query<{ templates_json: string; version: number }>('SELECT templates_json, version FROM people WHERE org_id = $1 AND id = $2', [
        ORG,
        'p-1',
      ])
    )[0]!;
    expect(Number(donor.version)).toBe(3);
    await serveAltered(h.server.ctx.sql, 'p-2', { templates_json: donor.templates_json, version: 3 });
    await b.client.syncOnce(b.store);
    expect(b.store.rejected.at(-1)).toMatchObject({ personId: 'p-2', version: 3, reason: expect.stringMatching(/sealed for another person/) });
    expect(snapshotOf(b.store)).toBe(before);
    expect(b.store.live('p-2')!.version).toBe(1);
  });

  it('a replayed older version changes nothing, and an older envelope in a newer record is refused', async () => {
    const before = snapshotOf(b.store);
    const p1 = b.store.live('p-1')!;
    const oldRow = (
      await h.server.ctx.sql.query<{ templates_json: string; version: number }>('SELECT templates_json, version FROM people WHERE org_id = $1 AND id = $2', [
        ORG,
        'p-1',
      ])
    )[0]!;
    a.store.update('p-1', { name: 'Person 1 (renamed)' });
    await syncUntilDone(a);
    await syncUntilDone(b);
    expect(b.store.live('p-1')!.version).toBe(p1.version + 1);
    const current = snapshotOf(b.store);
    // The server hands out the old version again: last writer wins keeps the newer one.
    await serveAltered(h.server.ctx.sql, 'p-1', { version: Number(oldRow.version), name: 'Person 1', templates_json: oldRow.templates_json });
    await b.client.syncOnce(b.store);
    expect(snapshotOf(b.store)).toBe(current);
    // The old envelope in a record claiming a newer version: the record version is in the AAD.
    await serveAltered(h.server.ctx.sql, 'p-1', { version: p1.version + 5, name: 'Person 1', templates_json: oldRow.templates_json });
    await b.client.syncOnce(b.store);
    expect(b.store.rejected.at(-1)).toMatchObject({ personId: 'p-1', version: p1.version + 5, reason: expect.stringMatching(/record version/) });
    expect(snapshotOf(b.store)).toBe(current);
    expect(before).not.toBe(current);
  });

  it('a unit with a wrong passphrase cannot open the key ring, says so, and applies nothing', async () => {
    const { code } = await h.server.ctx.devices.createClaimCode(ORG, 1);
    const wrong = new SyncClient({
      serverUrl: h.url,
      org: ORG,
      deviceId: 'door-w',
      key: generateDeviceKey(),
      passphrase: () => 'not the organisation passphrase',
    });
    await wrong.register(code);
    const store = new MemorySyncStore('door-w');
    const err = (await wrong.syncOnce(store).catch((e: unknown) => e)) as SyncError;
    expect(err.kind).toBe('keyring');
    expect(err.message).toMatch(/passphrase does not open the key ring of organisation "acme"/);
    expect(store.livePeople()).toEqual([]);
    expect(wrong.status().lastError).toMatchObject({ kind: 'keyring' });
  });

  it('reader tokens: a revoked one is refused, none can write', async () => {
    const t = await h.server.ctx.tokens.create(ORG, 'hq');
    expect((await status(h.url, '/api/v1/attendance', { headers: { authorization: `Bearer ${t.token}` } })).status).toBe(200);
    await h.server.ctx.tokens.revoke(t.id);
    expect((await status(h.url, '/api/v1/attendance', { headers: { authorization: `Bearer ${t.token}` } })).status).toBe(401);
    expect((await status(h.url, '/api/v1/attendance', { headers: { authorization: 'Bearer blk_guess' } })).status).toBe(401);
  });

  it('registration without a code cannot flood the operator: at most maxPendingDevices wait, a claim code still works', async () => {
    const mk = (id: string) => new SyncClient({ serverUrl: h.url, org: ORG, deviceId: id, key: generateDeviceKey(), passphrase: () => PASSPHRASE });
    expect((await mk('flood-1').register()).status).toBe('PENDING');
    expect((await mk('flood-2').register()).status).toBe('PENDING');
    const third = mk('flood-3');
    const err = (await third.register().catch((e: unknown) => e)) as SyncError;
    expect(err.status).toBe(429);
    expect(err.message).toMatch(/too many devices of acme wait for approval/);
    const { code } = await h.server.ctx.devices.createClaimCode(ORG, 1);
    expect((await third.register(code)).status).toBe('ACTIVE');
  });
});

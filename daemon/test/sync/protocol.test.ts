/**
 * The v2 protocol against a real server on PostgreSQL and on the SQLite fallback: push and
 * pull through the client, the cursor and pages, last-writer-wins outcomes, tombstones and the
 * snapshot after a purge or a restore, limits and validation, the key ring's compare-and-set,
 * drift repair, and the head-office attendance export.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemorySyncStore } from '../../src/sync/memoryLocalStore.js';
import { personToWire } from '../../src/sync/records.js';
import type { PersonData } from '../../src/sync/localStore.js';
import {
  activeUnit,
  createBackend,
  embedding,
  ENGINES,
  signedFetch,
  startServer,
  syncUntilDone,
  type RunningServer,
  type TestBackend,
  type TestUnit,
} from './harness.js';

const ORG = 'acme';

function enrollMany(unit: TestUnit, n: number, prefix: string): PersonData[] {
  return Array.from({ length: n }, (_, i) =>
    unit.store.enroll({
      name: `${prefix} ${i}`,
      templates: [{ id: `${prefix}-t${i}`, modelId: 'face-int8-v1', embedding: embedding(i + prefix.length * 100), quality: 0.9 }],
    }),
  );
}

describe.each(ENGINES)('sync protocol v2 (%s)', (engine) => {
  let backend: TestBackend;
  let h: RunningServer;
  let a: TestUnit;
  let b: TestUnit;
  let token: string;

  beforeAll(async () => {
    backend = await createBackend(engine);
    h = await startServer(backend, { limits: { bodyBytes: 256 * 1024, pushPeopleMax: 50, pageMax: 100 } });
    await h.server.ctx.orgs.create(ORG, 'Acme');
    await h.server.ctx.orgs.create('globex', 'Globex');
    a = await activeUnit(h.server, h.url, ORG, 'door-a', { pageSize: 10 });
    b = await activeUnit(h.server, h.url, ORG, 'door-b', { pageSize: 10 });
    token = (await h.server.ctx.tokens.create(ORG, 'head office')).token;
  });
  afterAll(async () => {
    await h?.close();
    await backend?.dispose();
  });

  it('pushes people from one unit and pulls them on another, in pages, with the same embeddings', async () => {
    const people = enrollMany(a, 25, 'front');
    await syncUntilDone(a);
    expect(a.store.outboxDepth()).toBe(0);
    const before = b.store.pagesApplied;
    await syncUntilDone(b);
    expect(b.store.pagesApplied - before).toBeGreaterThanOrEqual(3); // 25 people in pages of 10
    for (const p of people) {
      const got = b.store.live(p.id)!;
      expect(got.name).toBe(p.name);
      expect(Array.from(got.templates[0]!.embedding)).toEqual(Array.from(p.templates[0]!.embedding));
    }
    expect(b.store.cursor()).toMatch(/^\d+$/);
    expect(b.store.digest()).toEqual(a.store.digest());
  });

  it('an incremental pull returns only what changed after the cursor', async () => {
    const target = a.store.livePeople()[0]!;
    a.store.update(target.id, { status: 'DEACTIVATED' });
    await syncUntilDone(a);
    const r = await b.client.syncOnce(b.store);
    expect(r.pulled).toBe(1);
    expect(b.store.live(target.id)!.status).toBe('DEACTIVATED');
    expect((await b.client.syncOnce(b.store)).pulled).toBe(0);
  });

  it('answers applied, duplicate and stale by version stamp, and a deletion wins at the same version', async () => {
    const ring = await a.client.keyRing();
    const p = a.store.livePeople()[1]!;
    const next: PersonData = { ...p, version: p.version + 1, updatedAt: new Date().toISOString(), name: 'Renamed' };
    const wire = personToWire(next, ring);
    const first = await signedFetch(h.url, a, 'POST', `/api/v2/orgs/${ORG}/people`, { people: [wire] });
    expect(first.status).toBe(200);
    expect(first.body.results).toEqual([{ id: p.id, version: next.version, outcome: 'applied' }]);
    const again = await signedFetch(h.url, a, 'POST', `/api/v2/orgs/${ORG}/people`, { people: [wire] });
    expect(again.body.results).toEqual([{ id: p.id, version: next.version, outcome: 'duplicate' }]);
    const old = await signedFetch(h.url, a, 'POST', `/api/v2/orgs/${ORG}/people`, { people: [personToWire(p, ring)] });
    expect(old.body.results).toEqual([{ id: p.id, version: p.version, outcome: 'stale' }]);
    // Same version, written by B as a deletion with an older clock: the deletion still wins.
    const tomb = personToWire({ ...next, deleted: true, unitId: 'door-b', updatedAt: '2000-01-01T00:00:00Z', templates: [] }, ring);
    const del = await signedFetch(h.url, b, 'POST', `/api/v2/orgs/${ORG}/people`, { people: [tomb] });
    expect(del.body.results).toEqual([{ id: p.id, version: next.version, outcome: 'applied' }]);
    const row = (
      await h.server.ctx.sql.query<{ deleted: number; name: string; templates_json: string }>(
        'SELECT deleted, name, templates_json FROM people WHERE org_id = $1 AND id = $2',
        [ORG, p.id],
      )
    )[0]!;
    expect(Number(row.deleted)).toBe(1);
    expect(row.name).toBe('');
    expect(row.templates_json).toBe('[]');
    await syncUntilDone(a);
    expect(a.store.live(p.id)).toBeNull();
  });

  it('a deletion travels as a tombstone; after the tombstone is purged a unit with an older cursor gets a snapshot and drops the person', async () => {
    const c = await activeUnit(h.server, h.url, ORG, 'door-c');
    await syncUntilDone(c);
    const victim = a.store.livePeople()[2]!;
    expect(c.store.live(victim.id)).not.toBeNull();
    a.store.remove(victim.id);
    await syncUntilDone(a);
    await syncUntilDone(b);
    expect(b.store.live(victim.id)).toBeNull();
    // C stays away; the tombstone is purged (as after tombstoneDays).
    const oldCursor = c.store.cursor()!;
    expect(await h.server.ctx.people.purgeTombstones(ORG, new Date(Date.now() + 86_400_000))).toBeGreaterThanOrEqual(1);
    const raw = await signedFetch(h.url, c, 'GET', `/api/v2/orgs/${ORG}/people?since=${oldCursor}&limit=5`);
    expect(raw.body.snapshot).toBe(true);
    // An edit C made while away, of the person deleted meanwhile, must not bring them back.
    const ring = await c.client.keyRing();
    const stale = personToWire({ ...c.store.live(victim.id)!, version: victim.version + 1, unitId: 'door-c', updatedAt: new Date().toISOString() }, ring);
    const pushed = await signedFetch(h.url, c, 'POST', `/api/v2/orgs/${ORG}/people`, { people: [stale], since: oldCursor });
    expect((pushed.body.results as Array<{ outcome: string }>)[0]!.outcome).toBe('stale');
    await syncUntilDone(c);
    expect(c.store.live(victim.id)).toBeNull();
    expect(c.store.digest()).toEqual(b.store.digest());
    // A cursor ahead of the server (restored from an older backup) also starts over.
    const ahead = await signedFetch(h.url, c, 'GET', `/api/v2/orgs/${ORG}/people?since=999999999`);
    expect(ahead.body.snapshot).toBe(true);
  });

  it('a unit that drifted is repaired by reconciliation (digest mismatch → snapshot)', async () => {
    await syncUntilDone(b);
    const gone = b.store.livePeople()[0]!;
    b.store.records.delete(gone.id); // local damage the cursor knows nothing about
    expect(await b.client.reconcile(b.store)).toBe(true);
    expect(b.store.live(gone.id)).not.toBeNull();
    expect(await b.client.reconcile(b.store)).toBe(false);
  });

  it('refuses what breaks the rules with 422 naming the field, and a body over the limit with 413', async () => {
    const ring = await a.client.keyRing();
    const p = enrollMany(a, 1, 'rules')[0]!;
    const wire = personToWire(p, ring);
    const badTime = await signedFetch(h.url, a, 'POST', `/api/v2/orgs/${ORG}/people`, { people: [{ ...wire, updated_at: '2025-13-45T99:99:99Z' }] });
    expect(badTime.status).toBe(422);
    expect((badTime.body.detail as Array<{ loc: unknown[]; msg: string }>)[0]).toMatchObject({ loc: ['body', 'people', 0, 'updated_at'] });
    const badKid = { ...wire, templates: [{ ...wire.templates[0]!, envelope: { ...(wire.templates[0]!.envelope as object), kid: 'kUnknown' } }] };
    const unknownKid = await signedFetch(h.url, a, 'POST', `/api/v2/orgs/${ORG}/people`, { people: [badKid] });
    expect(unknownKid.status).toBe(422);
    expect(JSON.stringify(unknownKid.body)).toMatch(/not in the organisation's key ring/);
    const badIv = { ...wire, templates: [{ ...wire.templates[0]!, envelope: { ...(wire.templates[0]!.envelope as object), iv: 'short' } }] };
    const shape = await signedFetch(h.url, a, 'POST', `/api/v2/orgs/${ORG}/people`, { people: [badIv] });
    expect(shape.status).toBe(422);
    expect((shape.body.detail as Array<{ loc: unknown[] }>).some((d) => d.loc.join('.') === 'body.people.0.templates.0.envelope.iv')).toBe(true);
    const tooMany = await signedFetch(h.url, a, 'POST', `/api/v2/orgs/${ORG}/people`, { people: Array.from({ length: 51 }, () => wire) });
    expect(tooMany.status).toBe(422);
    expect((tooMany.body.detail as Array<{ type: string }>)[0]!.type).toBe('too_long');
    const page = await signedFetch(h.url, a, 'GET', `/api/v2/orgs/${ORG}/people?limit=1000`);
    expect(page.status).toBe(200);
    expect((page.body.changes as unknown[]).length).toBeLessThanOrEqual(100); // served as pageMax
    expect((await signedFetch(h.url, a, 'GET', `/api/v2/orgs/${ORG}/people?limit=0`)).status).toBe(422);
    const big = await signedFetch(h.url, a, 'POST', `/api/v2/orgs/${ORG}/attendance`, { rows: [], pad: 'x'.repeat(300 * 1024) });
    expect(big.status).toBe(413);
    expect(String(big.body.detail)).toMatch(/larger than 262144 bytes/);
    const counts = await h.server.ctx.people.counts(ORG);
    expect((await h.server.ctx.sql.query('SELECT id FROM people WHERE org_id = $1 AND id = $2', [ORG, p.id])).length).toBe(0);
    expect(counts.people).toBeGreaterThan(0);
    a.store.ack(a.store.nextOutboxBatch(100).people.flatMap((e) => e.outboxIds));
  });

  it('the key ring is compare-and-set: a stale version is 409, dropping a key or another org is 422', async () => {
    const got = await signedFetch(h.url, a, 'GET', `/api/v2/orgs/${ORG}/keyring`);
    expect(got.status).toBe(200);
    const version = got.body.version as number;
    const doc = got.body.keyring as { keys: unknown[]; org: string };
    expect(JSON.stringify(doc)).not.toContain('passphrase');
    expect((got.body.usage as Record<string, number>)[(await a.client.keyRing()).currentKid()]).toBeGreaterThan(0);
    expect((await signedFetch(h.url, a, 'PUT', `/api/v2/orgs/${ORG}/keyring`, { if_version: version - 1, keyring: doc })).status).toBe(409);
    const dropped = await signedFetch(h.url, a, 'PUT', `/api/v2/orgs/${ORG}/keyring`, { if_version: version, keyring: { ...doc, keys: [] } });
    expect(dropped.status).toBe(422);
    expect((await signedFetch(h.url, a, 'PUT', `/api/v2/orgs/${ORG}/keyring`, { if_version: version, keyring: { ...doc, org: 'globex' } })).status).toBe(422);
    expect((await signedFetch(h.url, a, 'PUT', `/api/v2/orgs/${ORG}/keyring`, { if_version: version, keyring: doc })).body).toEqual({ version: version + 1 });
  });

  it('rotates the data key before its limit: new envelopes use the new key, every unit still opens the old ones', async () => {
    const rot = await activeUnit(h.server, h.url, ORG, 'door-rot', { keyRing: { rotateAt: 1 } });
    const oldKid = (await a.client.keyRing()).currentKid();
    const newRing = await rot.client.keyRing(); // usage of the current key is above 1: this unit rotates it
    expect(newRing.currentKid()).not.toBe(oldKid);
    const p = rot.store.enroll({ name: 'After rotation', templates: [{ id: 'rot-t1', modelId: 'face-int8-v1', embedding: embedding(77), quality: 1 }] });
    await syncUntilDone(rot);
    const row = (await h.server.ctx.sql.query<{ templates_json: string }>('SELECT templates_json FROM people WHERE org_id = $1 AND id = $2', [ORG, p.id]))[0]!;
    expect((JSON.parse(row.templates_json) as Array<{ envelope: { kid: string } }>)[0]!.envelope.kid).toBe(newRing.currentKid());
    // B still holds the old ring: an envelope under an unknown kid makes it read the ring again.
    await syncUntilDone(b);
    expect(Array.from(b.store.live(p.id)!.templates[0]!.embedding)).toEqual(Array.from(embedding(77)));
    expect(b.store.rejected).toEqual([]);
  });

  it('ingests attendance exactly once and exports it to head office as JSON pages and CSV', async () => {
    const pid = a.store.livePeople()[3]!.id;
    const rowsA = Array.from({ length: 15 }, (_, i) =>
      a.store.recordAttendance({
        personId: pid,
        timestamp: new Date(Date.UTC(2025, 0, 6, 8, i)).toISOString(),
        kind: 'CHECK_IN',
        punctuality: i % 2 ? 'LATE' : 'ON_TIME',
      }),
    );
    const rowsB = Array.from({ length: 10 }, (_, i) =>
      b.store.recordAttendance({ personId: pid, timestamp: new Date(Date.UTC(2025, 0, 7, 9, i)).toISOString(), kind: 'CHECK_OUT', punctuality: null }),
    );
    await syncUntilDone(a);
    await syncUntilDone(b);
    // A retry of rows already there is acknowledged as duplicate and changes nothing.
    const dup = await signedFetch(h.url, a, 'POST', `/api/v2/orgs/${ORG}/attendance`, {
      rows: [{ id: rowsA[0]!.id, person_id: pid, timestamp: rowsA[0]!.timestamp, status: 'CHECK_OUT', punctuality: null }],
    });
    expect(dup.body.results).toEqual([{ id: rowsA[0]!.id, outcome: 'duplicate' }]);
    const auth = { authorization: `Bearer ${token}` };
    const seen: string[] = [];
    let next: string | null = null;
    do {
      const res = await fetch(`${h.url}/api/v1/attendance?from=2025-01-01&to=2025-02-01&limit=7${next ? `&after=${encodeURIComponent(next)}` : ''}`, {
        headers: auth,
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { rows: Array<{ id: string; unit_id: string; person_name: string }>; next: string | null };
      seen.push(...body.rows.map((r) => r.id));
      next = body.next;
    } while (next);
    expect(seen.sort()).toEqual([...rowsA, ...rowsB].map((r) => r.id).sort());
    const onlyB = (await (await fetch(`${h.url}/api/v1/attendance?unit=door-b`, { headers: auth })).json()) as { rows: Array<{ id: string; unit_id: string }> };
    expect(onlyB.rows.map((r) => r.id).sort()).toEqual(rowsB.map((r) => r.id).sort());
    const firstDay = (await (await fetch(`${h.url}/api/v1/attendance?from=2025-01-06T00:00:00Z&to=2025-01-07T00:00:00Z`, { headers: auth })).json()) as {
      rows: unknown[];
    };
    expect(firstDay.rows).toHaveLength(15);
    const csv = await fetch(`${h.url}/api/v1/attendance?from=2025-01-01&format=csv`, { headers: auth });
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines[0]).toBe('id,person_id,person_name,timestamp,status,punctuality,unit_id,received_at,seq');
    expect(lines).toHaveLength(26);
    // Incremental export by arrival: everything after the first page's last change number.
    const all = (await (await fetch(`${h.url}/api/v1/attendance?since=0&limit=10`, { headers: auth })).json()) as {
      rows: Array<{ seq: number }>;
      next: string;
      has_more: boolean;
    };
    expect(all.has_more).toBe(true);
    const rest = (await (await fetch(`${h.url}/api/v1/attendance?since=${encodeURIComponent(all.next)}&limit=1000`, { headers: auth })).json()) as {
      rows: unknown[];
      next: string;
      has_more: boolean;
    };
    expect(all.rows.length + rest.rows.length).toBe(25);
    expect(rest.has_more).toBe(false);
    const nothingNew = (await (await fetch(`${h.url}/api/v1/attendance?since=${encodeURIComponent(rest.next)}`, { headers: auth })).json()) as {
      rows: unknown[];
      next: string;
    };
    expect(nothingNew).toMatchObject({ rows: [], next: rest.next });
    // Head office cannot write, and units cannot read the export.
    expect(
      (await fetch(`${h.url}/api/v1/sync/attendance`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '[]' })).status,
    ).toBe(403);
    expect((await signedFetch(h.url, a, 'GET', '/api/v1/attendance')).status).toBe(403);
  });

  it('the OpenAPI docs need a reader token (Basic or Bearer)', async () => {
    const none = await fetch(`${h.url}/docs/json`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/Basic/);
    const basic = await fetch(`${h.url}/docs/json`, { headers: { authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` } });
    expect(basic.status).toBe(200);
    const spec = (await basic.json()) as { paths: Record<string, unknown> };
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(['/api/v1/sync/users', '/api/v2/orgs/{org}/people', '/api/v1/attendance', '/health']));
  });

  it('keeps each organisation to itself: another organisation sees none of it', async () => {
    const g = await activeUnit(h.server, h.url, 'globex', 'door-g');
    await syncUntilDone(g);
    expect(g.store.livePeople()).toEqual([]);
    expect((await signedFetch(h.url, g, 'GET', `/api/v2/orgs/${ORG}/people`)).status).toBe(404);
    const gStore = new MemorySyncStore('door-g');
    expect(gStore.livePeople()).toEqual([]);
  });

  it('after the server is restored from an older backup, a unit ahead of it pushes everything again, then takes the snapshot', async () => {
    await syncUntilDone(b);
    const mine = b.store
      .livePeople()
      .map((p) => p.id)
      .sort();
    expect(mine.length).toBeGreaterThan(10);
    // The restore: the people table and its counter as they were long ago (empty).
    await h.server.ctx.sql.query('DELETE FROM people WHERE org_id = $1', [ORG]);
    await h.server.ctx.sql.query(`UPDATE org_counters SET value = 0 WHERE org_id = $1 AND name IN ('people', 'people_horizon')`, [ORG]);
    await syncUntilDone(b);
    expect(
      b.store
        .livePeople()
        .map((p) => p.id)
        .sort(),
    ).toEqual(mine);
    const onServer = (await h.server.ctx.sql.query<{ id: string }>('SELECT id FROM people WHERE org_id = $1 AND deleted = 0', [ORG])).map((r) => r.id).sort();
    expect(onServer).toEqual(mine);
    // A is ahead of the restored server too: it gives back what it holds (one person B never had), and both agree again.
    await syncUntilDone(a);
    await syncUntilDone(b);
    expect(a.store.digest()).toEqual(b.store.digest());
    expect(a.store.digest().count).toBe(mine.length + 1);
  });

  it('an operator can rotate the data key and change the passphrase without anyone re-enrolling', async () => {
    const oldKid = (await a.client.keyRing(true)).currentKid();
    const kid = await a.client.rotateDataKey();
    expect(kid).not.toBe(oldKid);
    await a.client.changePassphrase('a new passphrase for the organisation');
    const stale = await activeUnit(h.server, h.url, ORG, 'door-old-pass');
    await expect(stale.client.syncOnce(stale.store)).rejects.toThrow(/passphrase does not open the key ring/);
    const fresh = await activeUnit(h.server, h.url, ORG, 'door-new-pass', { passphrase: () => 'a new passphrase for the organisation' });
    await syncUntilDone(fresh);
    expect(fresh.store.digest()).toEqual(a.store.digest()); // every old envelope still opens
    expect(fresh.store.rejected).toEqual([]);
  });
});

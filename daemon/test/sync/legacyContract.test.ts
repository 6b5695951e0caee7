/**
 * The original relay's contract, spoken exactly by an original-shaped client (plain JSON, no
 * credentials) against the sync server in legacy mode, on PostgreSQL and on the SQLite
 * fallback; and the original app's v1 envelopes imported by a unit and re-wrapped as v2.
 */
import { createCipheriv, pbkdf2Sync, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeUnit, createBackend, embedding, ENGINES, startServer, syncUntilDone, type RunningServer, type TestBackend } from './harness.js';

const V1_PASSWORD = 'original-org-password';
const V1_SALT = 'BLINK_MOBILE_SALT_2024';

/** The original app's envelope, per its documentation: PBKDF2-SHA256 (10k, fixed salt) → AES-256-GCM, no AAD. */
function v1Envelope(plaintext: Buffer) {
  const key = pbkdf2Sync(V1_PASSWORD, V1_SALT, 10_000, 32, 'sha256');
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return { ciphertext: ct.toString('base64'), iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64') };
}

async function call(method: string, url: string, body?: unknown, raw?: string) {
  const res = await fetch(url, {
    method,
    headers: body !== undefined || raw !== undefined ? { 'content-type': 'application/json' } : {},
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe.each(ENGINES)('original contract in legacy mode (%s)', (engine) => {
  let backend: TestBackend;
  let h: RunningServer;
  let base: string;

  beforeAll(async () => {
    backend = await createBackend(engine);
    h = await startServer(backend, { legacyOrg: 'mobile' });
    await h.server.ctx.orgs.create('mobile', 'Original app', true);
    await h.server.ctx.orgs.create('closed', 'No legacy', false);
    base = h.url;
  });
  afterAll(async () => {
    await h?.close();
    await backend?.dispose();
  });

  it('GET /health has the original shape plus the database state', async () => {
    const r = await call('GET', `${base}/health`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: 'healthy', engine: 'BLINK Core', ai_engines_available: false, simulated_fallback: null });
    expect(r.body.database).toMatchObject({ engine, state: 'up' });
  });

  it('POST /api/v1/sync/users upserts by id (last writer wins, enrolled_at keeps its first value) and answers the original shape', async () => {
    const env = v1Envelope(Buffer.from(JSON.stringify(Array.from(embedding(1)))));
    const users = [
      { id: 'u-1', name: 'Ada', encrypted_envelope_json: env, model_mode: 'mobilefacenet', enrolled_at: '2024-03-01T08:00:00Z', status: 'ACTIVE' },
      { id: 'u-2', name: 'Bob', encrypted_envelope_json: null, model_mode: 'mobilefacenet', enrolled_at: '2024-03-02T08:00:00Z', status: 'DEACTIVATED' },
    ];
    const r = await call('POST', `${base}/api/v1/sync/users`, users);
    expect(r).toEqual({ status: 200, body: { success: true, synced_count: 2, synced_ids: ['u-1', 'u-2'] } });
    const again = await call('POST', `${base}/api/v1/sync/users`, [{ ...users[0], name: 'Ada Lovelace', enrolled_at: '2025-01-01T00:00:00Z' }]);
    expect(again.body).toEqual({ success: true, synced_count: 1, synced_ids: ['u-1'] });
    const list = await call('GET', `${base}/api/v1/sync/users`);
    expect(list.status).toBe(200);
    expect(list.body.success).toBe(true);
    const got = list.body.users as Array<Record<string, unknown>>;
    expect(got.map((u) => u.id).sort()).toEqual(['u-1', 'u-2']);
    const ada = got.find((u) => u.id === 'u-1')!;
    expect(Object.keys(ada).sort()).toEqual(['encrypted_envelope_json', 'enrolled_at', 'id', 'model_mode', 'name', 'status']);
    expect(ada).toEqual({
      id: 'u-1',
      name: 'Ada Lovelace',
      encrypted_envelope_json: env,
      model_mode: 'mobilefacenet',
      enrolled_at: '2024-03-01T08:00:00Z',
      status: 'ACTIVE',
    });
    expect(got.find((u) => u.id === 'u-2')).toMatchObject({ status: 'DEACTIVATED', encrypted_envelope_json: null });
  });

  it('POST /api/v1/sync/attendance inserts if absent and acknowledges a repeated id', async () => {
    const rows = [
      { id: 'a-1', person_id: 'u-1', timestamp: '2024-03-04T08:01:00Z', status: 'CHECK_IN', punctuality: 'ON_TIME' },
      { id: 'a-2', person_id: 'u-1', timestamp: '2024-03-04T17:01:00Z', status: 'CHECK_OUT', punctuality: 'ON_TIME' },
    ];
    expect(await call('POST', `${base}/api/v1/sync/attendance`, rows)).toEqual({
      status: 200,
      body: { success: true, synced_count: 2, synced_ids: ['a-1', 'a-2'] },
    });
    const changed = { ...rows[0], status: 'CHECK_OUT' };
    expect(await call('POST', `${base}/api/v1/sync/attendance`, [changed])).toEqual({
      status: 200,
      body: { success: true, synced_count: 1, synced_ids: ['a-1'] },
    });
    expect(await h.server.ctx.attendance.count('mobile')).toBe(2);
    const stored = await h.server.ctx.sql.query<{ status: string }>(`SELECT status FROM attendance WHERE org_id = 'mobile' AND id = 'a-1'`);
    expect(stored[0]!.status).toBe('CHECK_IN'); // the first write stays
  });

  it('answers invalid input with 422 in FastAPI shape and writes nothing', async () => {
    const before = (await h.server.ctx.people.counts('mobile')).people;
    const missing = await call('POST', `${base}/api/v1/sync/users`, [{ id: 'u-9', model_mode: 'm', enrolled_at: 'x', status: 'ACTIVE' }]);
    expect(missing.status).toBe(422);
    expect(missing.body.detail).toEqual([
      { type: 'missing', loc: ['body', 0, 'name'], msg: 'Field required', input: { id: 'u-9', model_mode: 'm', enrolled_at: 'x', status: 'ACTIVE' } },
    ]);
    const wrongType = await call('POST', `${base}/api/v1/sync/users`, [{ id: 'u-9', name: 7, model_mode: 'm', enrolled_at: 'x', status: 'ACTIVE' }]);
    expect(wrongType.status).toBe(422);
    expect(wrongType.body.detail).toEqual([{ type: 'string_type', loc: ['body', 0, 'name'], msg: 'Input should be a valid string', input: 7 }]);
    const notList = await call('POST', `${base}/api/v1/sync/attendance`, { id: 'a-9' });
    expect(notList.status).toBe(422);
    expect((notList.body.detail as Array<{ type: string; loc: unknown[] }>)[0]).toMatchObject({ type: 'list_type', loc: ['body'] });
    const badJson = await call('POST', `${base}/api/v1/sync/users`, undefined, '[{"id": ');
    expect(badJson.status).toBe(422);
    expect((badJson.body.detail as Array<{ type: string }>)[0]!.type).toBe('json_invalid');
    expect((await h.server.ctx.people.counts('mobile')).people).toBe(before);
  });

  it('serves an organisation by prefix /o/<org>/ too, and refuses unauthenticated access where legacy mode is off', async () => {
    expect((await call('GET', `${base}/o/mobile/api/v1/sync/users`)).status).toBe(200);
    const closed = await call('POST', `${base}/o/closed/api/v1/sync/users`, [{ id: 'x', name: 'X', model_mode: '', enrolled_at: '', status: 'ACTIVE' }]);
    expect(closed.status).toBe(401);
    expect(String(closed.body.detail)).toMatch(/legacy unauthenticated access is off/);
    expect((await call('GET', `${base}/o/closed/api/v1/sync/users`)).status).toBe(401);
    expect((await call('GET', `${base}/o/nowhere/api/v1/sync/users`)).status).toBe(404);
    expect((await h.server.ctx.people.counts('closed')).people).toBe(0);
  });

  it("imports the original app's v1 envelopes on a unit with the v1 password and salt, and re-wraps them as v2", async () => {
    const jsonEmb = embedding(11);
    const rawEmb = embedding(12);
    await call('POST', `${base}/api/v1/sync/users`, [
      {
        id: 'm-json',
        name: 'Json Person',
        encrypted_envelope_json: v1Envelope(Buffer.from(JSON.stringify(Array.from(jsonEmb)), 'utf8')),
        model_mode: 'mobilefacenet',
        enrolled_at: '2024-05-01T00:00:00Z',
        status: 'ACTIVE',
      },
      {
        id: 'm-raw',
        name: 'Raw Person',
        encrypted_envelope_json: v1Envelope(Buffer.from(rawEmb.buffer.slice(0))),
        model_mode: 'mobilefacenet',
        enrolled_at: '2024-05-01T00:00:00Z',
        status: 'ACTIVE',
      },
    ]);
    // The legacy org's units are ordinary devices of that org.
    const importer = await activeUnit(h.server, h.url, 'mobile', 'door-1', { v1: { password: V1_PASSWORD, salt: V1_SALT } });
    await syncUntilDone(importer);
    const json = importer.store.live('m-json')!;
    const raw = importer.store.live('m-raw')!;
    expect(json.templates).toHaveLength(1);
    expect(json.templates[0]!.modelId).toBe('legacy-v1:mobilefacenet');
    expect(Array.from(json.templates[0]!.embedding)).toEqual(Array.from(jsonEmb));
    expect(Array.from(raw.templates[0]!.embedding)).toEqual(Array.from(rawEmb));
    // The import is this unit's write (version + 1), pushed back re-sealed as v2.
    expect(json.unitId).toBe('door-1');
    const rows = await h.server.ctx.sql.query<{ id: string; templates_json: string; origin_unit: string; version: number }>(
      `SELECT id, templates_json, origin_unit, version FROM people WHERE org_id = 'mobile' AND id IN ('m-json', 'm-raw') ORDER BY id`,
    );
    for (const r of rows) {
      expect(r.origin_unit).toBe('door-1');
      expect(Number(r.version)).toBe(2);
      const t = JSON.parse(r.templates_json) as Array<{ envelope: { v?: number }; model_id: string }>;
      expect(t[0]!.envelope.v).toBe(2);
      expect(t[0]!.model_id).toBe('legacy-v1:mobilefacenet');
    }
    // Which encoding decoded is reported per template (Ada from the first test is a v1 record too).
    expect(importer.store.importedV1.get('m-json')).toEqual([{ templateId: 'v1:m-json', encoding: 'json' }]);
    expect(importer.store.importedV1.get('m-raw')).toEqual([{ templateId: 'v1:m-raw', encoding: 'float32le' }]);
    expect(importer.client.status().pulled.importedV1).toBe(3);
    // A second unit without any v1 configuration now reads the v2 envelopes.
    const other = await activeUnit(h.server, h.url, 'mobile', 'door-2');
    await syncUntilDone(other);
    expect(Array.from(other.store.live('m-json')!.templates[0]!.embedding)).toEqual(Array.from(jsonEmb));
    expect(other.store.rejected).toEqual([]);
  });

  it('a unit without the v1 password applies the person but not the template, and says why', async () => {
    await call('POST', `${base}/api/v1/sync/users`, [
      {
        id: 'm-late',
        name: 'Late Person',
        encrypted_envelope_json: v1Envelope(Buffer.from(JSON.stringify(Array.from(embedding(13))))),
        model_mode: 'mobilefacenet',
        enrolled_at: '2024-05-02T00:00:00Z',
        status: 'ACTIVE',
      },
    ]);
    const unit = await activeUnit(h.server, h.url, 'mobile', 'door-3');
    await syncUntilDone(unit);
    expect(unit.store.live('m-late')!.templates).toEqual([]);
    expect(unit.store.templateIssues.get('m-late')![0]).toMatch(/original-app \(v1\) envelope: set the v1 password and salt/);
  });
});

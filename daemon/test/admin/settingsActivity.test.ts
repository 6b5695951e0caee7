import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeopleTable } from '../../src/registry/peopleTable.js';
import { configSchema } from '../../src/config/schema.js';
import { UnitSettings } from '../../src/config/unitSettings.js';
import { Client, count, startAdmin, type Harness } from './adminHarness.js';

describe('settings, events, attendance and people editing', () => {
  let h: Harness;
  let c: Client;

  beforeAll(async () => {
    h = await startAdmin({ unit: { timezone: 'UTC' } });
    c = new Client(h.url);
    expect(await c.setup(h.setupToken())).toBe(200);
  });
  afterAll(async () => h?.close());

  it('refuses invalid settings with errors that name the key, and stores nothing', async () => {
    const bad = await c.req('PUT', '/api/v1/settings', { changes: { 'access.threshold': 1.5, 'access.attendance.shiftStart': '25:00' } });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toMatch(/access\.threshold: got 1\.5/);
    expect(bad.json.message).toMatch(/access\.attendance\.shiftStart/);
    const cross = await c.req('PUT', '/api/v1/settings', { changes: { 'door.pulseMs': 40_000 } });
    expect(cross.status).toBe(400);
    expect(cross.json.message).toMatch(/door\.pulseMs.*at most door\.maxUnlockMs/);
    const unknown = await c.req('PUT', '/api/v1/settings', { changes: { 'store.dataDir': '/tmp' } });
    expect(unknown.status).toBe(400);
    expect(unknown.json.message).toMatch(/store\.dataDir: not a setting the admin can change/);
    expect(count(h, 'settings')).toBe(0);
    expect(h.config.access.threshold).not.toBe(1.5);
  });

  it('applies live settings at once, emits settings.changed, persists them, and says which need a restart', async () => {
    const seen: Array<{ keys: string[]; actor: string }> = [];
    h.unit.bus.on(seen, 'settings.changed', (e) => void seen.push(e));
    const r = await c.req('PUT', '/api/v1/settings', {
      changes: {
        'access.threshold': 0.9,
        'access.attendance.shiftStart': '08:30',
        'mqtt.url': 'mqtt://broker.lan:1883',
        'mqtt.username': 'door',
        'mqtt.password': 's3cret',
      },
    });
    h.unit.bus.removeListeners(seen);
    expect(r.status, r.text).toBe(200);
    expect((r.json.applied as string[]).sort()).toEqual(['access.attendance.shiftStart', 'access.threshold']);
    expect((r.json.restartRequired as string[]).sort()).toEqual(['mqtt.password', 'mqtt.url', 'mqtt.username']);
    expect(h.config.access.threshold).toBe(0.9);
    expect(h.config.access.attendance.shiftStart).toBe('08:30');
    expect(seen).toEqual([
      { keys: ['access.threshold', 'access.attendance.shiftStart', 'mqtt.url', 'mqtt.username', 'mqtt.password'], actor: 'admin:facilities' },
    ]);
    // Restart-required keys are saved but the running unit keeps the old value until restart.
    expect(h.config.mqtt.url).toBe('mqtt://127.0.0.1:1883');
    const settings = (await c.req('GET', '/api/v1/settings')).json.settings as Array<{
      path: string;
      value: unknown;
      isSet?: boolean;
      overridden: boolean;
      pendingRestart: boolean;
    }>;
    expect(settings.find((s) => s.path === 'mqtt.url')).toMatchObject({ value: 'mqtt://broker.lan:1883', overridden: true, pendingRestart: true });
    expect(settings.find((s) => s.path === 'access.threshold')).toMatchObject({ value: 0.9, pendingRestart: false });
    const pw = settings.find((s) => s.path === 'mqtt.password')!;
    expect(pw.value).toBe('');
    expect(pw.isSet).toBe(true);
    expect(JSON.stringify(settings)).not.toContain('s3cret');
    // Persisted: a restart lays them over a fresh file config.
    const fresh = UnitSettings.resolve(configSchema.parse({}), h.unit.store.db).config;
    expect(fresh.access.threshold).toBe(0.9);
    expect(fresh.mqtt.url).toBe('mqtt://broker.lan:1883');
    const audit = await c.req('GET', '/api/v1/audit?action=settings.changed');
    expect((audit.json.entries as Array<{ details: { keys: string[] } }>)[0]!.details.keys).toContain('access.threshold');
  });

  it('lists events with filters and exports CSV (formula cells neutralised)', async () => {
    const store = h.unit.store;
    const p = new PeopleTable(store.db).create({ name: '=HYPERLINK("x")' });
    const q = new PeopleTable(store.db).create({ name: 'Quinn' });
    const day = new Date().toISOString().slice(0, 10);
    const g = store.events.insert({
      result: 'GRANTED',
      reason: 'match',
      personId: p.id,
      personName: p.name,
      score: 0.95,
      margin: 0.2,
      ts: `${day}T08:45:00.000Z`,
    });
    store.events.insert({ result: 'DENIED', reason: 'unknown_face', score: 0.41, ts: `${day}T08:50:00.000Z` });
    const g2 = store.events.insert({
      result: 'GRANTED',
      reason: 'match',
      personId: q.id,
      personName: q.name,
      score: 0.93,
      margin: 0.1,
      ts: `${day}T09:10:00.000Z`,
    });
    store.attendance.add({ personId: p.id, day, kind: 'CHECK_IN', status: 'ON_TIME', ts: g.ts, eventId: g.id });
    store.attendance.add({ personId: q.id, day, kind: 'CHECK_IN', status: 'LATE', ts: g2.ts, eventId: g2.id });

    const all = await c.req('GET', `/api/v1/events?from=${day}&to=${day}`);
    expect((all.json.events as unknown[]).length).toBe(3);
    const denied = await c.req('GET', `/api/v1/events?result=DENIED&from=${day}&to=${day}`);
    expect((denied.json.events as Array<{ reason: string; score: number }>).map((e) => [e.reason, e.score])).toEqual([['unknown_face', 0.41]]);
    const mine = await c.req('GET', `/api/v1/events?personId=${q.id}`);
    expect((mine.json.events as Array<{ personName: string }>).map((e) => e.personName)).toEqual(['Quinn']);
    const badRange = await c.req('GET', '/api/v1/events?from=2026-13-01');
    expect(badRange.status).toBe(400);

    const csv = await c.req('GET', `/api/v1/events.csv?from=${day}&to=${day}`);
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/);
    expect(csv.headers.get('content-disposition')).toMatch(/attachment; filename="events-/);
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0]).toBe('time,result,reason,person_id,person_name,score,margin,source,door,event_id');
    expect(lines).toHaveLength(4);
    expect(csv.text).toContain(`"'=HYPERLINK(""x"")"`);

    const att = await c.req('GET', `/api/v1/attendance?from=${day}&to=${day}`);
    const days = att.json.days as Array<{ personName: string; late: boolean; status: string }>;
    expect(days.map((d) => [d.personName, d.late])).toEqual([
      ['=HYPERLINK("x")', false],
      ['Quinn', true],
    ]);
    const attCsv = await c.req('GET', `/api/v1/attendance.csv?from=${day}&to=${day}`);
    expect(attCsv.text.split('\r\n')[0]).toBe('day,person_id,person_name,check_in,check_out,status');
    expect(attCsv.text).toContain('Quinn');
    expect(attCsv.text).toContain('LATE');

    const dash = await c.req('GET', '/api/v1/dashboard');
    expect(dash.json.counts).toMatchObject({ granted: 2, denied: 1, present: 2, late: 1 });
  });

  it('edits a person (validity, schedule), deactivates, and validates input', async () => {
    const store = h.unit.store;
    const p = new PeopleTable(store.db).create({ name: 'Rae' });
    const changes: unknown[] = [];
    h.unit.bus.on(changes, 'people.changed', (e) => void changes.push(e));
    const ok = await c.req('PATCH', `/api/v1/people/${p.id}`, {
      name: 'Rae Mills',
      validFrom: '2026-01-01',
      validUntil: '2026-12-31',
      schedule: [{ days: ['mon', 'fri'], start: '07:00', end: '18:00' }],
    });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.json).toMatchObject({ name: 'Rae Mills', validUntil: '2026-12-31', schedule: [{ days: ['mon', 'fri'], start: '07:00', end: '18:00' }] });
    const badSchedule = await c.req('PATCH', `/api/v1/people/${p.id}`, { schedule: [{ days: ['someday'], start: '07:00', end: '18:00' }] });
    expect(badSchedule.status).toBe(400);
    expect(badSchedule.json.message).toMatch(/schedule\.0\.days\.0/);
    const badRange = await c.req('PATCH', `/api/v1/people/${p.id}`, { validFrom: '2027-01-01' });
    expect(badRange.status).toBe(400);
    expect(badRange.json.message).toMatch(/validUntil: must be on or after validFrom/);
    const deact = await c.req('PATCH', `/api/v1/people/${p.id}`, { status: 'DEACTIVATED' });
    expect(deact.json.status).toBe('DEACTIVATED');
    h.unit.bus.removeListeners(changes);
    expect(changes).toEqual([
      { personId: p.id, action: 'updated' },
      { personId: p.id, action: 'updated' },
    ]);
    expect(h.unit.registry.get(p.id)).toMatchObject({ name: 'Rae Mills', status: 'DEACTIVATED', validFrom: '2026-01-01' });
    const audit = await c.req('GET', '/api/v1/audit?action=person.deactivated');
    expect((audit.json.entries as unknown[]).length).toBe(1);
  });

  it('health reports services, system, store, disk', async () => {
    const r = await c.req('GET', '/api/v1/health');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      status: expect.any(String),
      system: expect.objectContaining({ load: expect.any(Array) }),
      store: expect.objectContaining({ mqttOutbox: 0, syncOutbox: 0 }),
    });
    expect((r.json.disk as { freeMb: number }).freeMb).toBeGreaterThan(0);
    const adminHealth = (r.json.services as Record<string, unknown>).admin;
    expect(adminHealth).toMatchObject({ status: 'running', setupPending: false, enrollment: expect.any(String) });
    // The same service report is in the public /health: no account or session counts there.
    expect(adminHealth).not.toHaveProperty('users');
    expect(adminHealth).not.toHaveProperty('sessions');
    const models = r.json.models as Array<{ id: string; sha256: string }>;
    expect(models.length).toBeGreaterThan(0);
    for (const m of models) expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(r.json.pipeline).toMatchObject({ stagesMs: null });
  });
});

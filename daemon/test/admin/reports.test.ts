import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { PeopleTable } from '../../src/registry/peopleTable.js';
import { AttendanceReports } from '../../src/reports/attendanceReports.js';
import { Store } from '../../src/store/store.js';
import { localHours } from '../../src/time/localTime.js';
import { tempDir } from '../helpers/blinkd.js';
import { Client, startAdmin, type Harness } from './adminHarness.js';

/** The report computations on DST days (real SQLite store), and the report API's input validation and roles. */
describe('attendance reports on DST days (Europe/Berlin)', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => cleanups.splice(0).forEach((c) => c()));

  const setup = (now: string) => {
    const tmp = tempDir('blink-reports-');
    cleanups.push(tmp.cleanup);
    const store = Store.open(join(tmp.dir, 'blink.db'));
    cleanups.push(() => store.close());
    const people = new PeopleTable(store.db);
    const config = configSchema.parse({ unit: { timezone: 'Europe/Berlin' }, store: { dataDir: tmp.dir } });
    const reports = new AttendanceReports({ store, people: () => people.list({ limit: 10_000 }), config, now: () => new Date(now) });
    return { store, people, reports, config };
  };
  const checkIn = (store: Store, personId: string, day: string, ts: string) => {
    const e = store.events.insert({ result: 'GRANTED', reason: 'match', personId, ts, details: { latencyMs: 400 } });
    store.attendance.add({ personId, day, kind: 'CHECK_IN', status: 'ON_TIME', ts, eventId: e.id });
  };

  it('spring: 23 hours without 02:00; a check-in at 03:30 CEST is in the 03 hour', () => {
    expect(localHours('Europe/Berlin', '2026-03-29').map((h) => h.hour)).toEqual([
      0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
    ]);
    const { store, people, reports } = setup('2026-03-29T12:00:00Z');
    const a = people.create({ name: 'A' }).id;
    const b = people.create({ name: 'B' }).id;
    checkIn(store, a, '2026-03-29', '2026-03-29T00:30:00.000Z'); // 01:30 CET
    checkIn(store, b, '2026-03-29', '2026-03-29T01:30:00.000Z'); // 03:30 CEST
    // Four Sundays before: one check-in each at 09:xx local (CET in March: 08:xxZ).
    for (const d of ['2026-03-22', '2026-03-15', '2026-03-08', '2026-03-01']) checkIn(store, a, d, `${d}T08:15:00.000Z`);
    const r = reports.checkInsPerHour();
    expect(r.hours).toHaveLength(23);
    const at = (hour: number) => r.hours.find((h) => h.hour === hour)!;
    expect([at(1).today, at(3).today, at(9).today, at(9).usual, at(8).usual]).toEqual([1, 1, 0, 1, 0]);
    expect(reports.recognitionHealth().hours.find((h) => h.hour === 3)).toEqual({ hour: 3, label: '03:00', granted: 1, denied: 0, medianLatencyMs: 400 });
  });

  it('autumn: 25 hours, the repeated 02:00 twice; 02:30 CEST and 02:30 CET land in different rows; the night is 7 real hours', () => {
    const { store, people, reports } = setup('2026-10-26T12:00:00Z');
    const a = people.create({ name: 'A' }).id;
    const hours = localHours('Europe/Berlin', '2026-10-25');
    expect(hours).toHaveLength(25);
    store.events.insert({ result: 'DENIED', reason: 'unknown', ts: '2026-10-25T00:30:00.000Z' }); // 02:30 CEST
    store.events.insert({ result: 'DENIED', reason: 'unknown', ts: '2026-10-25T01:30:00.000Z' }); // 02:30 CET
    checkIn(store, a, '2026-10-25', '2026-10-24T22:30:00.000Z'); // 00:30 CEST
    const out = store.events.insert({ result: 'GRANTED', reason: 'match', personId: a, ts: '2026-10-25T05:30:00.000Z' }); // 06:30 CET
    store.attendance.add({ personId: a, day: '2026-10-25', kind: 'CHECK_OUT', status: null, ts: out.ts, eventId: out.id });
    const t = reports.timesheet({ from: '2026-10-25', to: '2026-10-25', personId: a });
    expect(t.days[0]).toMatchObject({ day: '2026-10-25', weekday: 'sun', scheduled: false, minutesPresent: 420, late: false, absent: false });
    expect(reports.deniedByReason(2)).toEqual({ days: ['2026-10-25', '2026-10-26'], reasons: [{ reason: 'unknown', perDay: [2, 0], total: 2 }] });
  });

  it('late is judged by the rules in force now (reports recompute) and counted from the shift start', () => {
    const { store, people, reports, config } = setup('2026-11-03T12:00:00Z');
    const a = people.create({ name: 'A' }).id;
    checkIn(store, a, '2026-11-02', '2026-11-02T08:25:00.000Z'); // 09:25 CET, stored as ON_TIME by an older rule
    expect(reports.timesheet({ from: '2026-11-02', to: '2026-11-02', personId: a }).days[0]).toMatchObject({ late: true, lateMinutes: 25 });
    config.access.attendance.graceMinutes = 30; // a live settings change edits the config in place
    expect(reports.timesheet({ from: '2026-11-02', to: '2026-11-02', personId: a }).days[0]).toMatchObject({ late: false, lateMinutes: 0 });
    expect(store.attendance.forPersonDay(a, '2026-11-02')[0]!.status).toBe('ON_TIME');
  });
});

describe('report API: validation and roles', () => {
  let h: Harness;
  let v: Client;
  beforeAll(async () => {
    h = await startAdmin({ unit: { timezone: 'Europe/Berlin' } });
    const admin = new Client(h.url);
    expect(await admin.setup(h.setupToken(), 'facilities', 'correct horse battery')).toBe(200);
    expect((await admin.req('POST', '/api/v1/users', { username: 'hr', password: 'correct horse battery', role: 'viewer' })).status).toBe(200);
    v = new Client(h.url);
    expect(await v.login('hr', 'correct horse battery')).toBe(200);
  }, 60_000);
  afterAll(async () => h?.close());

  it('a viewer reads every report; bad input gets a 400 naming what is wrong', async () => {
    for (const p of ['rules', 'checkins-per-hour', 'late-by-day', 'present', 'denied-by-reason', 'recognition-health', 'timesheet?period=week&day=2026-10-25'])
      expect((await v.req('GET', `/api/v1/reports/${p}`)).status).toBe(200);
    const bad = async (q: string) => {
      const r = await v.req('GET', `/api/v1/reports/timesheet${q}`);
      expect(r.status).toBe(400);
      return String(r.json.message);
    };
    expect(await bad('?period=custom&from=2026-01-01')).toMatch(/custom needs from and to/);
    expect(await bad('?period=custom&from=2026-02-01&to=2026-01-01')).toMatch(/on or before/);
    expect(await bad('?period=custom&from=2025-01-01&to=2026-06-01')).toMatch(/at most 366 days/);
    expect(await bad('?day=2026-02-30')).toMatch(/not a calendar date/);
    expect(await bad('?period=year')).toMatch(/period/);
    expect(await bad('?personId=nobody')).toMatch(/no such person/);
    expect((await v.req('GET', '/api/v1/reports/late-by-day?days=0')).status).toBe(400);
    expect((await v.req('GET', '/api/v1/reports/timesheet.csv?period=custom')).status).toBe(400);
    const csv = await v.req('GET', '/api/v1/reports/timesheet.csv?period=day&day=2026-10-25');
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-disposition')).toBe('attachment; filename="timesheet-2026-10-25_2026-10-25.csv"');
  });
});

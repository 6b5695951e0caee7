/**
 * Admin benchmarks (`npm run bench -- --only admin`):
 *  - admin_scrypt_hash_ms: one password hash at N=2^17, r=8, p=1 (the cost of a login);
 *  - admin_<endpoint>_ms_p50/p95: API latency over HTTP with a session (40 requests each) on a seeded
 *    year of a 2,000-person site (~500,000 events, ~400,000 attendance rows; admin_seed_s says how long
 *    seeding took): the dashboard, event list filters, people pages (people_page20: rows 1,901–2,000 via
 *    the cursor), the report endpoints and timesheets; admin_export_*: whole streamed exports of everyone;
 *  - admin_enroll_ms / admin_enroll_loop_lag_max_ms: enrolling a person from 3 real photos
 *    through the API (warm worker), and the main thread's worst event-loop delay meanwhile
 *    (what the door relay timers would see);
 *  - admin_ui_js_gzip_bytes / admin_ui_css_gzip_bytes: what a phone downloads.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { gzipSync } from 'node:zlib';
import { percentile, round2 } from '../util/stats.js';
import type { BenchResult, BenchSection } from './main.js';
import { configSchema } from '../config/schema.js';
import { Controller } from '../controller.js';
import { createLogger } from '../logging.js';
import { buildUnit } from '../compositionRoot.js';
import { PeopleTable } from '../registry/peopleTable.js';
import type { Store } from '../store/store.js';
import type { NewAccessEvent } from '../store/eventsRepo.js';
import type { AttendanceRecord } from '../store/attendanceRepo.js';
import { hashPassword } from '../admin/password.js';
import { testDataDir } from '../system/paths.js';

const p2 = (values: number[], p: number): number => round2(percentile(values, p));

async function timed(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

const REASONS = ['unknown', 'unknown', 'unknown', 'below_threshold', 'liveness_failed', 'liveness_failed', 'ambiguous_match', 'outside_schedule'];

/**
 * A year of a 2,000-person site, in one transaction (the repositories' one-row insert reads each
 * event back, which would take minutes): on each weekday about 770 people check in (08:00-09:40,
 * some late) and out (16:00-18:00), each with its GRANTED event (latency in details); about 270 denied
 * attempts a day; ~500,000 events and ~400,000 attendance rows, a day at a time through the
 * repositories' bulk inserts. Times are UTC (the bench unit's zone).
 */
function seedYear(store: Store, people: PeopleTable, now: Date): { events: number; attendance: number; someone: string; firstDay: string } {
  let events = 0;
  let attendance = 0;
  const ids: string[] = [];
  let seed = 42;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const firstDay = new Date(today - 364 * 86_400_000).toISOString().slice(0, 10);
  const latency = () => ({ latencyMs: 300 + Math.floor(rnd() * 500) });
  store.transaction(() => {
    for (let i = 0; i < 2000; i++) ids.push(people.create({ name: `Person ${String(i).padStart(4, '0')}` }).id);
    for (let d = 364; d >= 0; d--) {
      const start = today - d * 86_400_000;
      const day = new Date(start).toISOString().slice(0, 10);
      const wd = new Date(start).getUTCDay();
      const at = (min: number) => new Date(start + min * 60_000 + Math.floor(rnd() * 60_000)).toISOString();
      const evs: NewAccessEvent[] = [];
      const rows: Array<Omit<AttendanceRecord, 'id' | 'synced' | 'personName'>> = [];
      if (wd !== 0 && wd !== 6) {
        for (let p = 0; p < ids.length; p++) {
          if (rnd() > 0.385) continue;
          const pid = ids[p]!;
          const inMin = 480 + Math.floor(rnd() * 100);
          const inTs = at(inMin);
          const e1 = randomUUID();
          evs.push({ id: e1, ts: inTs, result: 'GRANTED', reason: 'match', personId: pid, personName: `Person ${p}`, score: 0.95, details: latency() });
          rows.push({ personId: pid, day, kind: 'CHECK_IN', status: inMin <= 550 ? 'ON_TIME' : 'LATE', ts: inTs, eventId: e1 });
          if (rnd() < 0.97 && d > 0) {
            const outTs = at(960 + Math.floor(rnd() * 120));
            const e2 = randomUUID();
            evs.push({ id: e2, ts: outTs, result: 'GRANTED', reason: 'match', personId: pid, personName: `Person ${p}`, score: 0.95, details: latency() });
            rows.push({ personId: pid, day, kind: 'CHECK_OUT', status: null, ts: outTs, eventId: e2 });
          }
        }
      }
      for (let k = 0; k < 270; k++)
        evs.push({ ts: at(Math.floor(rnd() * 1439)), result: 'DENIED', reason: REASONS[Math.floor(rnd() * REASONS.length)]!, score: 0.5 });
      store.events.insertMany(evs);
      store.attendance.addMany(rows);
      events += evs.length;
      attendance += rows.length;
    }
  });
  return { events, attendance, someone: ids[7]!, firstDay };
}

export const adminSection: BenchSection = {
  name: 'admin',
  async run(ctx) {
    const result: BenchResult = {};
    const hashes = await timed(3, () => hashPassword('a long enough password'));
    result.admin_scrypt_hash_ms = p2(hashes, 50);

    const dir = mkdtempSync(join(tmpdir(), 'blink-bench-admin-'));
    const config = configSchema.parse({ store: { dataDir: dir }, door: { driver: 'simulated' }, admin: { port: 0 } });
    const unit = buildUnit(config, createLogger('silent'), { runtime: 'none' });
    const controller = new Controller(unit, createLogger('silent'));
    await controller.start();
    try {
      const url = unit.http.address()!;
      const store = unit.store;
      const people = new PeopleTable(store.db);
      ctx.log('admin: seeding 2,000 people and a year of decisions and attendance');
      const t0Seed = performance.now();
      const seeded = seedYear(store, people, new Date());
      result.admin_seed_s = round2((performance.now() - t0Seed) / 1000);
      result.admin_seed_events = seeded.events;
      result.admin_seed_attendance = seeded.attendance;
      ctx.log(`admin: seeded ${seeded.events} events and ${seeded.attendance} attendance rows in ${result.admin_seed_s} s`);
      const token = readFileSync(join(dir, 'admin-setup-token'), 'utf8').trim();
      const res = await fetch(`${url}/api/v1/auth/setup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token, username: 'bench', password: 'a long enough password' }),
      });
      const cookie = /blink_session=[^;]+/.exec(res.headers.get('set-cookie') ?? '')![0];
      const csrf = ((await res.json()) as { csrfToken: string }).csrfToken;
      const get = (path: string) => fetch(url + path, { headers: { cookie } }).then((r) => r.arrayBuffer());
      // A deep page of the people list through its cursor (page 20 of 100: the position count is the extra work).
      const deep = (await fetch(`${url}/api/v1/people?limit=100&offset=1800`, { headers: { cookie } }).then((r) => r.json())) as { nextCursor: string };
      const today = new Date().toISOString().slice(0, 10);
      const weekAgo = new Date(Date.now() - 6 * 86_400_000).toISOString().slice(0, 10);
      const someone = seeded.someone;
      // The last full month (the current one may be a day old).
      const monthAgo = new Date(Date.now() - 31 * 86_400_000).toISOString().slice(0, 10);
      for (const [name, path] of [
        ['dashboard', '/api/v1/dashboard'],
        ['events', '/api/v1/events?limit=100'],
        ['events_person', `/api/v1/events?limit=50&personId=${someone}`],
        ['events_reason', '/api/v1/events?limit=50&result=DENIED&reason=liveness_failed'],
        ['events_rare_reason', '/api/v1/events?limit=50&reason=lockdown'],
        ['events_week', `/api/v1/events?limit=50&from=${weekAgo}&to=${today}&result=DENIED`],
        ['people', '/api/v1/people?limit=200'],
        ['people_page20', `/api/v1/people?limit=100&after=${encodeURIComponent(deep.nextCursor)}`],
        ['attendance_week', `/api/v1/attendance?from=${weekAgo}&to=${today}`],
        ['checkins_per_hour', '/api/v1/reports/checkins-per-hour'],
        ['late_by_day', '/api/v1/reports/late-by-day?days=30'],
        ['present', '/api/v1/reports/present'],
        ['denied_by_reason', '/api/v1/reports/denied-by-reason?days=7'],
        ['recognition_health', '/api/v1/reports/recognition-health'],
        ['timesheet_person_month', `/api/v1/reports/timesheet?period=month&day=${monthAgo}&personId=${someone}`],
        ['timesheet_person_year', `/api/v1/reports/timesheet?period=custom&from=${seeded.firstDay}&to=${today}&personId=${someone}`],
        ['summary_month', `/api/v1/reports/timesheet?period=month&day=${monthAgo}`],
      ] as const) {
        await timed(3, () => get(path));
        const t = await timed(40, () => get(path));
        result[`admin_${name}_ms_p50`] = p2(t, 50);
        result[`admin_${name}_ms_p95`] = p2(t, 95);
      }
      // Exports of everyone: a month (CSV and XLSX) and the year (CSV), streamed; and the worst event-loop delay meanwhile.
      for (const [name, path] of [
        ['export_month_csv', `/api/v1/reports/timesheet.csv?period=month&day=${monthAgo}`],
        ['export_month_xlsx', `/api/v1/reports/timesheet.xlsx?period=month&day=${monthAgo}`],
        ['export_year_csv', `/api/v1/reports/timesheet.csv?period=custom&from=${seeded.firstDay}&to=${today}`],
      ] as const) {
        const lag = monitorEventLoopDelay({ resolution: 5 });
        lag.enable();
        const t0 = performance.now();
        const bytes = (await get(path)).byteLength;
        result[`admin_${name}_ms`] = Math.round(performance.now() - t0);
        lag.disable();
        result[`admin_${name}_kb`] = Math.round(bytes / 1024);
        result[`admin_${name}_loop_lag_max_ms`] = Math.round(lag.max / 1e4) / 100;
      }

      const faces = join(testDataDir(), 'faces', 'amy');
      if (existsSync(join(faces, 'amy1.png'))) {
        const form = (name: string) => {
          const f = new FormData();
          f.set('name', name);
          for (const p of ['amy1.png', 'amy2.png', 'amy3.png']) f.append('photos', new Blob([readFileSync(join(faces, p))]), p);
          return f;
        };
        const enroll = (name: string) => fetch(`${url}/api/v1/people`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf }, body: form(name) });
        const warm = await enroll('Warm-up'); // starts the worker and loads its models
        const warmBody = (await warm.json()) as { person?: { id: string } };
        if (warmBody.person) await fetch(`${url}/api/v1/people/${warmBody.person.id}`, { method: 'DELETE', headers: { cookie, 'x-csrf-token': csrf } });
        const lag = monitorEventLoopDelay({ resolution: 5 });
        lag.enable();
        const t0 = performance.now();
        const r = await enroll('Amy');
        result.admin_enroll_ms = Math.round(performance.now() - t0);
        lag.disable();
        result.admin_enroll_status = r.status;
        result.admin_enroll_loop_lag_max_ms = Math.round(lag.max / 1e4) / 100;
      } else ctx.log('admin: no test faces; enrollment timing skipped');
    } finally {
      await controller.stop('bench');
      rmSync(dir, { recursive: true, force: true });
    }

    const ui = join(ctx.repoRoot, 'web-admin', 'dist');
    if (existsSync(join(ui, 'app.js'))) {
      result.admin_ui_js_gzip_bytes = gzipSync(readFileSync(join(ui, 'app.js'))).length;
      result.admin_ui_css_gzip_bytes = gzipSync(readFileSync(join(ui, 'app.css'))).length;
    }
    return result;
  },
};

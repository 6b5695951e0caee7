/**
 * Admin benchmarks (`npm run bench -- --only admin`):
 *  - admin_scrypt_hash_ms: one password hash at N=2^17, r=8, p=1 (the cost of a login);
 *  - admin_{dashboard,events,people,people_page20}_ms_p50/p95: API latency over HTTP with a session,
 *    on a store of 2,000 people and 20,000 events (people_page20: rows 1,901–2,000 via the cursor);
 *  - admin_enroll_ms / admin_enroll_loop_lag_max_ms: enrolling a person from 3 real photos
 *    through the API (warm worker), and the main thread's worst event-loop delay meanwhile
 *    (what the door relay timers would see);
 *  - admin_ui_js_gzip_bytes / admin_ui_css_gzip_bytes: what a phone downloads.
 */
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
      ctx.log('admin: seeding 2,000 people and 20,000 events');
      store.transaction(() => {
        const ids: string[] = [];
        for (let i = 0; i < 2000; i++) ids.push(people.create({ name: `Person ${i}` }).id);
        const t0 = Date.now() - 20_000 * 60_000;
        for (let i = 0; i < 20_000; i++) {
          const pid = ids[i % ids.length]!;
          store.events.insert({
            result: i % 7 ? 'GRANTED' : 'DENIED',
            reason: i % 7 ? 'match' : 'unknown_face',
            personId: pid,
            personName: `Person ${i % 2000}`,
            score: 0.95,
            ts: new Date(t0 + i * 60_000).toISOString(),
          });
        }
      });
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
      for (const [name, path] of [
        ['dashboard', '/api/v1/dashboard'],
        ['events', '/api/v1/events?limit=100'],
        ['people', '/api/v1/people?limit=200'],
        ['people_page20', `/api/v1/people?limit=100&after=${encodeURIComponent(deep.nextCursor)}`],
      ] as const) {
        await timed(5, () => get(path));
        const t = await timed(100, () => get(path));
        result[`admin_${name}_ms_p50`] = p2(t, 50);
        result[`admin_${name}_ms_p95`] = p2(t, 95);
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

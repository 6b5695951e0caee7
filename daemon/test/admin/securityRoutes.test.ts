import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, count, startAdmin, type Harness } from './adminHarness.js';

const PASSWORD = 'correct horse battery';

/** Every [method, path] the admin's Fastify instance serves, from its route tree (HEAD folded into GET). */
function allRoutes(app: FastifyInstance): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│ ├└─]*)(\S.*?) \(([A-Z, ]+)\)$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    const path = stack.join('');
    for (const method of m[3]!.split(', ')) if (method !== 'HEAD') out.push([method, path]);
  }
  return out;
}

/** A concrete URL for a route pattern. */
const concrete = (path: string) => path.replace(':id', '00000000-0000-4000-8000-000000000000').replace(/\*$/, 'index.html');

/** What anyone may reach without signing in. /health is the controller's (outside the admin). */
const PUBLIC = new Set([
  'GET /health',
  'GET /api/v1/auth/state',
  'POST /api/v1/auth/setup',
  'POST /api/v1/auth/login',
  'GET /',
  'GET /index.html',
  'GET /app.js',
  'GET /app.css',
]);
/** Changes a viewer may make (their own session and password). */
const VIEWER_CHANGES = new Set(['POST /api/v1/auth/logout', 'POST /api/v1/auth/password']);
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

describe('admin security: every route is covered by the guard', () => {
  let h: Harness;
  let routes: Array<[string, string]>;
  const admin = () => new Client(h.url);
  let a: Client;
  let viewer: Client;

  beforeAll(async () => {
    h = await startAdmin();
    routes = allRoutes(h.unit.http.instance()!);
    a = admin();
    expect(await a.setup(h.setupToken(), 'facilities', PASSWORD)).toBe(200);
    expect((await a.req('POST', '/api/v1/users', { username: 'guard', password: 'viewer password 1', role: 'viewer' })).status).toBe(200);
    viewer = new Client(h.url);
    expect(await viewer.login('guard', 'viewer password 1')).toBe(200);
  });
  afterAll(async () => h?.close());

  it('finds the routes (the list is not empty and has the known ones)', () => {
    const keys = routes.map(([m, p]) => `${m} ${p}`);
    expect(keys).toEqual(
      expect.arrayContaining([
        'POST /api/v1/door/unlock',
        'DELETE /api/v1/people/:id',
        'PATCH /api/v1/people/:id',
        'POST /api/v1/embeddings',
        'GET /api/v1/live/stream',
        'GET /docs/json',
        'GET /index.html',
      ]),
    );
    expect(routes.length).toBeGreaterThan(40);
  });

  it('without a session every route but the public allow-list answers 401, also with the path percent-encoded', async () => {
    const anon = new Client(h.url);
    const relay = () => h.unit.door.state().relay;
    for (const [m, p] of routes) {
      const key = `${m} ${p}`;
      const r = await anon.req(m, concrete(p), SAFE.has(m) ? undefined : {});
      if (PUBLIC.has(key)) expect(r.status, key).not.toBe(401);
      else expect(r.status, key).toBe(401);
      if (p.startsWith('/api/')) {
        // The router decodes %61 = "a": the guard must decide on the matched route, not the raw URL.
        const enc = await anon.req(m, concrete(p).replace('/api/', '/%61pi/'), SAFE.has(m) ? undefined : {});
        if (!PUBLIC.has(key)) expect(enc.status, `${key} as /%61pi`).toBe(401);
      }
    }
    expect(relay()).toBe('off');
    expect(count(h, 'admin_users')).toBe(2);
  });

  it('a viewer gets 403 on every change except their own logout/password; an admin without the CSRF token gets 403 on every change', async () => {
    for (const [m, p] of routes) {
      if (SAFE.has(m) || PUBLIC.has(`${m} ${p}`)) continue;
      const key = `${m} ${p}`;
      if (!VIEWER_CHANGES.has(key)) {
        const v = await viewer.req(m, concrete(p), {});
        expect(v.status, `viewer ${key}`).toBe(403);
        expect(v.json.error, `viewer ${key}`).toBe('forbidden');
      }
      const noCsrf = await a.req(m, concrete(p), {}, { csrf: false });
      expect(noCsrf.status, `no CSRF ${key}`).toBe(403);
      expect(noCsrf.json.error).toBe('csrf');
      // Multipart uploads too (a cross-site form can post multipart without a preflight).
      const form = new FormData();
      form.append('name', 'x');
      expect((await a.req(m, concrete(p), form, { csrf: false })).status, `multipart no CSRF ${key}`).toBe(403);
      const cross = await a.req(m, concrete(p), {}, { headers: { origin: 'http://evil.example' } });
      expect(cross.status, `cross-site ${key}`).toBe(403);
    }
    expect(h.unit.door.state().relay).toBe('off');
    expect(count(h, 'admin_users')).toBe(2);
  });

  it('GET routes change nothing', async () => {
    const tables = ['people', 'face_templates', 'face_thumbnails', 'settings', 'admin_users', 'admin_sessions'];
    const before = tables.map((t) => count(h, t));
    const door = JSON.stringify(h.unit.door.state());
    for (const [m, p] of routes) if (m === 'GET') await a.req('GET', concrete(p));
    expect(tables.map((t) => count(h, t))).toEqual(before);
    expect(JSON.stringify(h.unit.door.state())).toBe(door);
  });

  it('the OpenAPI docs need a session (they name the exact version; Swagger UI stays out of reach of cross-site links)', async () => {
    const anon = new Client(h.url);
    for (const p of ['/docs', '/docs/json', '/docs/static/index.html']) expect((await anon.req('GET', p)).status, p).toBe(401);
    const spec = await viewer.req('GET', '/docs/json');
    expect(spec.status).toBe(200);
    expect(Object.keys(spec.json.paths as object)).toContain('/api/v1/door/unlock');
  });

  it('static files cannot escape the UI folder (signed in: a stranger gets 401 for any unknown path)', async () => {
    const anon = new Client(h.url);
    expect((await anon.req('GET', '/..%2f..%2fpackage.json')).status).toBe(401);
    for (const p of [
      '/../package.json',
      '/..%2f..%2fpackage.json',
      '/%2e%2e/%2e%2e/package.json',
      '/..%5c..%5cpackage.json',
      '/index.html/../../package.json',
      '/%2e%2e%2f%2e%2e%2fdaemon/src/admin/guard.ts',
    ]) {
      const r = await a.req('GET', p);
      expect(r.status, p).toBe(404);
      expect(r.text).not.toMatch(/"name":\s*"blink|installGuard/);
    }
    const ui = await anon.req('GET', '/');
    expect(ui.status).toBe(200);
    expect(ui.headers.get('content-security-policy')).toMatch(/script-src 'self'.*frame-ancestors 'none'/);
  });

  it('security headers on API, UI and errors; HSTS only under TLS; JSON bodies are limited; errors leak no internals', async () => {
    for (const p of ['/api/v1/auth/state', '/', '/api/v1/nope', '/api/v1/people']) {
      const r = await new Client(h.url).req('GET', p);
      expect(r.headers.get('x-content-type-options'), p).toBe('nosniff');
      expect(r.headers.get('x-frame-options'), p).toBe('DENY');
      expect(r.headers.get('referrer-policy'), p).toBe('no-referrer');
      expect(r.headers.get('strict-transport-security'), p).toBeNull(); // plain HTTP here (tls.test.ts: HSTS under TLS)
    }
    // A 1 MB JSON body to a public route: refused before it is parsed (the door's event loop parses JSON).
    const big = await new Client(h.url).req('POST', '/api/v1/auth/login', { username: 'a', password: 'b', pad: 'x'.repeat(1_000_000) });
    expect(big.status).toBe(413);
    expect(big.json.message).toMatch(/256 KiB/);
    // …and to an authenticated one (settings).
    expect((await a.req('PUT', '/api/v1/settings', { changes: { x: 'y'.repeat(400_000) } })).status).toBe(413);
    // Unauthenticated bodies are not even read: no session → 401 whatever the body.
    expect((await new Client(h.url).req('PUT', '/api/v1/settings', { changes: { x: 'y'.repeat(100_000) } })).status).toBe(401);
    // Broken JSON / wrong types: 400 with a message, no stack, no SQL.
    const res = await fetch(`${h.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"username": ' });
    const text = await res.text();
    expect(res.status).toBe(400);
    for (const leak of [/\bat .*\.(js|ts):\d+/, /SQLITE|SELECT |INSERT /i, /node_modules/]) expect(text).not.toMatch(leak);
    const bad = await a.req('DELETE', '/api/v1/users/abc');
    expect(bad.status).toBe(400);
    expect(bad.text).not.toMatch(/node_modules|\.ts:\d+/);
  });
});

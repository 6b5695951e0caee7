import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, count, startAdmin, type Harness } from './adminHarness.js';

const PASSWORD = 'correct horse battery';

describe('admin security', () => {
  let h: Harness;
  let admin: Client;

  beforeAll(async () => {
    h = await startAdmin({ admin: { loginMaxFailures: 10, lockoutMinutes: 15 } });
    admin = new Client(h.url);
  });
  afterAll(async () => h?.close());

  it('first run: setup needs the one-time token from the data dir/log, and works once', async () => {
    const anon = new Client(h.url);
    const state = await anon.req('GET', '/api/v1/auth/state');
    expect(state.json.setupRequired).toBe(true);
    expect(await anon.setup('not-the-token')).toBe(403);
    expect(count(h, 'admin_users')).toBe(0);
    const weak = await anon.req('POST', '/api/v1/auth/setup', { token: h.setupToken(), username: 'facilities', password: 'short' });
    expect(weak.status).toBe(400);
    expect(weak.json.message).toMatch(/at least 10 characters/);
    expect(count(h, 'admin_users')).toBe(0);

    const token = h.setupToken();
    expect(await admin.setup(token)).toBe(200);
    expect(admin.lastSetCookie).toMatch(/HttpOnly/i);
    expect(admin.lastSetCookie).toMatch(/SameSite=Strict/i);
    expect(admin.csrf).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    // The token is spent: a second setup (even with it) is refused, and the file is gone.
    expect(await new Client(h.url).setup(token, 'mallory', 'another long password')).toBe(409);
    expect(() => h.setupToken()).toThrow();
    const users = h.unit.store.db.prepare('SELECT username, role, password_hash FROM admin_users').all() as Array<{
      username: string;
      role: string;
      password_hash: string;
    }>;
    expect(users).toHaveLength(1);
    expect(users[0]!.role).toBe('admin');
    expect(users[0]!.password_hash).toMatch(/^scrypt\$17\$8\$1\$/);
    expect(users[0]!.password_hash).not.toContain(PASSWORD);
  });

  it('unauthenticated requests get 401 and change nothing', async () => {
    const anon = new Client(h.url);
    for (const [m, p] of [
      ['GET', '/api/v1/people'],
      ['GET', '/api/v1/dashboard'],
      ['GET', '/api/v1/events'],
      ['GET', '/api/v1/settings'],
      ['POST', '/api/v1/door/unlock'],
      ['DELETE', '/api/v1/people/x'],
    ] as const) {
      const r = await anon.req(m, p, m === 'POST' ? {} : undefined);
      expect(r.status, `${m} ${p}`).toBe(401);
      expect(r.json.message).toMatch(/sign in/);
    }
    expect(h.unit.door.state().relay).toBe('off');
  });

  it('a state-changing request without the CSRF token is refused with 403', async () => {
    const auditBefore = count(h, 'audit_log');
    const missing = await admin.req('POST', '/api/v1/door/unlock', {}, { csrf: false });
    expect(missing.status).toBe(403);
    expect(missing.json.error).toBe('csrf');
    const wrong = await admin.req('POST', '/api/v1/door/unlock', {}, { csrf: false, headers: { 'x-csrf-token': 'x'.repeat(43) } });
    expect(wrong.status).toBe(403);
    const crossSite = await admin.req('POST', '/api/v1/door/unlock', {}, { headers: { origin: 'http://evil.example' } });
    expect(crossSite.status).toBe(403);
    expect(h.unit.door.state().relay).toBe('off');
    expect(count(h, 'audit_log')).toBe(auditBefore);
    // With the token it works, and the unlock is audited by name.
    const ok = await admin.req('POST', '/api/v1/door/unlock', {});
    expect(ok.status).toBe(200);
    expect(h.unit.door.state().relay).toBe('on');
    const audit = await admin.req('GET', '/api/v1/audit?action=command.unlock');
    expect((audit.json.entries as Array<{ actor: string }>)[0]!.actor).toBe('admin:facilities');
  });

  it('a viewer may read but gets 403 on admin actions', async () => {
    const created = await admin.req('POST', '/api/v1/users', { username: 'guard', password: 'viewer password 1', role: 'viewer' });
    expect(created.status).toBe(200);
    const viewer = new Client(h.url);
    expect(await viewer.login('guard', 'viewer password 1')).toBe(200);
    expect((await viewer.req('GET', '/api/v1/dashboard')).status).toBe(200);
    const settingsBefore = count(h, 'settings');
    for (const [m, p, b] of [
      ['POST', '/api/v1/door/unlock', {}],
      ['PUT', '/api/v1/settings', { changes: { 'access.threshold': 0.7 } }],
      ['POST', '/api/v1/users', { username: 'x', password: 'long enough pw', role: 'admin' }],
      ['GET', '/api/v1/audit', undefined],
    ] as const) {
      const r = await viewer.req(m, p, b);
      expect(r.status, `${m} ${p}`).toBe(403);
      expect(r.json.message).toMatch(/viewer role/);
    }
    expect(count(h, 'settings')).toBe(settingsBefore);
    expect(count(h, 'admin_users')).toBe(2);
  });

  it('10 bad logins → 429; the right password stays refused until the lock-out ends', async () => {
    const c = new Client(h.url);
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await c.req('POST', '/api/v1/auth/login', { username: 'facilities', password: `wrong ${i}` })).status);
    expect(statuses.slice(0, 9)).toEqual(Array(9).fill(401));
    expect(statuses[9]).toBe(429);
    const locked = await c.req('POST', '/api/v1/auth/login', { username: 'facilities', password: PASSWORD });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(800);
    expect(c.cookie).toBe('');
    h.advance(14 * 60_000);
    expect(await c.login('facilities', PASSWORD)).toBe(429);
    h.advance(2 * 60_000);
    expect(await c.login('facilities', PASSWORD)).toBe(200);
    // Unknown user names lock the same way (nothing to learn about which accounts exist).
    const u = new Client(h.url);
    for (let i = 0; i < 9; i++) expect(await u.login('nobody', 'whatever pw')).toBe(401);
    expect(await u.login('nobody', 'whatever pw')).toBe(429);
  });

  it('login regenerates the session; logout and the idle timeout end it', async () => {
    const c = new Client(h.url);
    expect(await c.login('facilities', PASSWORD)).toBe(200);
    const first = c.cookie;
    expect(await c.login('facilities', PASSWORD)).toBe(200);
    expect(c.cookie).not.toBe(first);
    const stale = new Client(h.url);
    stale.cookie = first;
    expect((await stale.req('GET', '/api/v1/people')).status).toBe(401);
    // Idle timeout (30 min default).
    expect((await c.req('GET', '/api/v1/people')).status).toBe(200);
    h.advance(31 * 60_000);
    expect((await c.req('GET', '/api/v1/people')).status).toBe(401);
    expect(await c.login('facilities', PASSWORD)).toBe(200);
    expect((await c.req('POST', '/api/v1/auth/logout', {})).status).toBe(200);
    expect((await c.req('GET', '/api/v1/people')).status).toBe(401);
  });

  it('serves security headers and the OpenAPI docs', async () => {
    const r = await admin.req('GET', '/api/v1/auth/state');
    expect(r.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(r.headers.get('x-frame-options')).toBe('DENY');
    expect(r.headers.get('cache-control')).toBe('no-store');
    // The docs need a session (security review): the earlier tests moved the clock past its idle limit.
    expect(await admin.login('facilities', PASSWORD)).toBe(200);
    const spec = await admin.req('GET', '/docs/json');
    expect(spec.status).toBe(200);
    const paths = Object.keys(spec.json.paths as object);
    expect(paths).toEqual(expect.arrayContaining(['/api/v1/people', '/api/v1/embeddings', '/api/v1/events.csv', '/api/v1/settings']));
  });
});

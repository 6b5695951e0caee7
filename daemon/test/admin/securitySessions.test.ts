import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, count, startAdmin, type Harness } from './adminHarness.js';

const PASSWORD = 'correct horse battery';

describe('admin security: sessions', () => {
  let h: Harness;
  let a: Client;
  const db = () => h.unit.store.db;

  beforeAll(async () => {
    h = await startAdmin();
    a = new Client(h.url);
    expect(await a.setup(h.setupToken(), 'facilities', PASSWORD)).toBe(200);
  });
  afterAll(async () => h?.close());

  it('the cookie holds 256 random bits, HttpOnly, SameSite=Strict, Path=/, no Domain; the database only its SHA-256', async () => {
    const c = new Client(h.url);
    expect(await c.login('facilities', PASSWORD)).toBe(200);
    const token = c.cookie.replace('blink_session=', '');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 bytes base64url
    expect(c.lastSetCookie).toMatch(/HttpOnly/);
    expect(c.lastSetCookie).toMatch(/SameSite=Strict/);
    expect(c.lastSetCookie).toMatch(/Path=\//);
    expect(c.lastSetCookie).not.toMatch(/Domain=/i);
    expect(c.lastSetCookie).not.toMatch(/Secure/); // plain HTTP here; tls.test.ts checks Secure under TLS
    const rows = db().prepare('SELECT id_hash, csrf_token FROM admin_sessions').all() as Array<{ id_hash: string; csrf_token: string }>;
    const dump = JSON.stringify(db().prepare('SELECT * FROM admin_sessions').all());
    expect(dump).not.toContain(token);
    expect(rows.map((r) => r.id_hash)).toContain(createHash('sha256').update(token).digest('hex'));
    expect(c.csrf).not.toBe(token);
  });

  it('logout deletes the session on the server: a copied cookie is dead too', async () => {
    const c = new Client(h.url);
    expect(await c.login('facilities', PASSWORD)).toBe(200);
    const copy = new Client(h.url);
    copy.cookie = c.cookie;
    expect((await copy.req('GET', '/api/v1/people')).status).toBe(200);
    const before = count(h, 'admin_sessions');
    expect((await c.req('POST', '/api/v1/auth/logout', {})).status).toBe(200);
    expect(count(h, 'admin_sessions')).toBe(before - 1);
    expect((await copy.req('GET', '/api/v1/people')).status).toBe(401);
  });

  it('the absolute limit ends even a session kept busy (server-side, on every request)', async () => {
    const c = new Client(h.url);
    expect(await c.login('facilities', PASSWORD)).toBe(200);
    // Active every 20 min (idle limit 30): alive until 12 h, then refused.
    for (let t = 0; t < 11 * 60 + 40; t += 20) {
      h.advance(20 * 60_000);
      expect((await c.req('GET', '/api/v1/people')).status, `after ${t + 20} min`).toBe(200);
    }
    h.advance(20 * 60_000 + 1000);
    expect((await c.req('GET', '/api/v1/people')).status).toBe(401);
  });

  it('role and disabled are read from the database on every request; deleting a user kills their sessions', async () => {
    expect(await a.login('facilities', PASSWORD)).toBe(200);
    expect((await a.req('POST', '/api/v1/users', { username: 'deputy', password: 'second in command 1', role: 'admin' })).status).toBe(200);
    const deputy = new Client(h.url);
    expect(await deputy.login('deputy', 'second in command 1')).toBe(200);
    expect((await deputy.req('GET', '/api/v1/audit')).status).toBe(200);
    const users = h.admin.admin.users;
    const id = users.credentials('deputy')!.user.id;
    users.update(id, { role: 'viewer' });
    expect((await deputy.req('GET', '/api/v1/audit')).status).toBe(403);
    expect((await deputy.req('POST', '/api/v1/door/unlock', {})).status).toBe(403);
    users.update(id, { role: 'admin', disabled: true });
    expect((await deputy.req('GET', '/api/v1/people')).status).toBe(401);
    users.update(id, { disabled: false });
    expect((await deputy.req('GET', '/api/v1/people')).status).toBe(200);
    // Delete: the rows go (ON DELETE CASCADE), so an account created next with the same id inherits nothing.
    expect((await a.req('DELETE', `/api/v1/users/${id}`)).status).toBe(200);
    expect((db().prepare('SELECT count(*) AS n FROM admin_sessions WHERE user_id = ?').get(id) as { n: number }).n).toBe(0);
    const again = await a.req('POST', '/api/v1/users', { username: 'newcomer', password: 'fresh face account', role: 'admin' });
    expect(again.json.id).toBe(id); // SQLite reuses the highest id
    expect((await deputy.req('GET', '/api/v1/people')).status).toBe(401);
  });

  it("changing the password signs out the user's other sessions but keeps this one", async () => {
    const other = new Client(h.url);
    expect(await other.login('facilities', PASSWORD)).toBe(200);
    expect((await a.req('POST', '/api/v1/auth/password', { currentPassword: PASSWORD, newPassword: 'an even better password' })).status).toBe(200);
    expect((await other.req('GET', '/api/v1/people')).status).toBe(401);
    expect((await a.req('GET', '/api/v1/people')).status).toBe(200);
  });
});

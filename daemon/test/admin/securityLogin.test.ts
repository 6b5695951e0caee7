import { existsSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PasswordBusyError, hashPassword, scryptRuns, verifyPassword } from '../../src/admin/password.js';
import { Client, count, startAdmin, type Harness } from './adminHarness.js';

const PASSWORD = 'correct horse battery';

/** A request from a chosen client address (Fastify's inject), keeping its own cookie. */
class From {
  cookie = '';
  csrf = '';
  constructor(
    private readonly app: FastifyInstance,
    readonly address: string,
  ) {}
  async req(method: 'GET' | 'POST', url: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
    const headers: Record<string, string> = {};
    if (this.cookie) headers.cookie = this.cookie;
    if (this.csrf && method !== 'GET') headers['x-csrf-token'] = this.csrf;
    const r = await this.app.inject({ method, url, headers, remoteAddress: this.address, ...(body === undefined ? {} : { payload: body as object }) });
    const set = r.headers['set-cookie'];
    const m = /blink_session=([^;]*)/.exec(String(set ?? ''));
    if (m) this.cookie = m[1] ? `blink_session=${m[1]}` : '';
    const json = (r.headers['content-type'] ?? '').toString().includes('json') ? (r.json() as Record<string, unknown>) : {};
    if (typeof json.csrfToken === 'string') this.csrf = json.csrfToken;
    return { status: r.statusCode, json };
  }
  login(username: string, password: string) {
    return this.req('POST', '/api/v1/auth/login', { username, password }).then((r) => r.status);
  }
}

describe('admin security: setup token, passwords, login throttling', () => {
  let h: Harness;
  let app: FastifyInstance;

  let runsAtStart = 0;
  beforeAll(async () => {
    const before = scryptRuns();
    h = await startAdmin({ admin: { loginMaxFailures: 5, lockoutMinutes: 15 } });
    // The dummy hash for unknown user names is prepared at start, not at the first unknown name.
    for (let i = 0; i < 100 && scryptRuns() === before; i++) await new Promise((r) => setTimeout(r, 50));
    runsAtStart = scryptRuns() - before;
    app = h.unit.http.instance()!;
  });
  afterAll(async () => h?.close());

  it('two setups racing with the right token: exactly one admin, the token is spent, setup is closed', async () => {
    const token = h.setupToken();
    const [a, b] = await Promise.all([new Client(h.url).setup(token, 'facilities', PASSWORD), new Client(h.url).setup(token, 'facilities', PASSWORD)]);
    expect([a, b].sort()).toEqual([200, 409]);
    expect(count(h, 'admin_users')).toBe(1);
    expect(existsSync(`${h.dataDir}/admin-setup-token`)).toBe(false);
    expect(h.admin.admin.setup.matches(token)).toBe(false);
    expect(await new Client(h.url).setup(token, 'eve', 'yet another password')).toBe(409);
  });

  it('password hashes carry their own scrypt parameters; absurd stored parameters are refused, not run', async () => {
    const light = await hashPassword('a long password', { log2N: 12, r: 8, p: 1 });
    expect(light).toMatch(/^scrypt\$12\$8\$1\$/);
    expect(await verifyPassword('a long password', light)).toBe(true);
    expect(await verifyPassword('a long passworD', light)).toBe(false);
    const greedy = light.replace('scrypt$12$8$1$', 'scrypt$22$64$1$'); // 32 GiB
    const runs = scryptRuns();
    expect(await verifyPassword('a long password', greedy)).toBe(false);
    expect(scryptRuns()).toBe(runs);
    // Over-long passwords are refused by the schema before any hashing.
    const long = await new Client(h.url).req('POST', '/api/v1/auth/login', { username: 'facilities', password: 'x'.repeat(257) });
    expect(long.status).toBe(400);
    expect(scryptRuns()).toBe(runs);
  });

  it('at most 2 hashes run and 32 wait; more are refused at once with PasswordBusyError', async () => {
    const results = await Promise.allSettled(Array.from({ length: 40 }, () => hashPassword('another password', { log2N: 10, r: 8, p: 1 })));
    const busy = results.filter((r) => r.status === 'rejected');
    expect(busy).toHaveLength(6);
    for (const r of busy) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(PasswordBusyError);
    expect(await hashPassword('another password', { log2N: 10, r: 8, p: 1 })).toMatch(/^scrypt\$10\$/); // slots released
  });

  it('an unknown user name costs one scrypt hash, like a wrong password (no enumeration by timing)', async () => {
    expect(runsAtStart).toBe(1);
    const c = new From(app, '10.0.0.50');
    let before = scryptRuns();
    expect(await c.login('nobody-here', 'wrong password')).toBe(401); // the first unknown name: one hash, not two
    expect(scryptRuns() - before).toBe(1);
    before = scryptRuns();
    expect(await c.login('facilities', 'wrong password 2')).toBe(401);
    const known = scryptRuns() - before;
    before = scryptRuns();
    expect(await c.login('nobody-at-all', 'wrong password 2')).toBe(401);
    expect(scryptRuns() - before).toBe(known);
    expect(known).toBe(1);
  });

  it('parallel guesses cannot outrun the lock-out: only loginMaxFailures passwords are ever checked', async () => {
    const attacker = new From(app, '10.0.0.66');
    const before = scryptRuns();
    // 20 guesses at once, the right password among the last ones.
    const guesses = Array.from({ length: 20 }, (_, i) => (i === 15 ? PASSWORD : `guess number ${i}`));
    const statuses = await Promise.all(guesses.map((p) => new From(app, attacker.address).login('facilities', p)));
    expect(statuses).not.toContain(200);
    expect(scryptRuns() - before).toBe(5);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(15);
  });

  it('a stranger cannot lock the admin out: the owner signs in from their usual address and from the unit itself', async () => {
    h.advance(16 * 60_000); // past the earlier tests' failures
    const owner = new From(app, '10.0.0.10');
    expect(await owner.login('facilities', PASSWORD)).toBe(200); // the owner's usual address
    // A stranger spreads 15 wrong passwords over 3 addresses (5 each: each address gets locked).
    for (let a = 0; a < 3; a++) {
      const s = new From(app, `10.0.1.${a}`);
      for (let i = 0; i < 5; i++) expect(await s.login('facilities', `stranger ${i}`)).toBe(i < 4 ? 401 : 429);
      expect(await s.login('facilities', PASSWORD)).toBe(429); // even the right password, from there
    }
    // Now the name is locked for addresses that never signed it in…
    expect(await new From(app, '10.0.2.1').login('facilities', PASSWORD)).toBe(429);
    // …but not for the owner's browser, nor on the unit (ssh -L tunnel).
    expect(await new From(app, '10.0.0.10').login('facilities', PASSWORD)).toBe(200);
    expect(await new From(app, '127.0.0.1').login('facilities', PASSWORD)).toBe(200);
    // The lock ends after lockoutMinutes.
    h.advance(16 * 60_000);
    expect(await new From(app, '10.0.2.1').login('facilities', PASSWORD)).toBe(200);
  });

  it('changing the password is throttled too: an open session is no password oracle', async () => {
    const c = new From(app, '10.0.3.1');
    expect(await c.login('facilities', PASSWORD)).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await c.req('POST', '/api/v1/auth/password', { currentPassword: `guess ${i}`, newPassword: 'a brand new password' })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    const right = await c.req('POST', '/api/v1/auth/password', { currentPassword: PASSWORD, newPassword: 'a brand new password' });
    expect(right.status).toBe(429);
    expect(await new From(app, '10.0.3.1').login('facilities', 'a brand new password')).toBe(429);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoginThrottle, MAX_ATTEMPT_ROWS } from '../../src/admin/loginThrottle.js';
import { Client, count, startAdmin, type Harness } from './adminHarness.js';

/**
 * Hardening item 7: every refused sign-in (also the ones refused unread during a lock-out) wrote
 * an fsynced row kept 30 days: one client flooding the login grew the database by 300-500 rows a
 * second. Refusals during a lock-out are now counted in memory and written as one row per user
 * name and address per minute, with the count.
 */
describe('a login flood', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startAdmin({ admin: { loginMaxFailures: 3, lockoutMinutes: 15 } });
    expect(await new Client(h.url).setup(h.setupToken())).toBe(200);
  });
  afterAll(async () => h?.close());

  it('2,000 attempts against a locked name from one address add a handful of rows, and the count is kept', async () => {
    const c = new Client(h.url);
    const before = count(h, 'auth_attempts');
    const statuses: number[] = [];
    for (let i = 0; i < 2000; i++) statuses.push(await c.login('facilities', `guess-${i}`));
    // two wrong passwords, the third locks the name (answered 429 at once), then refusals unread
    expect(statuses.slice(0, 2)).toEqual([401, 401]);
    expect(new Set(statuses.slice(2))).toEqual(new Set([429]));
    const rows = count(h, 'auth_attempts') - before;
    expect(rows).toBeLessThanOrEqual(3 + 5);
    // what was refused is still on record, as a count
    h.unit.admin!.flushThrottle();
    const refused = h.unit.store.db
      .prepare("SELECT coalesce(sum(count), 0) AS n FROM auth_attempts WHERE subject = 'facilities' AND detail = 'locked_out'")
      .get() as { n: number };
    expect(refused.n).toBe(1997);
  }, 120_000);

  it('the table is bounded even when a flood comes from many addresses', () => {
    const throttle = new LoginThrottle(h.unit.store.db, () => ({ maxFailures: 3, lockoutMinutes: 15 }));
    const now = new Date();
    h.unit.store.transaction(() => {
      for (let i = 0; i < MAX_ATTEMPT_ROWS + 500; i++)
        throttle.record(`n${i}`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, false, 'bad_password', now);
    });
    throttle.prune(new Date(now.getTime() - 30 * 86_400_000));
    expect(count(h, 'auth_attempts')).toBe(MAX_ATTEMPT_ROWS);
  });
});

import type { Db } from '../store/database.js';

export interface ThrottleVerdict {
  allowed: boolean;
  /** Seconds until the lock-out ends (when not allowed). */
  retryAfterSec: number;
  reason?: 'user_locked' | 'remote_locked';
}

export type AttemptOutcome = 'ok' | 'bad_password' | 'locked_out' | 'disabled' | 'busy';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
/** Refusals during a lock-out are written as one row per address per this long. */
const COALESCE_MS = 60_000;
/** Addresses with refusals waiting in memory; beyond this they are written at once (memory stays bounded). */
const MAX_PENDING_ADDRESSES = 1000;
/** The table never holds more rows than this (the oldest go first), whatever the 30-day rule says. */
export const MAX_ATTEMPT_ROWS = 100_000;

/**
 * Login rate limiting and lock-out from the auth_attempts table (kind admin_login). Only
 * wrong passwords count (detail bad_password), within a sliding window of `lockoutMinutes`:
 *
 * - a user name from one address: `maxFailures` since that pair's last success lock the name
 *   for that address;
 * - one address over all names: 3 × `maxFailures` since its last success (stops name spraying);
 * - a user name over all addresses: 3 × `maxFailures` lock it, but only for addresses that
 *   have never signed that user in (kept 30 days) and not for the unit itself (loopback).
 *   So many addresses together cannot guess without limit, and a stranger cannot lock an admin
 *   out of the browsers they use: the stranger's own address is what gets locked.
 *
 * Attempts during a lock-out are refused without checking the password and do not extend it.
 * Unknown user names are counted like known ones, so a lock-out reveals nothing about accounts.
 * An attempt is recorded as a failure *before* its password is checked (begin) and settled
 * after: parallel guesses cannot all slip past the check while the first ones are hashing.
 *
 * Refusals during a lock-out cost no write each: they are counted per address in memory and
 * written as one `locked_out` row per address per minute with the count (flood = a few rows).
 */
export class LoginThrottle {
  private readonly refusals = new Map<string, { first: Date; subjects: Set<string>; count: number }>();

  constructor(
    private readonly db: Db,
    private readonly limits: () => { maxFailures: number; lockoutMinutes: number },
  ) {}

  check(username: string, remote: string, now: Date): ThrottleVerdict {
    const { maxFailures, lockoutMinutes } = this.limits();
    const windowMs = lockoutMinutes * 60_000;
    const since = new Date(now.getTime() - windowMs).toISOString();
    const subject = username.toLowerCase();
    const verdict = (ts: string, reason: ThrottleVerdict['reason']): ThrottleVerdict => ({
      allowed: false,
      retryAfterSec: Math.max(1, Math.ceil((Date.parse(ts) + windowMs - now.getTime()) / 1000)),
      reason,
    });

    const pair = this.failures({ subject, remote }, since, maxFailures, true);
    if (pair) return verdict(pair, 'user_locked');
    const addr = this.failures({ remote }, since, maxFailures * 3, true);
    if (addr) return verdict(addr, 'remote_locked');
    if (!this.trusted(subject, remote)) {
      const user = this.failures({ subject }, since, maxFailures * 3, false);
      if (user) return verdict(user, 'user_locked');
    }
    return { allowed: true, retryAfterSec: 0 };
  }

  /** The unit itself, or an address that has signed this user in before. */
  private trusted(subject: string, remote: string): boolean {
    if (LOOPBACK.has(remote)) return true;
    return !!this.db
      .prepare("SELECT 1 FROM auth_attempts WHERE kind = 'admin_login' AND subject = ? AND remote = ? AND success = 1 LIMIT 1")
      .get(subject, remote);
  }

  /** When ≥ limit failures match since the window start (and, if resetOnSuccess, their last success), the time of the limit-th most recent one. */
  private failures(match: { subject?: string; remote?: string }, since: string, limit: number, resetOnSuccess: boolean): string | null {
    const cols = Object.keys(match) as Array<'subject' | 'remote'>;
    const where = cols.map((c) => `${c} = ?`).join(' AND ');
    const values = cols.map((c) => match[c] as string);
    let from = since;
    if (resetOnSuccess) {
      const lastOk = this.db.prepare(`SELECT max(ts) AS ts FROM auth_attempts WHERE kind = 'admin_login' AND ${where} AND success = 1`).get(...values) as {
        ts: string | null;
      };
      if (lastOk.ts && lastOk.ts > since) from = lastOk.ts;
    }
    const rows = this.db
      .prepare(
        `SELECT ts FROM auth_attempts WHERE kind = 'admin_login' AND ${where} AND success = 0 AND detail = 'bad_password' AND ts > ? ORDER BY ts DESC LIMIT ?`,
      )
      .all(...values, from, limit) as Array<{ ts: string }>;
    return rows.length >= limit ? (rows[0] as { ts: string }).ts : null;
  }

  record(username: string, remote: string, success: boolean, detail: AttemptOutcome, now: Date, count = 1): number {
    return Number(
      this.db
        .prepare("INSERT INTO auth_attempts (ts, kind, subject, remote, success, detail, count) VALUES (?, 'admin_login', ?, ?, ?, ?, ?)")
        .run(now.toISOString(), username.toLowerCase(), remote, success ? 1 : 0, detail, count).lastInsertRowid,
    );
  }

  /** A sign-in refused unread because of a lock-out: counted, written coalesced (see the class comment). */
  refused(username: string, remote: string, now: Date): void {
    const entry = this.refusals.get(remote);
    if (entry && now.getTime() - entry.first.getTime() >= COALESCE_MS) this.writeRefusals(remote);
    const e = this.refusals.get(remote) ?? { first: now, subjects: new Set<string>(), count: 0 };
    if (e.subjects.size < 20) e.subjects.add(username.toLowerCase());
    e.count++;
    this.refusals.set(remote, e);
    if (this.refusals.size > MAX_PENDING_ADDRESSES) this.flush();
  }

  /** Writes every coalesced refusal now (each minute, and at stop). */
  flush(): void {
    for (const remote of [...this.refusals.keys()]) this.writeRefusals(remote);
  }

  private writeRefusals(remote: string): void {
    const e = this.refusals.get(remote);
    this.refusals.delete(remote);
    if (!e) return;
    // One name: that name (the lock-out it hit); several: a spray from this address.
    const subject = e.subjects.size === 1 ? [...e.subjects][0]! : `(${e.subjects.size}${e.subjects.size >= 20 ? '+' : ''} names)`;
    this.record(subject, remote, false, 'locked_out', e.first, e.count);
  }

  /** Records an attempt as a failure before its password is checked; settle() it once known. */
  begin(username: string, remote: string, now: Date): number {
    return this.record(username, remote, false, 'bad_password', now);
  }

  /** ok: the password was right; disabled: right password, disabled account; busy: not checked at all. */
  settle(attempt: number, outcome: 'ok' | 'disabled' | 'busy'): void {
    this.db.prepare('UPDATE auth_attempts SET success = ?, detail = ? WHERE id = ?').run(outcome === 'ok' ? 1 : 0, outcome, attempt);
  }

  /** Failures currently counting against a user name (for the lock-out message). */
  recentFailures(username: string, now: Date): number {
    const since = new Date(now.getTime() - this.limits().lockoutMinutes * 60_000).toISOString();
    const lastOk = this.db
      .prepare("SELECT max(ts) AS ts FROM auth_attempts WHERE kind = 'admin_login' AND subject = ? AND success = 1")
      .get(username.toLowerCase()) as { ts: string | null };
    const from = lastOk.ts && lastOk.ts > since ? lastOk.ts : since;
    return (
      this.db
        .prepare("SELECT count(*) AS n FROM auth_attempts WHERE kind = 'admin_login' AND subject = ? AND success = 0 AND detail = 'bad_password' AND ts > ?")
        .get(username.toLowerCase(), from) as { n: number }
    ).n;
  }

  /** The 30-day rule, and the row bound (MAX_ATTEMPT_ROWS, oldest first) for floods from many addresses. */
  prune(before: Date): number {
    const old = this.db.prepare("DELETE FROM auth_attempts WHERE kind = 'admin_login' AND ts < ?").run(before.toISOString()).changes;
    const excess = this.db
      .prepare(
        "DELETE FROM auth_attempts WHERE kind = 'admin_login' AND id <= (SELECT id FROM auth_attempts WHERE kind = 'admin_login' ORDER BY id DESC LIMIT 1 OFFSET ?)",
      )
      .run(MAX_ATTEMPT_ROWS).changes;
    return old + excess;
  }
}

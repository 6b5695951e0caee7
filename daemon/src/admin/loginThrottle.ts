import type { Db } from '../store/database.js';

export interface ThrottleVerdict {
  allowed: boolean;
  /** Seconds until the lock-out ends (when not allowed). */
  retryAfterSec: number;
  reason?: 'user_locked' | 'remote_locked';
}

/**
 * Login rate limiting and lock-out from the auth_attempts table (kind admin_login).
 * A user name is locked for `lockoutMinutes` once it has `maxFailures` bad passwords
 * within that window since its last success; attempts during the lock-out are refused
 * without checking the password and do not extend it. One remote address is locked the
 * same way after 3× as many failures over any user names (stops name spraying). Unknown
 * user names are counted like known ones, so a lock-out reveals nothing about accounts.
 */
export class LoginThrottle {
  constructor(
    private readonly db: Db,
    private readonly limits: () => { maxFailures: number; lockoutMinutes: number },
  ) {}

  check(username: string, remote: string, now: Date): ThrottleVerdict {
    const { maxFailures, lockoutMinutes } = this.limits();
    const windowMs = lockoutMinutes * 60_000;
    const since = new Date(now.getTime() - windowMs).toISOString();
    const user = this.failures('subject', username.toLowerCase(), since, maxFailures);
    if (user) return { allowed: false, retryAfterSec: Math.max(1, Math.ceil((Date.parse(user) + windowMs - now.getTime()) / 1000)), reason: 'user_locked' };
    const remoteLock = this.failures('remote', remote, since, maxFailures * 3);
    if (remoteLock) return { allowed: false, retryAfterSec: Math.max(1, Math.ceil((Date.parse(remoteLock) + windowMs - now.getTime()) / 1000)), reason: 'remote_locked' };
    return { allowed: true, retryAfterSec: 0 };
  }

  /** When the column has ≥ limit failures since the window start (and its last success), the time of the limit-th most recent one. */
  private failures(column: 'subject' | 'remote', value: string, since: string, limit: number): string | null {
    const lastOk = this.db
      .prepare(`SELECT max(ts) AS ts FROM auth_attempts WHERE kind = 'admin_login' AND ${column} = ? AND success = 1`)
      .get(value) as { ts: string | null };
    const from = lastOk.ts && lastOk.ts > since ? lastOk.ts : since;
    const rows = this.db
      .prepare(
        `SELECT ts FROM auth_attempts WHERE kind = 'admin_login' AND ${column} = ? AND success = 0 AND detail = 'bad_password' AND ts > ?
         ORDER BY ts DESC LIMIT ?`,
      )
      .all(value, from, limit) as Array<{ ts: string }>;
    return rows.length >= limit ? (rows[0] as { ts: string }).ts : null;
  }

  record(username: string, remote: string, success: boolean, detail: 'ok' | 'bad_password' | 'locked_out' | 'disabled', now: Date): void {
    this.db
      .prepare("INSERT INTO auth_attempts (ts, kind, subject, remote, success, detail) VALUES (?, 'admin_login', ?, ?, ?, ?)")
      .run(now.toISOString(), username.toLowerCase(), remote, success ? 1 : 0, detail);
  }

  /** Failures currently counting against a user name (for the lock-out message). */
  recentFailures(username: string, now: Date): number {
    const since = new Date(now.getTime() - this.limits().lockoutMinutes * 60_000).toISOString();
    const lastOk = this.db
      .prepare("SELECT max(ts) AS ts FROM auth_attempts WHERE kind = 'admin_login' AND subject = ? AND success = 1")
      .get(username.toLowerCase()) as { ts: string | null };
    const from = lastOk.ts && lastOk.ts > since ? lastOk.ts : since;
    return (this.db
      .prepare("SELECT count(*) AS n FROM auth_attempts WHERE kind = 'admin_login' AND subject = ? AND success = 0 AND detail = 'bad_password' AND ts > ?")
      .get(username.toLowerCase(), from) as { n: number }).n;
  }

  prune(before: Date): number {
    return this.db.prepare("DELETE FROM auth_attempts WHERE kind = 'admin_login' AND ts < ?").run(before.toISOString()).changes;
  }
}

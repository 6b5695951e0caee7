import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../store/database.js';
import type { AdminRole, AdminUsersRepo } from './usersRepo.js';

export interface AdminSession {
  idHash: string;
  userId: number;
  username: string;
  role: AdminRole;
  csrfToken: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function newToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * Server-side sessions (table admin_sessions). The browser holds only a random token; the
 * database holds its SHA-256, so a copy of the database does not let anyone log in.
 * expires_at is the absolute limit; the idle limit is checked against last_seen_at.
 */
export class AdminSessionsRepo {
  constructor(
    private readonly db: Db,
    /** The accounts (their owner): a session is live only while its account exists and is enabled. */
    private readonly users: AdminUsersRepo,
  ) {}

  create(userId: number, now: Date, absoluteHours: number, remote: string | null, userAgent: string | null): { token: string; session: AdminSession } {
    const token = newToken();
    const csrf = newToken();
    const created = now.toISOString();
    const expires = new Date(now.getTime() + absoluteHours * 3_600_000).toISOString();
    this.db
      .prepare(
        'INSERT INTO admin_sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, remote, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(hashToken(token), userId, csrf, created, created, expires, remote, userAgent?.slice(0, 300) ?? null);
    return { token, session: this.byHash(hashToken(token)) as AdminSession };
  }

  byHash(idHash: string): AdminSession | undefined {
    const row = this.db
      .prepare('SELECT id_hash, user_id, csrf_token, created_at, last_seen_at, expires_at FROM admin_sessions WHERE id_hash = ?')
      .get(idHash) as { id_hash: string; user_id: number; csrf_token: string; created_at: string; last_seen_at: string; expires_at: string } | undefined;
    if (!row) return undefined;
    const user = this.users.get(row.user_id);
    if (!user || user.disabled) return undefined;
    return {
      idHash: row.id_hash,
      userId: row.user_id,
      username: user.username,
      role: user.role,
      csrfToken: row.csrf_token,
      createdAt: row.created_at,
      lastSeenAt: row.last_seen_at,
      expiresAt: row.expires_at,
    };
  }

  /** The live session for a token, touching last_seen_at; expired sessions are deleted and give undefined. */
  validate(token: string, now: Date, idleMinutes: number): AdminSession | undefined {
    const idHash = hashToken(token);
    const s = this.byHash(idHash);
    if (!s) return undefined;
    const t = now.getTime();
    if (Date.parse(s.expiresAt) <= t || Date.parse(s.lastSeenAt) + idleMinutes * 60_000 <= t) {
      this.remove(idHash);
      return undefined;
    }
    // Touch at most every 15 s: a dashboard polling every second must not write every second.
    if (t - Date.parse(s.lastSeenAt) > 15_000) {
      const seen = now.toISOString();
      this.db.prepare('UPDATE admin_sessions SET last_seen_at = ? WHERE id_hash = ?').run(seen, idHash);
      s.lastSeenAt = seen;
    }
    return s;
  }

  remove(idHash: string): void {
    this.db.prepare('DELETE FROM admin_sessions WHERE id_hash = ?').run(idHash);
  }

  removeForUser(userId: number, exceptHash: string | null = null): number {
    return this.db.prepare('DELETE FROM admin_sessions WHERE user_id = ? AND id_hash IS NOT ?').run(userId, exceptHash).changes;
  }

  pruneExpired(now: Date, idleMinutes: number): number {
    const idleCut = new Date(now.getTime() - idleMinutes * 60_000).toISOString();
    return this.db.prepare('DELETE FROM admin_sessions WHERE expires_at <= ? OR last_seen_at <= ?').run(now.toISOString(), idleCut).changes;
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM admin_sessions').get() as { n: number }).n;
  }
}

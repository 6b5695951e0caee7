import type { Db } from '../store/database.js';

export type AdminRole = 'admin' | 'viewer';

export interface AdminUser {
  id: number;
  username: string;
  role: AdminRole;
  createdAt: string;
  disabled: boolean;
}

interface UserRow {
  id: number;
  username: string;
  password_hash: string;
  role: AdminRole;
  created_at: string;
  disabled: number;
}

function toUser(r: UserRow): AdminUser {
  return { id: r.id, username: r.username, role: r.role, createdAt: r.created_at, disabled: r.disabled === 1 };
}

/** Accounts of the web admin (table admin_users). Password hashes never leave this repo except for verification. */
export class AdminUsersRepo {
  constructor(private readonly db: Db) {}

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM admin_users').get() as { n: number }).n;
  }

  countAdmins(): number {
    return (this.db.prepare("SELECT count(*) AS n FROM admin_users WHERE role = 'admin' AND disabled = 0").get() as { n: number }).n;
  }

  create(username: string, passwordHash: string, role: AdminRole, now: string): AdminUser {
    const info = this.db
      .prepare('INSERT INTO admin_users (username, password_hash, role, created_at) VALUES (?, ?, ?, ?)')
      .run(username, passwordHash, role, now);
    return this.get(Number(info.lastInsertRowid)) as AdminUser;
  }

  /** Creates the first admin only while there is no account at all (atomic: two racing setups cannot both win). */
  createFirst(username: string, passwordHash: string, now: string): AdminUser | null {
    const info = this.db
      .prepare(
        `INSERT INTO admin_users (username, password_hash, role, created_at)
         SELECT ?, ?, 'admin', ? WHERE NOT EXISTS (SELECT 1 FROM admin_users)`,
      )
      .run(username, passwordHash, now);
    return info.changes === 1 ? (this.get(Number(info.lastInsertRowid)) as AdminUser) : null;
  }

  get(id: number): AdminUser | undefined {
    const row = this.db.prepare('SELECT * FROM admin_users WHERE id = ?').get(id) as UserRow | undefined;
    return row && toUser(row);
  }

  /** The user and their password hash, for login. */
  credentials(username: string): { user: AdminUser; passwordHash: string } | undefined {
    const row = this.db.prepare('SELECT * FROM admin_users WHERE username = ?').get(username) as UserRow | undefined;
    return row && { user: toUser(row), passwordHash: row.password_hash };
  }

  list(): AdminUser[] {
    return (this.db.prepare('SELECT * FROM admin_users ORDER BY username COLLATE NOCASE').all() as UserRow[]).map(toUser);
  }

  setPassword(id: number, passwordHash: string): boolean {
    return this.db.prepare('UPDATE admin_users SET password_hash = ? WHERE id = ?').run(passwordHash, id).changes > 0;
  }

  update(id: number, patch: { role?: AdminRole; disabled?: boolean }): AdminUser | undefined {
    const cur = this.get(id);
    if (!cur) return undefined;
    this.db.prepare('UPDATE admin_users SET role = ?, disabled = ? WHERE id = ?').run(patch.role ?? cur.role, (patch.disabled ?? cur.disabled) ? 1 : 0, id);
    return this.get(id);
  }

  remove(id: number): boolean {
    return this.db.prepare('DELETE FROM admin_users WHERE id = ?').run(id).changes > 0;
  }
}

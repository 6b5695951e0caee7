import { createHash, randomBytes } from 'node:crypto';
import type { Sql } from './db/sql.js';

export interface ApiToken {
  id: string;
  org: string;
  name: string;
  role: 'reader';
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

const hash = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * Read-only API tokens for head office (attendance export, people list, the OpenAPI docs):
 * "Authorization: Bearer blk_…" over TLS. Shown once, stored as SHA-256. Units never use
 * them: a unit signs every request with its own key.
 */
export class TokensRepo {
  constructor(
    private readonly sql: Sql,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async create(org: string, name: string): Promise<{ id: string; token: string }> {
    const id = 'tok_' + randomBytes(6).toString('hex');
    const token = 'blk_' + randomBytes(32).toString('base64url');
    await this.sql.query("INSERT INTO api_tokens (id, org_id, name, token_hash, role, created_at) VALUES ($1, $2, $3, $4, 'reader', $5)", [
      id,
      org,
      name,
      hash(token),
      this.now().toISOString(),
    ]);
    return { id, token };
  }

  async verify(token: string): Promise<ApiToken | null> {
    if (!/^blk_[A-Za-z0-9_-]{43}$/.test(token)) return null;
    const rows = await this.sql.query<Record<string, string | null>>('SELECT * FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL', [hash(token)]);
    const r = rows[0];
    if (!r) return null;
    return { id: r.id!, org: r.org_id!, name: r.name!, role: 'reader', createdAt: r.created_at!, revokedAt: null, lastUsedAt: r.last_used_at ?? null };
  }

  async list(org?: string): Promise<ApiToken[]> {
    const rows = org
      ? await this.sql.query<Record<string, string | null>>('SELECT * FROM api_tokens WHERE org_id = $1 ORDER BY created_at', [org])
      : await this.sql.query<Record<string, string | null>>('SELECT * FROM api_tokens ORDER BY org_id, created_at');
    return rows.map((r) => ({
      id: r.id!,
      org: r.org_id!,
      name: r.name!,
      role: 'reader',
      createdAt: r.created_at!,
      revokedAt: r.revoked_at ?? null,
      lastUsedAt: r.last_used_at ?? null,
    }));
  }

  async revoke(id: string): Promise<boolean> {
    return (
      (await this.sql.query('UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id', [id, this.now().toISOString()]))
        .length === 1
    );
  }
}

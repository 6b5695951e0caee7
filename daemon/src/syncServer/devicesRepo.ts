import { createHash, randomBytes } from 'node:crypto';
import type { DeviceStatus } from '../sync/protocol.js';
import type { Sql } from './db/sql.js';

export interface Device {
  org: string;
  id: string;
  name: string;
  publicKey: string;
  status: DeviceStatus;
  createdAt: string;
  approvedAt: string | null;
  approvedBy: string | null;
  revokedAt: string | null;
  keyRotatedAt: string | null;
  lastSeenAt: string | null;
}

interface DeviceRow {
  org_id: string;
  id: string;
  name: string;
  public_key: string;
  status: DeviceStatus;
  created_at: string;
  approved_at: string | null;
  approved_by: string | null;
  revoked_at: string | null;
  key_rotated_at: string | null;
  last_seen_at: string | null;
}

const toDevice = (r: DeviceRow): Device => ({
  org: r.org_id,
  id: r.id,
  name: r.name,
  publicKey: r.public_key,
  status: r.status,
  createdAt: r.created_at,
  approvedAt: r.approved_at,
  approvedBy: r.approved_by,
  revokedAt: r.revoked_at,
  keyRotatedAt: r.key_rotated_at,
  lastSeenAt: r.last_seen_at,
});

/** Claim codes are shown once and stored only as their SHA-256. 16 characters of Crockford base32 = 80 bits. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export function newClaimCode(): string {
  const bytes = randomBytes(16);
  const chars = Array.from(bytes, (b) => ALPHABET[b & 31]).join('');
  return chars.match(/.{4}/g)!.join('-');
}
const normaliseCode = (code: string) =>
  code
    .toUpperCase()
    .replace(/[^0-9A-Z]/g, '')
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1');
const codeHash = (code: string) => createHash('sha256').update(normaliseCode(code)).digest('hex');

export type RegisterOutcome = { status: DeviceStatus; created: boolean } | { error: 'claim_invalid' | 'exists_active' | 'revoked' | 'too_many_pending' };

/** The devices (units) of every organisation: their public keys and status, and the one-time claim codes. */
export class DevicesRepo {
  private readonly lastSeenWritten = new Map<string, number>();

  constructor(
    private readonly sql: Sql,
    private readonly now: () => Date = () => new Date(),
    private readonly maxPending = 100,
  ) {}

  async get(org: string, id: string): Promise<Device | null> {
    const rows = await this.sql.query<DeviceRow>('SELECT * FROM devices WHERE org_id = $1 AND id = $2', [org, id]);
    return rows[0] ? toDevice(rows[0]) : null;
  }

  async list(org?: string): Promise<Device[]> {
    const rows = org
      ? await this.sql.query<DeviceRow>('SELECT * FROM devices WHERE org_id = $1 ORDER BY org_id, id', [org])
      : await this.sql.query<DeviceRow>('SELECT * FROM devices ORDER BY org_id, id');
    return rows.map(toDevice);
  }

  async createClaimCode(org: string, hours: number): Promise<{ code: string; expiresAt: string }> {
    const code = newClaimCode();
    const now = this.now();
    const expiresAt = new Date(now.getTime() + hours * 3_600_000).toISOString();
    await this.sql.query('INSERT INTO claim_codes (code_hash, org_id, created_at, expires_at) VALUES ($1, $2, $3, $4)', [
      codeHash(code),
      org,
      now.toISOString(),
      expiresAt,
    ]);
    return { code, expiresAt };
  }

  /**
   * A unit registers its public key. With a valid claim code (unused, unexpired, this
   * organisation) it is ACTIVE at once and the code is spent; without one it waits PENDING for
   * an operator. A PENDING device may register again (a unit that lost its key before approval);
   * an ACTIVE one may not change its key this way (rotate with the old key), and a REVOKED one
   * needs a new claim code.
   */
  async register(org: string, id: string, name: string, publicKey: string, claimCode: string | undefined): Promise<RegisterOutcome> {
    const now = this.now().toISOString();
    return this.sql.tx(async (q) => {
      const existing = (await q.query<DeviceRow>('SELECT * FROM devices WHERE org_id = $1 AND id = $2', [org, id]))[0];
      if (existing?.status === 'ACTIVE')
        return existing.public_key === publicKey ? { status: 'ACTIVE' as const, created: false } : { error: 'exists_active' as const };
      let claimed = false;
      if (claimCode) {
        const spent = await q.query(
          'UPDATE claim_codes SET used_at = $3, used_by = $4 WHERE code_hash = $1 AND org_id = $2 AND used_at IS NULL AND expires_at > $3 RETURNING code_hash',
          [codeHash(claimCode), org, now, id],
        );
        if (spent.length !== 1) return { error: 'claim_invalid' as const };
        claimed = true;
      }
      if (existing?.status === 'REVOKED' && !claimed) return { error: 'revoked' as const };
      if (existing?.status === 'PENDING' && !claimed && existing.public_key === publicKey) return { status: 'PENDING' as const, created: false };
      // Registering without a code is open to anyone who can reach the server: bound what waits for an operator.
      if (!claimed && !existing) {
        const pending = await q.query<{ n: number }>("SELECT COUNT(*) AS n FROM devices WHERE org_id = $1 AND status = 'PENDING'", [org]);
        if (Number(pending[0]?.n ?? 0) >= this.maxPending) return { error: 'too_many_pending' as const };
      }
      const status: DeviceStatus = claimed ? 'ACTIVE' : 'PENDING';
      if (existing) {
        await q.query(
          'UPDATE devices SET name = $3, public_key = $4, status = $5, approved_at = $6, approved_by = $7, revoked_at = NULL, key_rotated_at = $8 WHERE org_id = $1 AND id = $2',
          [org, id, name, publicKey, status, claimed ? now : null, claimed ? 'claim-code' : null, now],
        );
      } else {
        await q.query(
          'INSERT INTO devices (org_id, id, name, public_key, status, created_at, approved_at, approved_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
          [org, id, name, publicKey, status, now, claimed ? now : null, claimed ? 'claim-code' : null],
        );
      }
      return { status, created: !existing };
    });
  }

  async approve(org: string, id: string, by = 'operator'): Promise<Device | null> {
    const rows = await this.sql.query<DeviceRow>(
      "UPDATE devices SET status = 'ACTIVE', approved_at = $3, approved_by = $4, revoked_at = NULL WHERE org_id = $1 AND id = $2 AND status = 'PENDING' RETURNING *",
      [org, id, this.now().toISOString(), by],
    );
    return rows[0] ? toDevice(rows[0]) : null;
  }

  async revoke(org: string, id: string): Promise<Device | null> {
    const rows = await this.sql.query<DeviceRow>("UPDATE devices SET status = 'REVOKED', revoked_at = $3 WHERE org_id = $1 AND id = $2 RETURNING *", [
      org,
      id,
      this.now().toISOString(),
    ]);
    return rows[0] ? toDevice(rows[0]) : null;
  }

  /** Replaces an active device's key (the request was signed by the old key and the new one). */
  async rotateKey(org: string, id: string, oldKey: string, newKey: string): Promise<boolean> {
    const rows = await this.sql.query(
      "UPDATE devices SET public_key = $4, key_rotated_at = $5 WHERE org_id = $1 AND id = $2 AND public_key = $3 AND status = 'ACTIVE' RETURNING id",
      [org, id, oldKey, newKey, this.now().toISOString()],
    );
    return rows.length === 1;
  }

  /** Records when a device was last heard from, at most once a minute per device and instance. */
  async touch(org: string, id: string): Promise<void> {
    const key = `${org}/${id}`;
    const t = this.now().getTime();
    if ((this.lastSeenWritten.get(key) ?? 0) > t - 60_000) return;
    this.lastSeenWritten.set(key, t);
    if (this.lastSeenWritten.size > 100_000) this.lastSeenWritten.clear();
    await this.sql.query('UPDATE devices SET last_seen_at = $3 WHERE org_id = $1 AND id = $2', [org, id, new Date(t).toISOString()]);
  }

  /** Remembers a request nonce until it could no longer pass the clock check; false when it was seen before (a replay). */
  async useNonce(org: string, id: string, nonce: string, expiresAtMs: number): Promise<boolean> {
    const rows = await this.sql.query(
      'INSERT INTO auth_nonces (org_id, device_id, nonce, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING nonce',
      [org, id, nonce, expiresAtMs],
    );
    return rows.length === 1;
  }

  async purgeNonces(): Promise<number> {
    return (await this.sql.query('DELETE FROM auth_nonces WHERE expires_at < $1 RETURNING nonce', [this.now().getTime()])).length;
  }
}

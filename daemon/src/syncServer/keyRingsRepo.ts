import { parseKeyRingDocument, type KeyRingDocument } from '../sync/envelopeKeyRing.js';
import type { Queryable, Sql } from './db/sql.js';
import { conflict, invalid } from './errors.js';

/**
 * Each organisation's wrapped key ring (no key in clear: see envelopeKeyRing.ts) with a version
 * for compare-and-set, and the count of envelopes received under each key id (every unit's,
 * so the ring is rotated before any key nears the random-IV limit).
 */
export class KeyRingsRepo {
  constructor(
    private readonly sql: Sql,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async get(org: string): Promise<{ version: number; doc: KeyRingDocument | null; usage: Record<string, number> }> {
    const rows = await this.sql.query<{ version: number; doc: string }>('SELECT version, doc FROM org_keyrings WHERE org_id = $1', [org]);
    const usage: Record<string, number> = {};
    for (const u of await this.sql.query<{ kid: string; envelopes: number }>('SELECT kid, envelopes FROM key_usage WHERE org_id = $1', [org])) {
      usage[u.kid] = Number(u.envelopes);
    }
    return rows[0] ? { version: Number(rows[0].version), doc: JSON.parse(rows[0].doc) as KeyRingDocument, usage } : { version: 0, doc: null, usage };
  }

  /** The key ids envelopes may name (read inside a push transaction). */
  static async kids(q: Queryable, org: string): Promise<Set<string>> {
    const rows = await q.query<{ doc: string }>('SELECT doc FROM org_keyrings WHERE org_id = $1', [org]);
    return new Set(rows[0] ? (JSON.parse(rows[0].doc) as KeyRingDocument).keys.map((k) => k.kid) : []);
  }

  /**
   * Stores a new ring if the stored version is still ifVersion (0 = none yet): two units rotating
   * at once cannot overwrite each other (the loser gets 409 and reads the winner's). A ring may
   * add keys and re-wrap them, never drop one an envelope might name.
   */
  async put(org: string, ifVersion: number, document: unknown, by: string): Promise<number> {
    let doc: KeyRingDocument;
    try {
      doc = parseKeyRingDocument(document);
    } catch (err) {
      throw invalid(['body', 'keyring'], (err as Error).message, null);
    }
    if (doc.org !== org) throw invalid(['body', 'keyring', 'org'], `key ring is for organisation "${doc.org}", not "${org}"`, doc.org);
    return this.sql.tx(async (q) => {
      const rows = await q.query<{ version: number; doc: string }>('SELECT version, doc FROM org_keyrings WHERE org_id = $1', [org]);
      const current = rows[0] ? Number(rows[0].version) : 0;
      if (current !== ifVersion) throw conflict(`key ring changed (now version ${current}, not ${ifVersion}): read it again`);
      if (rows[0]) {
        const kept = new Set(doc.keys.map((k) => k.kid));
        const dropped = (JSON.parse(rows[0].doc) as KeyRingDocument).keys.map((k) => k.kid).filter((k) => !kept.has(k));
        if (dropped.length) throw invalid(['body', 'keyring', 'keys'], `key ring drops key(s) ${dropped.join(', ')}: keys are never removed`, null);
      }
      const now = this.now().toISOString();
      const json = JSON.stringify(doc);
      if (rows[0]) {
        const updated = await q.query(
          'UPDATE org_keyrings SET version = $3, doc = $4, updated_at = $5, updated_by = $6 WHERE org_id = $1 AND version = $2 RETURNING org_id',
          [org, ifVersion, current + 1, json, now, by],
        );
        if (updated.length !== 1) throw conflict('key ring changed: read it again');
      } else {
        const inserted = await q.query(
          'INSERT INTO org_keyrings (org_id, version, doc, updated_at, updated_by) VALUES ($1, 1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING org_id',
          [org, json, now, by],
        );
        if (inserted.length !== 1) throw conflict('key ring created meanwhile by another unit: read it again');
      }
      return current + 1;
    });
  }

  static async addUsage(q: Queryable, org: string, counts: Map<string, number>): Promise<void> {
    for (const [kid, n] of counts) {
      await q.query(
        'INSERT INTO key_usage (org_id, kid, envelopes) VALUES ($1, $2, $3) ON CONFLICT (org_id, kid) DO UPDATE SET envelopes = key_usage.envelopes + EXCLUDED.envelopes',
        [org, kid, n],
      );
    }
  }
}

import { ID_PATTERN } from '../sync/requestSigning.js';
import type { Queryable, Sql } from './db/sql.js';

export interface Org {
  id: string;
  name: string;
  legacy: boolean;
  createdAt: string;
}

export type CounterName = 'people' | 'attendance' | 'people_horizon';
const ID = new RegExp(ID_PATTERN);

/**
 * Organisations and their counters. A counter is bumped with UPDATE … RETURNING inside the
 * writing transaction: the row lock it takes is held to COMMIT, so two writers of one
 * organisation get their numbers in commit order, and a reader that sees number N has also
 * seen every number below it. (A PostgreSQL sequence would not do: its values are handed out
 * at call time, so a later commit can carry a lower number and a reader following the cursor
 * would skip it.) Numbers are reserved a batch at a time; a reserved number nobody uses
 * (a duplicate, a stale write) is a harmless gap.
 */
export class OrgsRepo {
  constructor(private readonly sql: Sql) {}

  async create(id: string, name: string, legacy = false, now = new Date()): Promise<Org> {
    if (!ID.test(id)) throw new Error(`organisation id "${id}": use letters, digits, _ or - (at most 64)`);
    await this.sql.tx(async (q) => {
      const exists = await q.query('SELECT 1 FROM orgs WHERE id = $1', [id]);
      if (exists.length) throw new Error(`organisation "${id}" exists already`);
      await q.query('INSERT INTO orgs (id, name, legacy, created_at) VALUES ($1, $2, $3, $4)', [id, name, legacy, now.toISOString()]);
      for (const c of ['people', 'attendance', 'people_horizon']) await q.query('INSERT INTO org_counters (org_id, name, value) VALUES ($1, $2, 0)', [id, c]);
    });
    return { id, name, legacy, createdAt: now.toISOString() };
  }

  async get(id: string): Promise<Org | null> {
    const rows = await this.sql.query<{ id: string; name: string; legacy: number; created_at: string }>('SELECT * FROM orgs WHERE id = $1', [id]);
    const r = rows[0];
    return r ? { id: r.id, name: r.name, legacy: Number(r.legacy) === 1, createdAt: r.created_at } : null;
  }

  async list(): Promise<Org[]> {
    const rows = await this.sql.query<{ id: string; name: string; legacy: number; created_at: string }>('SELECT * FROM orgs ORDER BY id');
    return rows.map((r) => ({ id: r.id, name: r.name, legacy: Number(r.legacy) === 1, createdAt: r.created_at }));
  }

  async setLegacy(id: string, on: boolean): Promise<boolean> {
    const rows = await this.sql.query('UPDATE orgs SET legacy = $2 WHERE id = $1 RETURNING id', [id, on]);
    return rows.length === 1;
  }

  /** Reserves n numbers of the counter (locking it until the transaction ends); returns the first. */
  static async reserve(q: Queryable, org: string, name: CounterName, n: number): Promise<number> {
    const rows = await q.query<{ value: number }>('UPDATE org_counters SET value = value + $3 WHERE org_id = $1 AND name = $2 RETURNING value', [org, name, n]);
    if (!rows[0]) throw new Error(`organisation ${org} has no ${name} counter`);
    return Number(rows[0].value) - n + 1;
  }

  static async value(q: Queryable, org: string, name: CounterName): Promise<number> {
    const rows = await q.query<{ value: number }>('SELECT value FROM org_counters WHERE org_id = $1 AND name = $2', [org, name]);
    return Number(rows[0]?.value ?? 0);
  }

  /** Raises a counter to at least v (the tombstone horizon only grows). */
  static async raise(q: Queryable, org: string, name: CounterName, v: number): Promise<void> {
    await q.query('UPDATE org_counters SET value = CASE WHEN value < $3 THEN $3 ELSE value END WHERE org_id = $1 AND name = $2', [org, name, v]);
  }
}

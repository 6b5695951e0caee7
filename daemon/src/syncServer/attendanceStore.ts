/**
 * Attendance on the sync server: the owner of the attendance table. Insert-if-absent by id
 * (a repeated id is acknowledged: exactly once, whatever the retries), the sending unit and
 * arrival time recorded, and an arrival key (seq) so head office can export incrementally
 * without missing rows that arrive late (a unit back from days offline).
 *
 * The arrival key takes no lock, so a thousand units pushing into one organisation do not
 * queue behind each other. On PostgreSQL it is the writing transaction's id, and the export
 * only returns rows below the oldest transaction still running (pg_snapshot_xmin): every
 * transaction below it has finished, so no row can later appear below the reader's cursor
 * (a visibility-safe high-water mark). SQLite has one writer at a time, so a counter taken in
 * the transaction is already in commit order.
 */
import { inList, type Param, type Queryable, type Sql } from './db/sql.js';
import { OrgsRepo } from './orgsRepo.js';

export interface AttendanceIn {
  id: string;
  person_id: string;
  timestamp: string;
  status: string;
  punctuality: string | null;
}

export interface AttendanceOut extends AttendanceIn {
  person_name: string | null;
  unit_id: string;
  received_at: string;
  seq: number;
}

export interface AttendanceQuery {
  from?: string;
  to?: string;
  unit?: string;
  person?: string;
  /** Incremental export, in arrival order: "0" from the start, or the `next` of the previous page ("seq:id"). */
  since?: string;
  /** Time-ordered paging: the last row of the previous page, "ts_utc|id". */
  after?: string;
  limit: number;
}

/** The time as UTC ISO for range queries; a time without a zone is read as UTC; unreadable → the arrival time. */
export function normaliseTimestamp(ts: string, fallback: string): string {
  const zoned = /([zZ]|[+-]\d{2}:?\d{2})$/.test(ts) ? ts : `${ts}Z`;
  const ms = Date.parse(zoned);
  return Number.isNaN(ms) ? fallback : new Date(ms).toISOString();
}

const CHUNK = 500;

export class AttendanceStore {
  constructor(
    private readonly sql: Sql,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Inserts the rows not present yet; returns the ids inserted now (the rest were already there). */
  async push(org: string, unit: string, rows: AttendanceIn[]): Promise<Set<string>> {
    const inserted = new Set<string>();
    if (rows.length === 0) return inserted;
    const now = this.now().toISOString();
    const pg = this.sql.engine === 'postgres';
    const write = async (q: Queryable, first: number) => {
      for (let i = 0; i < rows.length; i += CHUNK) {
        const chunk = rows.slice(i, i + CHUNK);
        const params: Param[] = [];
        const tuples = chunk.map((r, j) => {
          const base = params.length;
          params.push(org, r.id, r.person_id, r.timestamp, r.status, r.punctuality ?? null, normaliseTimestamp(r.timestamp, now), unit, now);
          if (pg) return `(${inList(base + 1, 9)}, pg_current_xact_id()::text::bigint)`;
          params.push(first + i + j);
          return `(${inList(base + 1, 10)})`;
        });
        const got = await q.query<{ id: string }>(
          `INSERT INTO attendance (org_id, id, person_id, "timestamp", status, punctuality, ts_utc, unit_id, received_at, seq) VALUES ${tuples.join(', ')}
           ON CONFLICT (org_id, id) DO NOTHING RETURNING id`,
          params,
        );
        for (const g of got) inserted.add(g.id);
      }
    };
    // One statement is its own transaction on PostgreSQL: no BEGIN/COMMIT round trips for a normal batch.
    if (pg && rows.length <= CHUNK) await write(this.sql, 0);
    else await this.sql.tx(async (q) => write(q, pg ? 0 : await OrgsRepo.reserve(q, org, 'attendance', rows.length)));
    return inserted;
  }

  /** One page of rows matching the query, with the person's current name (null when deleted). */
  async query(org: string, f: AttendanceQuery): Promise<{ rows: AttendanceOut[]; next: string | null; has_more: boolean }> {
    const where = ['a.org_id = $1'];
    const params: Param[] = [org];
    const add = (cond: string, ...values: Param[]) => {
      where.push(cond.replace(/\?/g, () => `$${params.push(values.shift() ?? null)}`));
    };
    if (f.from) add('a.ts_utc >= ?', normaliseTimestamp(f.from, f.from));
    if (f.to) add('a.ts_utc < ?', normaliseTimestamp(f.to, f.to));
    if (f.unit) add('a.unit_id = ?', f.unit);
    if (f.person) add('a.person_id = ?', f.person);
    let order: string;
    if (f.since !== undefined) {
      const [seq, id] = [f.since.split(':')[0]!, f.since.slice(f.since.indexOf(':') + 1)];
      if (f.since.includes(':')) add('(a.seq > ? OR (a.seq = ? AND a.id > ?))', Number(seq), Number(seq), id);
      else add('a.seq > ?', Number(seq));
      // Only what no running transaction can still add to (see the class comment).
      if (this.sql.engine === 'postgres') where.push('a.seq < pg_snapshot_xmin(pg_current_snapshot())::text::bigint');
      order = 'a.seq, a.id';
    } else {
      if (f.after) {
        const cut = f.after.indexOf('|');
        add('(a.ts_utc > ? OR (a.ts_utc = ? AND a.id > ?))', f.after.slice(0, cut), f.after.slice(0, cut), f.after.slice(cut + 1));
      }
      order = 'a.ts_utc, a.id';
    }
    params.push(f.limit + 1);
    const rows = await this.sql.query<AttendanceOut & { ts_utc: string; deleted: number | null }>(
      `SELECT a.id, a.person_id, a."timestamp", a.status, a.punctuality, a.unit_id, a.received_at, a.seq, a.ts_utc,
              CASE WHEN p.deleted = 0 THEN p.name ELSE NULL END AS person_name
       FROM attendance a LEFT JOIN people p ON p.org_id = a.org_id AND p.id = a.person_id
       WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT $${params.length}`,
      params,
    );
    const page = rows.slice(0, f.limit);
    const last = page[page.length - 1];
    const hasMore = rows.length > f.limit;
    // In arrival order the cursor always comes back (where to ask next time, even when nothing is new).
    const next = f.since !== undefined ? (last ? `${last.seq}:${last.id}` : f.since) : hasMore && last ? `${last.ts_utc}|${last.id}` : null;
    return {
      rows: page.map((r) => ({
        id: r.id,
        person_id: r.person_id,
        person_name: r.person_name ?? null,
        timestamp: r.timestamp,
        status: r.status,
        punctuality: r.punctuality,
        unit_id: r.unit_id,
        received_at: r.received_at,
        seq: Number(r.seq),
      })),
      next,
      has_more: hasMore,
    };
  }

  async count(org: string): Promise<number> {
    return Number((await this.sql.query<{ n: number }>('SELECT COUNT(*) AS n FROM attendance WHERE org_id = $1', [org]))[0]?.n ?? 0);
  }
}

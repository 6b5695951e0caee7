/**
 * The sync server's database, whichever engine holds it: PostgreSQL (production, several
 * stateless instances on one database) or the SQLite fallback file (one instance). Queries
 * are written once with $1, $2 … placeholders in the SQL both engines share; the SQLite
 * adapter maps them. Booleans are stored as 0/1 integers on both.
 */
export type Engine = 'postgres' | 'sqlite';
export type Row = Record<string, unknown>;
export type Param = string | number | bigint | boolean | null | Buffer;

export interface Queryable {
  readonly engine: Engine;
  query<T = Row>(text: string, params?: readonly Param[]): Promise<T[]>;
}

export interface Sql extends Queryable {
  /** Runs fn in one transaction (READ COMMITTED on PostgreSQL, BEGIN IMMEDIATE on SQLite); rolls back on any error. */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /** Round trip to the database: for /health. */
  ping(): Promise<{ up: boolean; latencyMs: number; error?: string }>;
  /** Requests waiting for a connection now (0 on SQLite). */
  waiting(): number;
  /** Where the data is, without credentials: for logs and /health. */
  describe(): string;
  close(): Promise<void>;
}

/**
 * The database cannot answer now (down, restarting, failing over, out of connections, busy):
 * the request is answered 503 with Retry-After, never 500, and the client retries.
 */
export class DbUnavailableError extends Error {
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'DbUnavailableError';
  }
}

const TRANSIENT_PG = /^(08|53|57P0|40001|40P01|55P03|57014)/;
const TRANSIENT_NODE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN', 'SQLITE_BUSY', 'SQLITE_LOCKED']);
const TRANSIENT_TEXT =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connection is closed|Client was closed|terminating connection|the database system is (starting up|shutting down|in recovery mode)/i;

/** True for errors that mean "not now" (connection lost, server restarting, lock timeouts, serialization failures), not "wrong request". */
export function isTransientDbError(err: unknown): boolean {
  if (err instanceof DbUnavailableError) return true;
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e.code === 'string' && (TRANSIENT_PG.test(e.code) || TRANSIENT_NODE.has(e.code))) return true;
  return typeof e.message === 'string' && TRANSIENT_TEXT.test(e.message);
}

/** IN-list placeholders from $start: inList(3, 2) → "$3,$4". */
export function inList(start: number, count: number): string {
  return Array.from({ length: count }, (_, i) => `$${start + i}`).join(',');
}

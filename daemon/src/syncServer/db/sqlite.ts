import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DbUnavailableError, isTransientDbError, type Param, type Queryable, type Row, type Sql } from './sql.js';

/**
 * The SQLite fallback (one instance, as the original's cloud_blink.db): WAL, synchronous=FULL.
 * better-sqlite3 is synchronous on one connection, so every query and transaction takes a
 * queue: a transaction's statements never interleave with another request's.
 */
export class SqliteSql implements Sql {
  readonly engine = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;

  constructor(readonly file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
  }

  private exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    this.queued++;
    const run = this.tail.then(fn, fn);
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run.finally(() => this.queued--);
  }

  private run<T>(text: string, params: readonly Param[]): T[] {
    let stmt = this.statements.get(text);
    if (!stmt) {
      stmt = this.db.prepare(text.replace(/\$(\d+)/g, '?$1'));
      if (this.statements.size > 500) this.statements.clear();
      this.statements.set(text, stmt);
    }
    const bound: Record<number, unknown> = {};
    params.forEach((p, i) => (bound[i + 1] = typeof p === 'boolean' ? (p ? 1 : 0) : p));
    try {
      return (stmt.reader ? stmt.all(bound) : (stmt.run(bound), [])) as T[];
    } catch (err) {
      throw isTransientDbError(err) ? new DbUnavailableError(`database busy: ${(err as Error).message}`, err) : err;
    }
  }

  query<T = Row>(text: string, params: readonly Param[] = []): Promise<T[]> {
    return this.exclusive(() => this.run<T>(text, params));
  }

  /** Runs several statements (DDL) at once. */
  execScript(text: string): Promise<void> {
    return this.exclusive(() => void this.db.exec(text));
  }

  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      const q: Queryable = { engine: 'sqlite', query: async <R = Row>(text: string, params: readonly Param[] = []) => this.run<R>(text, params) };
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(q);
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  async ping(): Promise<{ up: boolean; latencyMs: number; error?: string }> {
    const t0 = performance.now();
    try {
      await this.query('SELECT 1');
      return { up: true, latencyMs: Math.round((performance.now() - t0) * 10) / 10 };
    } catch (err) {
      return { up: false, latencyMs: 0, error: (err as Error).message };
    }
  }

  waiting(): number {
    return Math.max(0, this.queued - 1);
  }

  describe(): string {
    return `sqlite:${this.file}`;
  }

  async close(): Promise<void> {
    await this.exclusive(() => this.db.close());
  }
}

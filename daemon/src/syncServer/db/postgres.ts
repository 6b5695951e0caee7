import pg from 'pg';
import type { Logger } from '../../logging.js';
import { DbUnavailableError, isTransientDbError, type Param, type Queryable, type Row, type Sql } from './sql.js';

export interface PostgresOptions {
  poolMax: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
}

// BIGINT (int8) and COUNT(*) as numbers: every value the server keeps fits in 2^53 (change numbers, counts).
const types = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') => (oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')),
};

function values(params: readonly Param[]): unknown[] {
  return params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
}

function wrap(err: unknown): unknown {
  return isTransientDbError(err) && !(err instanceof DbUnavailableError) ? new DbUnavailableError(`database unavailable: ${(err as Error).message}`, err) : err;
}

/** PostgreSQL through a pg connection pool; any number of server instances can share the database. */
export class PostgresSql implements Sql {
  readonly engine = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly where: string;

  constructor(url: string, options: PostgresOptions, log: Logger) {
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.poolMax,
      connectionTimeoutMillis: options.connectTimeoutMs,
      idleTimeoutMillis: 30_000,
      statement_timeout: options.statementTimeoutMs,
      application_name: 'blink-sync-server',
      keepAlive: true,
      types,
    });
    // An idle connection that dies (PostgreSQL restarted, failover) is an event, not a crash.
    this.pool.on('error', (err) => log.warn({ err: err.message }, 'database connection lost; the pool reconnects'));
    try {
      const u = new URL(url);
      this.where = `postgresql://${u.hostname}${u.port ? ':' + u.port : ''}${u.pathname}`;
    } catch {
      this.where = 'postgresql';
    }
  }

  async query<T = Row>(text: string, params: readonly Param[] = []): Promise<T[]> {
    try {
      return (await this.pool.query(text, values(params))).rows as T[];
    } catch (err) {
      throw wrap(err);
    }
  }

  async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw wrap(err);
    }
    let broken = false;
    const q: Queryable = {
      engine: 'postgres',
      query: async <R = Row>(text: string, params: readonly Param[] = []) => {
        try {
          return (await client.query(text, values(params))).rows as R[];
        } catch (err) {
          if (isTransientDbError(err)) broken = true;
          throw wrap(err);
        }
      },
    };
    try {
      await q.query('BEGIN');
      const result = await fn(q);
      await q.query('COMMIT');
      return result;
    } catch (err) {
      if (!broken) await client.query('ROLLBACK').catch(() => (broken = true));
      throw wrap(err);
    } finally {
      client.release(broken);
    }
  }

  async ping(): Promise<{ up: boolean; latencyMs: number; error?: string }> {
    const t0 = performance.now();
    try {
      await this.pool.query('SELECT 1');
      return { up: true, latencyMs: Math.round((performance.now() - t0) * 10) / 10 };
    } catch (err) {
      return { up: false, latencyMs: Math.round(performance.now() - t0), error: (err as Error).message };
    }
  }

  waiting(): number {
    return this.pool.waitingCount;
  }

  describe(): string {
    return this.where;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

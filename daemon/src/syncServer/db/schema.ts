/**
 * One description of the sync server's schema, rendered for each engine. Migrations are a
 * forward-only, numbered list of steps (never edited once shipped); each runs in one
 * transaction with its row in schema_migrations, so a crash leaves the old schema intact.
 * On PostgreSQL an advisory lock makes instances starting together migrate one at a time.
 */
import type { Engine, Queryable, Sql } from './sql.js';
import type { SqliteSql } from './sqlite.js';

export type ColumnType = 'text' | 'int' | 'bigint' | 'real';

export interface Column {
  name: string;
  type: ColumnType;
  notNull?: boolean;
  /** A literal default (number or quoted string), the same on both engines. */
  default?: number | string;
}

export interface TableDef {
  name: string;
  columns: Column[];
  primaryKey: string[];
}

export interface IndexDef {
  name: string;
  table: string;
  columns: string[];
  unique?: boolean;
}

export type Step =
  | { createTable: TableDef }
  | { createIndex: IndexDef }
  | { addColumn: { table: string; column: Column } }
  /** Escape hatch for what the DSL does not say: the SQL for each engine. */
  | { sql: Record<Engine, string> };

export interface ServerMigration {
  version: number;
  name: string;
  steps: Step[];
}

const TYPES: Record<Engine, Record<ColumnType, string>> = {
  postgres: { text: 'TEXT', int: 'INTEGER', bigint: 'BIGINT', real: 'DOUBLE PRECISION' },
  sqlite: { text: 'TEXT', int: 'INTEGER', bigint: 'INTEGER', real: 'REAL' },
};

const quote = (name: string) => `"${name}"`;

function columnSql(engine: Engine, c: Column): string {
  const def = c.default === undefined ? '' : ` DEFAULT ${typeof c.default === 'number' ? c.default : `'${c.default.replace(/'/g, "''")}'`}`;
  return `${quote(c.name)} ${TYPES[engine][c.type]}${c.notNull ? ' NOT NULL' : ''}${def}`;
}

export function renderStep(engine: Engine, step: Step): string {
  if ('createTable' in step) {
    const t = step.createTable;
    const cols = t.columns.map((c) => '  ' + columnSql(engine, c));
    cols.push(`  PRIMARY KEY (${t.primaryKey.map(quote).join(', ')})`);
    return `CREATE TABLE ${quote(t.name)} (\n${cols.join(',\n')}\n)`;
  }
  if ('createIndex' in step) {
    const i = step.createIndex;
    return `CREATE ${i.unique ? 'UNIQUE ' : ''}INDEX ${quote(i.name)} ON ${quote(i.table)} (${i.columns.map(quote).join(', ')})`;
  }
  if ('addColumn' in step) return `ALTER TABLE ${quote(step.addColumn.table)} ADD COLUMN ${columnSql(engine, step.addColumn.column)}`;
  return step.sql[engine];
}

const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`;
// Any constant: the advisory lock that serialises migrations across instances.
const PG_MIGRATION_LOCK = 74_276_512;

async function appliedVersions(q: Queryable): Promise<Set<number>> {
  return new Set((await q.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => Number(r.version)));
}

/** Applies every migration not yet applied, in order. Returns the versions applied now. */
export async function migrate(sql: Sql, migrations: readonly ServerMigration[]): Promise<number[]> {
  const latest = migrations.reduce((m, x) => Math.max(m, x.version), 0);
  if (sql.engine === 'sqlite') await (sql as SqliteSql).execScript(MIGRATIONS_TABLE);
  else
    await sql.query(MIGRATIONS_TABLE).catch(async (err: unknown) => {
      // Two instances creating it at once: one loses the race on the catalog; the table exists either way.
      if (!(await sql.query(`SELECT to_regclass('schema_migrations') AS t`))[0]?.t) throw err;
    });
  const applied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    const done = await sql.tx(async (q) => {
      if (q.engine === 'postgres') await q.query(`SELECT pg_advisory_xact_lock(${PG_MIGRATION_LOCK})`);
      const have = await appliedVersions(q);
      const newest = Math.max(0, ...have);
      if (newest > latest)
        throw new Error(
          `the sync server database has schema version ${newest}, newer than this server knows (${latest}); refusing to run an older server on it`,
        );
      if (have.has(m.version)) return false;
      for (const step of m.steps) await q.query(renderStep(q.engine, step));
      await q.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, new Date().toISOString()]);
      return true;
    });
    if (done) applied.push(m.version);
  }
  return applied;
}

export async function schemaVersion(sql: Sql): Promise<number> {
  const rows = await sql.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
  return Number(rows[0]?.v ?? 0);
}

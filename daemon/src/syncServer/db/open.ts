import { join } from 'node:path';
import type { Logger } from '../../logging.js';
import type { SyncServerConfig } from '../config.js';
import { SERVER_MIGRATIONS } from './migrations.js';
import { PostgresSql } from './postgres.js';
import { migrate } from './schema.js';
import type { Sql } from './sql.js';
import { SqliteSql } from './sqlite.js';

/** The SQLite fallback file in the data directory (the original relay's was cloud_blink.db). */
export const SQLITE_FILE = 'blink_sync.db';

/** Opens the configured database (PostgreSQL when a URL is set, else the SQLite fallback) and brings its schema up to date. */
export async function openServerDatabase(config: SyncServerConfig, log: Logger, options: { migrate?: boolean } = {}): Promise<Sql> {
  const sql: Sql = config.databaseUrl ? new PostgresSql(config.databaseUrl, config.database, log) : new SqliteSql(join(config.dataDir, SQLITE_FILE));
  if (options.migrate !== false) {
    try {
      const applied = await migrate(sql, SERVER_MIGRATIONS);
      if (applied.length) log.info({ applied, database: sql.describe() }, 'sync server schema migrated');
    } catch (err) {
      await sql.close().catch(() => undefined);
      throw err;
    }
  }
  return sql;
}

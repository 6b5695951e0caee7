/**
 * The sync server's schema: one description, forward-only migrations on both engines;
 * instances starting together on one PostgreSQL migrate once; a later migration applies over
 * existing data; a database newer than the server is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging.js';
import { SERVER_MIGRATIONS } from '../../src/syncServer/db/migrations.js';
import { openServerDatabase } from '../../src/syncServer/db/open.js';
import { migrate, renderStep, schemaVersion, type ServerMigration } from '../../src/syncServer/db/schema.js';
import { createBackend, ENGINES, serverConfig, type TestBackend } from './harness.js';

const log = createLogger('silent');

describe.each(ENGINES)('sync server migrations (%s)', (engine) => {
  let backend: TestBackend;

  beforeAll(async () => {
    backend = await createBackend(engine);
  });
  afterAll(async () => {
    await backend?.dispose();
  });

  it('instances opening a fresh database (at the same time on PostgreSQL) migrate it exactly once', async () => {
    const cfg = serverConfig(backend);
    // SQLite is the one-instance fallback: a second opener (another process, the operator CLI) waits for the first.
    const dbs =
      engine === 'postgres'
        ? await Promise.all(Array.from({ length: 4 }, () => openServerDatabase(cfg, log)))
        : [await openServerDatabase(cfg, log), await openServerDatabase(cfg, log)];
    try {
      for (const db of dbs) expect(await schemaVersion(db)).toBe(SERVER_MIGRATIONS.length);
      expect(await dbs[0]!.query('SELECT version FROM schema_migrations')).toHaveLength(SERVER_MIGRATIONS.length);
    } finally {
      for (const db of dbs) await db.close();
    }
  });

  it('applies a later migration over existing data, forward only, and refuses a database newer than the server', async () => {
    const cfg = serverConfig(backend);
    const db = await openServerDatabase(cfg, log);
    try {
      await db.query(`INSERT INTO orgs (id, name, legacy, created_at) VALUES ('keep', 'Kept', 0, '2025-01-01T00:00:00Z')`);
      const next: ServerMigration = {
        version: SERVER_MIGRATIONS.length + 1,
        name: 'test: a new column',
        steps: [{ addColumn: { table: 'orgs', column: { name: 'region', type: 'text', notNull: true, default: 'eu' } } }],
      };
      expect(await migrate(db, [...SERVER_MIGRATIONS, next])).toEqual([next.version]);
      expect(await migrate(db, [...SERVER_MIGRATIONS, next])).toEqual([]);
      expect(await db.query(`SELECT id, region FROM orgs WHERE id = 'keep'`)).toEqual([{ id: 'keep', region: 'eu' }]);
      await expect(migrate(db, SERVER_MIGRATIONS)).rejects.toThrow(/newer than this server knows/);
    } finally {
      await db.close();
    }
  });

  it('renders one description for each engine', () => {
    const t = { createTable: { name: 't', primaryKey: ['a'], columns: [{ name: 'a', type: 'bigint' as const, notNull: true }] } };
    expect(renderStep('postgres', t)).toContain('"a" BIGINT NOT NULL');
    expect(renderStep('sqlite', t)).toContain('"a" INTEGER NOT NULL');
  });
});

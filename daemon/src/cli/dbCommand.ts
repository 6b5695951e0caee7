import { existsSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import { Store, databasePath } from '../store/store.js';
import { MIGRATIONS } from '../store/migrations.js';
import { parseCommandArgs, UsageError } from './args.js';

/** `blinkd db status`: database file, schema version (migrating to the latest), row counts, outbox depths. */
export async function dbCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'status') throw new UsageError(`unknown db subcommand "${sub ?? ''}" (expected: db status)`);
  const { values } = parseCommandArgs(rest, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } }, false);
  const { config } = loadConfig({ path: values.config });
  const file = databasePath(config);
  const existed = existsSync(file);
  const store = Store.open(file);
  try {
    const status = { ...store.status(), created: !existed, latestSchema: Math.max(...MIGRATIONS.map((m) => m.version)) };
    if (values.json) process.stdout.write(JSON.stringify(status, null, 2) + '\n');
    else for (const [k, v] of Object.entries(status)) process.stdout.write(`${k.padEnd(14)} ${String(v)}\n`);
  } finally {
    store.close();
  }
  return 0;
}

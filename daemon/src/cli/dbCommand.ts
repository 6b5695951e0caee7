import { existsSync } from 'node:fs';
import { loadEffectiveConfig } from '../config/effective.js';
import { loadConfig } from '../config/load.js';
import { EventBus } from '../events.js';
import { createLogger } from '../logging.js';
import { PeopleRegistry } from '../registry/peopleRegistry.js';
import { Store, databasePath } from '../store/store.js';
import { MIGRATIONS } from '../store/migrations.js';
import { DatabaseDamagedError } from '../store/database.js';
import { parseCommandArgs, UsageError } from './args.js';

/** `blinkd db status`: database file, schema version (migrating to the latest), row counts, outbox depths. */
export async function dbCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'status') throw new UsageError(`unknown db subcommand "${sub ?? ''}" (expected: db status)`);
  const { values } = parseCommandArgs(rest, { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } }, false);
  let file = databasePath(loadConfig({ path: values.config }).config);
  const existed = existsSync(file);
  let store: Store;
  try {
    // The saved settings (read from the database itself) may move nothing that matters here, but
    // reading them is the first touch of a damaged file.
    file = databasePath(loadEffectiveConfig({ path: values.config }).config);
    store = Store.open(file);
  } catch (err) {
    if (!(err instanceof DatabaseDamagedError)) throw err;
    if (values.json) process.stdout.write(JSON.stringify({ file, integrity: 'damaged', detail: err.detail }, null, 2) + '\n');
    else process.stdout.write(`file           ${file}\nintegrity      DAMAGED\n\n${err.message}\n`);
    return 65;
  }
  try {
    const registry = new PeopleRegistry(store, store.audit, new EventBus(), createLogger('silent'));
    const status = {
      ...store.status(),
      integrity: 'ok',
      people: registry.count(),
      templates: registry.templateCount(),
      created: !existed,
      latestSchema: MIGRATIONS.reduce((m, x) => Math.max(m, x.version), 0),
    };
    if (values.json) process.stdout.write(JSON.stringify(status, null, 2) + '\n');
    else for (const [k, v] of Object.entries(status)) process.stdout.write(`${k.padEnd(14)} ${String(v)}\n`);
  } finally {
    store.close();
  }
  return 0;
}

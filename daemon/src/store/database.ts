import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { MIGRATIONS, type Migration } from './migrations.js';

export type Db = Database.Database;

/**
 * SQLite's page cache per connection, in KiB (2 MB). better-sqlite3 builds SQLite with a 16 MB
 * default (SQLITE_DEFAULT_CACHE_SIZE=-16000), and a gallery build that reads every template page
 * fills all of it; the pages stay resident for the life of the connection. A door unit's queries
 * are point reads and small writes, and the OS page cache holds the file anyway, so 2 MB costs
 * little and keeps ~14 MB out of the daemon's RSS (docs/BENCHMARKS.md, Issue 16 gallery).
 */
export const PAGE_CACHE_KIB = 2048;

export interface OpenOptions {
  readonly?: boolean;
  migrations?: readonly Migration[];
}

/**
 * Opens the unit's SQLite database: WAL journal (readers never block the writer),
 * synchronous=FULL (a decision reported as written survives a crash or power cut: the
 * WAL is fsynced at every commit; a door unit writes a few rows a minute, so the cost is
 * irrelevant), foreign keys on, secure_delete, and a busy timeout for the admin/CLI sharing the file.
 */
export function openDatabase(file: string, options: OpenOptions = {}): Db {
  if (!options.readonly && file !== ':memory:') createPrivately(file);
  let db: Db;
  try {
    db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    db.pragma('busy_timeout = 5000');
    db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
    db.pragma('schema_version'); // reads the header: "not a database" surfaces here, for read-only opens too
  } catch (err) {
    throw damagedOr(err, file);
  }
  if (file !== ':memory:' && !options.readonly) {
    // (Read-only opens — the settings overlay of a CLI command — skip it: the command's own writable
    // open checks.) A damaged file must stop the unit with a message that says so and what to do — not a crash
    // loop on the first query that happens to touch a bad page. quick_check reads every page
    // (O(size): ~0.1 s for 50 MB here) but skips the index-content cross-checks of integrity_check.
    let problems: string[];
    try {
      problems = (db.pragma('quick_check(5)') as Array<{ quick_check: string }>).map((r) => r.quick_check);
    } catch (err) {
      db.close();
      throw damagedOr(err, file);
    }
    if (problems.length !== 1 || problems[0] !== 'ok') {
      db.close();
      throw new DatabaseDamagedError(file, problems.join('; '));
    }
  }
  // Deleted rows (templates, face thumbnails, a forgotten person's name) are overwritten with
  // zeros, not left in free space where a carving tool reads them back from a stolen SD card.
  db.pragma('secure_delete = ON');
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db, options.migrations ?? MIGRATIONS);
  }
  return db;
}

/**
 * The database file fails SQLite's checks (not a database, malformed pages): blinkd stops with
 * exit status 65 (EX_DATAERR, which the systemd unit does not restart) and this message.
 */
export class DatabaseDamagedError extends Error {
  constructor(
    readonly file: string,
    readonly detail: string,
  ) {
    const name = basename(file);
    super(
      [
        `the database ${file} is damaged (${detail.slice(0, 300)}); nothing was changed.`,
        'To recover, stop blinkd (systemctl stop blinkd) and either',
        `  - restore a backup copy of ${name} into ${dirname(file)}, or`,
        `  - move the damaged file aside and start again with an empty database: cd ${dirname(file)} && for f in ${name} ${name}-wal ${name}-shm; do [ -e "$f" ] && mv "$f" "$f.damaged-$(date +%Y%m%d%H%M%S)"; done`,
        '    (people come back from the sync server when sync is on, otherwise they must be enrolled again;',
        '    keep the damaged copy: `sqlite3 FILE .recover` often rescues most rows).',
        'Then check the SD card or disk: damage usually means failing storage or a power cut during a write with the write cache on.',
      ].join('\n'),
    );
    this.name = 'DatabaseDamagedError';
  }
}

/** SQLite's "this is not a database / it is corrupt" errors become DatabaseDamagedError; others pass. */
function damagedOr(err: unknown, file: string): Error {
  const code = (err as { code?: string }).code ?? '';
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) return new DatabaseDamagedError(file, (err as Error).message);
  return err as Error;
}

/**
 * The data folder is created 0700 and a new database file 0600 whatever the umask (CLI use outside
 * systemd runs with 022): it holds templates, names and password hashes. SQLite gives its -wal and
 * -shm files the database file's permissions. An existing file is left as the operator set it.
 */
function createPrivately(file: string): void {
  const dir = dirname(file);
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700); // mkdir's mode is filtered by the umask
  }
  if (!existsSync(file)) {
    try {
      closeSync(openSync(file, 'wx', 0o600));
      chmodSync(file, 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Applies every migration above the current user_version, each in its own transaction. Returns those applied. */
export function migrate(db: Db, migrations: readonly Migration[] = MIGRATIONS): number[] {
  const applied: number[] = [];
  const current = schemaVersion(db);
  const latest = migrations.reduce((m, x) => Math.max(m, x.version), 0);
  if (current > latest) {
    throw new Error(`database schema version ${current} is newer than this blinkd knows (${latest}); refusing to downgrade`);
  }
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
    applied.push(m.version);
  }
  return applied;
}

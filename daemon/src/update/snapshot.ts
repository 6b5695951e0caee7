import Database from 'better-sqlite3';
import { chmodSync, chownSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, closeSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fsyncDir } from './state.js';

/**
 * Database snapshots around an update (owner: the Updater; the Store owns the database itself).
 * A snapshot is SQLite's online backup of the whole database (WAL included) into its own file,
 * taken with the daemon stopped, before the new release's migrations can run.
 */
export async function snapshotDatabase(dbFile: string, dir: string, label: string): Promise<string | null> {
  if (!existsSync(dbFile)) return null;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const dest = join(dir, `${label}-${new Date().toISOString().replace(/[:.]/g, '-')}.db`);
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    await db.backup(dest);
  } finally {
    db.close();
  }
  chmodSync(dest, 0o600);
  const fd = openSync(dest, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  fsyncDir(dir);
  return dest;
}

/**
 * Puts a snapshot back as the database (the daemon must be stopped). `snapshot` null means there
 * was no database before the update: whatever the new release created is removed. The restored
 * file keeps the owner of the file it replaces, and the old -wal/-shm files go first so SQLite
 * never replays a newer journal onto the older database.
 */
export function restoreDatabase(dbFile: string, snapshot: string | null): void {
  const sidecars = [`${dbFile}-wal`, `${dbFile}-shm`, `${dbFile}-journal`];
  if (snapshot === null) {
    for (const f of [...sidecars, dbFile]) rmSync(f, { force: true });
    return;
  }
  if (!existsSync(snapshot)) throw new Error(`the database snapshot ${snapshot} is missing: cannot restore the database`);
  const owner = existsSync(dbFile) ? statSync(dbFile) : statSync(dirname(dbFile));
  const tmp = `${dbFile}.restore-${process.pid}`;
  copyFileSync(snapshot, tmp);
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  try {
    chownSync(tmp, owner.uid, owner.gid);
  } catch {
    // not root: the file is ours already
  }
  for (const f of sidecars) rmSync(f, { force: true });
  renameSync(tmp, dbFile);
  fsyncDir(dirname(dbFile));
}

/** Keeps the newest `keep` snapshots in `dir`, never the ones in `protect`. */
export function pruneSnapshots(dir: string, keep: number, protect: readonly (string | null)[]): void {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.db'));
  } catch {
    return;
  }
  const sorted = files.map((f) => join(dir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  for (const f of sorted.slice(keep)) if (!protect.includes(f)) rmSync(f, { force: true });
}

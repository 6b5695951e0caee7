import { CONFIG_VERSION } from './schema.js';

/**
 * The configuration layout's history. Unknown keys are fatal (a typo on a door controller must not
 * fall back to a default), so a key renamed in a new release would brick every unit that upgrades
 * with its old file; instead each rename is listed here with the layout version that introduced it,
 * and older files (and settings saved in the admin under an old name) are carried over at load with
 * a warning naming the new key. A file without `version` has layout 1.
 */
export interface ConfigMigration {
  /** The layout version this step produces. */
  version: number;
  why: string;
  /** [old key path, new key path] */
  renames: Array<[string, string]>;
  /** Key paths that no longer mean anything: removed at load with a note (never silently kept or fatal). */
  retired?: string[];
}

export const CONFIG_MIGRATIONS: readonly ConfigMigration[] = [
  {
    version: 2,
    why: 'the cloud side is called the sync server ("relay" is the door relay); a unit authenticates with its own device key and templates are sealed with the organisation key ring, so the shared API key and raw AES key of layout 1 are not used (sync could not be enabled in layout 1)',
    renames: [['sync.relayUrl', 'sync.serverUrl']],
    retired: ['sync.apiKey', 'sync.encryptionKey'],
  },
];

export interface MigrationResult {
  raw: Record<string, unknown>;
  /** One line per change made, for the log. */
  notes: string[];
  /** The version the file said it had. */
  fromVersion: number;
}

function take(obj: Record<string, unknown>, path: string): { found: boolean; value: unknown } {
  const keys = path.split('.');
  let cur: unknown = obj;
  for (const k of keys.slice(0, -1)) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return { found: false, value: undefined };
    cur = (cur as Record<string, unknown>)[k];
  }
  const last = keys[keys.length - 1]!;
  if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !(last in (cur as object))) return { found: false, value: undefined };
  const value = (cur as Record<string, unknown>)[last];
  delete (cur as Record<string, unknown>)[last];
  return { found: true, value };
}

function put(obj: Record<string, unknown>, path: string, value: unknown): boolean {
  const keys = path.split('.');
  let cur: Record<string, unknown> = obj;
  for (const k of keys.slice(0, -1)) {
    const next = cur[k];
    if (next === undefined) cur[k] = {};
    else if (next === null || typeof next !== 'object' || Array.isArray(next)) return false;
    cur = cur[k] as Record<string, unknown>;
  }
  const last = keys[keys.length - 1]!;
  if (last in cur) return false;
  cur[last] = value;
  return true;
}

/**
 * Brings a raw configuration object (a parsed file) to the current layout, in place. Throws an
 * Error (the caller turns it into a ConfigError) for a file written by a newer blinkd or with a
 * version that is not a whole number.
 */
export function migrateConfig(
  raw: Record<string, unknown>,
  migrations: readonly ConfigMigration[] = CONFIG_MIGRATIONS,
  current = CONFIG_VERSION,
): MigrationResult {
  const stated = raw.version;
  const fromVersion = stated === undefined ? 1 : stated;
  if (typeof fromVersion !== 'number' || !Number.isInteger(fromVersion) || fromVersion < 1) {
    throw new Error(`version: got ${JSON.stringify(stated)}, expected a layout version from 1 to ${current}`);
  }
  if (fromVersion > current) throw new Error(`version: got ${fromVersion}, expected at most ${current}: this file was written for a newer blinkd`);
  const notes: string[] = [];
  for (const m of migrations) {
    if (m.version <= fromVersion || m.version > current) continue;
    for (const [from, to] of m.renames) {
      const old = take(raw, from);
      if (!old.found) continue;
      if (put(raw, to, old.value)) notes.push(`${from} is now ${to} (${m.why}): carried over; write ${to} in the file`);
      else notes.push(`${from} is now ${to} (${m.why}): both are set, ${from} was ignored`);
    }
    for (const path of m.retired ?? []) {
      if (take(raw, path).found) notes.push(`${path} is no longer used (layout ${m.version}): ignored; remove it from the file`);
    }
  }
  if (fromVersion < current || stated !== undefined) raw.version = current;
  return { raw, notes, fromVersion };
}

/** The current name of a key path that may be saved under an older name (settings saved in the admin). */
export function currentKeyPath(path: string, migrations: readonly ConfigMigration[] = CONFIG_MIGRATIONS): string {
  let p = path;
  for (const m of migrations) for (const [from, to] of m.renames) if (p === from) p = to;
  return p;
}

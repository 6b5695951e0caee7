import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The unit id when the configuration leaves `unit.id` empty. Owner of `<store.dataDir>/unit-id`:
 * written once (at first boot, `blinkd firstboot`) and read by the config loader. Without the file
 * the id is derived from the host name, as before; an image's units all share one host name, so
 * first boot writes `<hostname>-<6 random hex>`, unique per unit and stable after.
 */
const ID = /^[A-Za-z0-9_-]{1,64}$/;

export function unitIdFile(dataDir: string): string {
  return join(resolve(dataDir), 'unit-id');
}

/** The id derived from the host name (what an empty `unit.id` meant before the file existed). */
export function hostnameUnitId(): string {
  return (
    hostname()
      .replace(/[^A-Za-z0-9_-]/g, '-')
      .slice(0, 64) || 'blink'
  );
}

/** The saved id, or null when there is none (a file with anything else in it is an error, not ignored). */
export function readUnitId(dataDir: string): string | null {
  const file = unitIdFile(dataDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
  if (!ID.test(text)) throw new Error(`${file}: expected a unit id (letters, digits, _ or -, at most 64), found something else`);
  return text;
}

/**
 * Writes the unit id once and returns it. `keep` is the id a unit that has run before already uses
 * (pinned so it never changes under its MQTT topics and sync device); otherwise a new one is made.
 */
export function ensureUnitId(dataDir: string, keep: string | null): { id: string; created: boolean } {
  const saved = readUnitId(dataDir);
  if (saved) return { id: saved, created: false };
  const base = hostnameUnitId().slice(0, 57);
  const id = keep ?? `${base}-${randomBytes(3).toString('hex')}`;
  if (!ID.test(id)) throw new Error(`unit id "${id.slice(0, 80)}": letters, digits, _ or - (at most 64)`);
  const file = unitIdFile(dataDir);
  mkdirSync(resolve(dataDir), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, id + '\n', { mode: 0o644 });
  chmodSync(tmp, 0o644);
  renameSync(tmp, file);
  return { id, created: true };
}

export function hasUnitIdFile(dataDir: string): boolean {
  return existsSync(unitIdFile(dataDir));
}

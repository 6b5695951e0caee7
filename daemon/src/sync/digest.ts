/**
 * The reconciliation digest of an organisation's live people: their count and a SHA-256 over
 * "id<TAB>version<LF>" lines sorted by id (UTF-16 code unit order, as JavaScript sorts, so no
 * database collation decides it). A unit compares it with its own to detect drift and resync.
 */
import { createHash } from 'node:crypto';

export function peopleDigest(entries: Iterable<{ id: string; version: number }>): { count: number; sha256: string } {
  const list = [...entries].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const h = createHash('sha256');
  for (const e of list) h.update(`${e.id}\t${e.version}\n`);
  return { count: list.length, sha256: h.digest('hex') };
}

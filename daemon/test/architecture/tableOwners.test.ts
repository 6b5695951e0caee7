import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { openDatabase } from '../../src/store/database.js';
import { REPO_ROOT, tempDir } from '../helpers/blinkd.js';

/**
 * "No module outside a table's owner prepares SQL against that table": the owners are read from
 * docs/ARCHITECTURE.md (so the document stays true), every table of the schema must have one, and
 * every SQL statement in daemon/src that names a table must be in that table's owner.
 */
function owners(): Map<string, string> {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'ARCHITECTURE.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Table → owner'), doc.indexOf('## The bus'));
  return new Map([...section.matchAll(/^\| `([a-z_]+)` \| `([^`]+)` \|/gm)].map((m) => [m[1]!, m[2]!]));
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('every table has one owner, and only the owner writes SQL against it', () => {
  it('docs/ARCHITECTURE.md names an owner for every table of the schema, and only real tables', () => {
    const t = tempDir('blink-tables-');
    const db = openDatabase(join(t.dir, 'blink.db'));
    try {
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as Array<{ name: string }>).map(
        (r) => r.name,
      );
      expect([...owners().keys()].sort()).toEqual(tables.sort());
      for (const file of owners().values()) expect(() => statSync(join(REPO_ROOT, file))).not.toThrow();
    } finally {
      db.close();
      t.cleanup();
    }
  });

  it('no module outside its owner names a table in SQL', () => {
    const own = owners();
    const tables = [...own.keys()];
    const statement = new RegExp(`\\b(?:FROM|INTO|UPDATE|JOIN|TABLE)\\s+(${tables.join('|')})\\b`, 'g');
    const offenders: string[] = [];
    for (const file of sources(join(REPO_ROOT, 'daemon', 'src'))) {
      const rel = relative(REPO_ROOT, file);
      if (rel === join('daemon', 'src', 'store', 'migrations.ts')) continue; // the schema itself
      for (const m of readFileSync(file, 'utf8').matchAll(statement)) {
        if (own.get(m[1]!) !== rel) offenders.push(`${rel}: ${m[0]} (owner: ${own.get(m[1]!)})`);
      }
    }
    expect(offenders).toEqual([]);
  });
});

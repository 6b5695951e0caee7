import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { openDatabase } from '../../src/store/database.js';
import { SERVER_MIGRATIONS } from '../../src/syncServer/db/migrations.js';
import { REPO_ROOT, tempDir } from '../helpers/blinkd.js';

/**
 * "No module outside a table's owner prepares SQL against that table": the owners are read from
 * docs/ARCHITECTURE.md (so the document stays true), every table of the schema must have one, and
 * every SQL statement in daemon/src that names a table must be in that table's owner.
 */
function section(which: 'unit' | 'server'): string {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'ARCHITECTURE.md'), 'utf8');
  const unit = doc.slice(doc.indexOf('## Table → owner'), doc.indexOf('## The bus'));
  const cut = unit.indexOf("### The sync server's tables");
  return which === 'unit' ? unit.slice(0, cut) : unit.slice(cut);
}

function owners(which: 'unit' | 'server' = 'unit'): Map<string, string> {
  return new Map([...section(which).matchAll(/^\| `([a-z_]+)` \| `([^`]+)` \|/gm)].map((m) => [m[1]!, m[2]!]));
}

/** Sync server tables: the modules that may read each one in a join (third column). */
function joinReaders(): Map<string, string[]> {
  return new Map(
    [...section('server').matchAll(/^\| `([a-z_]+)` \| `[^`]+` \|([^\n]*)\|$/gm)].map((m) => [m[1]!, [...m[2]!.matchAll(/`([^`]+\.ts)`/g)].map((r) => r[1]!)]),
  );
}

const SYNC_SERVER = join('daemon', 'src', 'syncServer');

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

  it("docs/ARCHITECTURE.md names an owner for every table of the sync server's schema, and only real tables", () => {
    const created = SERVER_MIGRATIONS.flatMap((m) => m.steps.flatMap((s) => ('createTable' in s ? [s.createTable.name] : [])));
    expect([...owners('server').keys()].sort()).toEqual(created.sort());
    for (const file of [...owners('server').values(), ...[...joinReaders().values()].flat()]) expect(() => statSync(join(REPO_ROOT, file))).not.toThrow();
  });

  it("no sync server module outside a table's owner writes it, and only named readers join it", () => {
    const own = owners('server');
    const readers = joinReaders();
    const statement = new RegExp(`\\b(FROM|INTO|UPDATE|JOIN|TABLE)\\s+"?(${[...own.keys()].join('|')})\\b`, 'g');
    const offenders: string[] = [];
    for (const file of sources(join(REPO_ROOT, SYNC_SERVER))) {
      const rel = relative(REPO_ROOT, file);
      if (rel === join(SYNC_SERVER, 'db', 'migrations.ts')) continue; // the schema itself
      for (const m of readFileSync(file, 'utf8').matchAll(statement)) {
        const [, verb, table] = m as unknown as [string, string, string];
        const reads = verb === 'FROM' || verb === 'JOIN';
        if (own.get(table) !== rel && !(reads && readers.get(table)?.includes(rel))) offenders.push(`${rel}: ${m[0]} (owner: ${own.get(table)})`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('no module outside its owner names a table in SQL', () => {
    const own = owners();
    const tables = [...own.keys()];
    const statement = new RegExp(`\\b(?:FROM|INTO|UPDATE|JOIN|TABLE)\\s+(${tables.join('|')})\\b`, 'g');
    const offenders: string[] = [];
    for (const file of sources(join(REPO_ROOT, 'daemon', 'src'))) {
      const rel = relative(REPO_ROOT, file);
      if (rel === join('daemon', 'src', 'store', 'migrations.ts')) continue; // the schema itself
      if (rel.startsWith(SYNC_SERVER)) continue; // another database, checked above
      for (const m of readFileSync(file, 'utf8').matchAll(statement)) {
        if (own.get(m[1]!) !== rel) offenders.push(`${rel}: ${m[0]} (owner: ${own.get(m[1]!)})`);
      }
    }
    expect(offenders).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { migrate, openDatabase, schemaVersion } from '../../src/store/database.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { Store } from '../../src/store/store.js';
import { PeopleTable } from '../../src/registry/peopleTable.js';
import { TemplatesTable } from '../../src/registry/templatesTable.js';
import { tempDir } from '../helpers/blinkd.js';

const EXPECTED_TABLES = [
  'access_events',
  'admin_sessions',
  'admin_users',
  'attendance',
  'audit_log',
  'auth_attempts',
  'face_templates',
  'face_thumbnails',
  'mqtt_outbox',
  'people',
  'settings',
  'sync_outbox',
];

describe('store migrations', () => {
  it('apply from an empty file, in WAL mode, to the latest version', () => {
    const t = tempDir();
    try {
      const db = openDatabase(join(t.dir, 'sub', 'blink.db'));
      const latest = Math.max(...MIGRATIONS.map((m) => m.version));
      expect(schemaVersion(db)).toBe(latest);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'").all() as Array<{ name: string }>).map(
        (r) => r.name,
      );
      for (const t of EXPECTED_TABLES) expect(tables).toContain(t);
      db.close();
    } finally {
      t.cleanup();
    }
  });

  it('are idempotent: reopening applies nothing and keeps the data', () => {
    const t = tempDir();
    try {
      const file = join(t.dir, 'blink.db');
      const s1 = Store.open(file);
      const p = new PeopleTable(s1.db).create({ name: 'Ada' });
      s1.close();
      const db = openDatabase(file);
      expect(migrate(db)).toEqual([]);
      db.close();
      const s2 = Store.open(file);
      expect(new PeopleTable(s2.db).get(p.id)?.name).toBe('Ada');
      s2.close();
    } finally {
      t.cleanup();
    }
  });

  it('apply only the new ones, in order, and roll back a failing one', () => {
    const t = tempDir();
    try {
      const file = join(t.dir, 'blink.db');
      openDatabase(file).close();
      const base = Math.max(...MIGRATIONS.map((m) => m.version));
      const extra = [...MIGRATIONS, { version: base + 1, name: 'x', sql: 'CREATE TABLE x (a INTEGER);' }];
      const db = openDatabase(file, { migrations: extra });
      expect(schemaVersion(db)).toBe(base + 1);
      db.close();
      const broken = [...extra, { version: base + 2, name: 'broken', sql: 'CREATE TABLE y (a INTEGER); INSERT INTO nope VALUES (1);' }];
      expect(() => openDatabase(file, { migrations: broken })).toThrow(/nope/);
      const again = openDatabase(file, { migrations: extra });
      expect(schemaVersion(again)).toBe(base + 1);
      expect(again.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'y'").get()).toEqual({ n: 0 });
      again.close();
      expect(() => openDatabase(file)).toThrow(/newer than this blinkd knows/);
    } finally {
      t.cleanup();
    }
  });

  it('delete a person with their templates and attendance (erasure cascades)', () => {
    const t = tempDir();
    try {
      const s = Store.open(join(t.dir, 'blink.db'));
      const people = new PeopleTable(s.db);
      const templates = new TemplatesTable(s.db);
      const p = people.create({ name: 'Bob' });
      templates.add(p.id, 'm', new Float32Array([0.6, 0.8]), 0.9);
      const e = s.events.insert({ result: 'GRANTED', reason: 'match', personId: p.id, personName: 'Bob', score: 0.9 });
      s.attendance.add({ personId: p.id, day: '2026-01-05', kind: 'CHECK_IN', status: 'ON_TIME', ts: e.ts, eventId: e.id });
      expect(templates.forPerson(p.id)[0]?.embedding[1]).toBeCloseTo(0.8, 6);
      people.remove(p.id);
      expect(templates.count()).toBe(0);
      expect(s.attendance.query()).toHaveLength(0);
      expect(s.events.count()).toBe(1); // the decision itself stays on record
      s.close();
    } finally {
      t.cleanup();
    }
  });
});

import { spawnSync } from 'node:child_process';
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { BLINKD, tempDir } from '../helpers/blinkd.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BLINK_')));

function blinkd(args: string[], dataDir: string, umask = '022') {
  // The umask of a shell outside systemd: files would be 0644 unless blinkd makes them private.
  return spawnSync('sh', ['-c', `umask ${umask} && exec "$0" "$@"`, process.execPath, BLINKD, ...args], {
    cwd: dataDir,
    env: { ...baseEnv, BLINK_STORE__DATA_DIR: join(dataDir, 'data'), BLINK_DOOR__DRIVER: 'simulated', BLINK_ADMIN__PORT: '0' },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

/** A real database with a few thousand decisions, then garbage written over pages in the middle. */
function damagedDatabase(dir: string, where: 'header' | 'pages'): string {
  const file = join(dir, 'data', 'blink.db');
  const store = Store.open(file);
  store.transaction(() => {
    for (let i = 0; i < 3000; i++)
      store.events.insert({ result: 'DENIED', reason: 'unknown_face', score: 0.3, ts: new Date(1_700_000_000_000 + i * 1000).toISOString() });
  });
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  store.close();
  const size = statSync(file).size;
  const fd = openSync(file, 'r+');
  const junk = Buffer.alloc(where === 'header' ? 100 : 3 * 4096, 0xa5);
  writeSync(fd, junk, 0, junk.length, where === 'header' ? 0 : Math.floor(size / 2 / 4096) * 4096);
  closeSync(fd);
  return file;
}

describe('a damaged database (issue 11)', () => {
  for (const where of ['pages', 'header'] as const) {
    it(`(${where} overwritten) stops blinkd run with exit 65 and recovery steps, and db status says DAMAGED`, () => {
      const t = tempDir('blink-damaged-');
      cleanups.push(t.cleanup);
      const file = damagedDatabase(t.dir, where);
      const run = blinkd(['run'], t.dir);
      expect(run.status, run.stderr).toBe(65);
      expect(run.stderr).toContain(`the database ${file} is damaged`);
      expect(run.stderr).toMatch(/restore a backup copy of blink\.db/);
      expect(run.stderr).toMatch(/move the damaged file aside/);
      const status = blinkd(['db', 'status'], t.dir);
      expect(status.status).toBe(65);
      expect(status.stdout).toMatch(/integrity\s+DAMAGED/);
      const json = blinkd(['db', 'status', '--json'], t.dir);
      expect(JSON.parse(json.stdout)).toMatchObject({ integrity: 'damaged', file });
    });
  }

  it('db status reports integrity ok on a healthy database', () => {
    const t = tempDir('blink-damaged-');
    cleanups.push(t.cleanup);
    const status = blinkd(['db', 'status', '--json'], t.dir);
    expect(status.status, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ integrity: 'ok' });
  });
});

describe('private files outside systemd (issue 11)', () => {
  it('the data folder is created 0700 and the database, its WAL and shm 0600 under umask 022', () => {
    const t = tempDir('blink-perms-');
    cleanups.push(t.cleanup);
    const r = blinkd(['db', 'status'], t.dir);
    expect(r.status, r.stderr).toBe(0);
    const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
    expect(mode(join(t.dir, 'data'))).toBe('700');
    expect(mode(join(t.dir, 'data', 'blink.db'))).toBe('600');
    const store = Store.open(join(t.dir, 'data', 'blink.db'));
    store.events.insert({ result: 'DENIED', reason: 'unknown_face', score: 0.3, ts: new Date().toISOString() });
    expect(mode(join(t.dir, 'data', 'blink.db-wal'))).toBe('600');
    expect(mode(join(t.dir, 'data', 'blink.db-shm'))).toBe('600');
    store.close();
  });

  it('blinkd enroll refuses a name over 100 characters before reading any photo', () => {
    const t = tempDir('blink-name-');
    cleanups.push(t.cleanup);
    const r = blinkd(['enroll', '--name', 'x'.repeat(300), '/nonexistent.jpg'], t.dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--name: at most 100 characters (got 300)');
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import { createBundle } from '../../src/update/bundle.js';
import type { HealthCheck } from '../../src/update/healthGate.js';
import { Updater, type UpdaterOptions } from '../../src/update/updater.js';
import { REPO_ROOT, tempDir } from '../helpers/blinkd.js';
import { addHardLinkedBuildOutputs, keypair, makeInstalledRoot, makeReleaseTree, migrateLikeNewRelease, readDb } from './fixtures.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function setup() {
  const t = tempDir('blink-update-');
  cleanups.push(t.cleanup);
  const { root, db } = makeInstalledRoot(t.dir, '1.0.0');
  const signer = keypair(t.dir, 'publisher');
  const calls: string[] = [];
  const make = (over: Partial<UpdaterOptions> = {}) =>
    new Updater({
      root,
      databaseFile: db,
      trustedKeys: [createPublicKey(signer.publicPem)],
      service: {
        stop: async () => void calls.push('stop'),
        start: async () => {
          calls.push(`start ${readlinkSync(join(root, 'current'))}`);
          // The release that starts migrates the database (the real Store does this on open).
          if (readlinkSync(join(root, 'current')).endsWith('2.0.0')) migrateLikeNewRelease(db);
        },
      },
      checks: () => [],
      gateDeadlineMs: 2_000,
      gateIntervalMs: 50,
      ...over,
    });
  const bundle = async (version: string, extra: Record<string, string> = {}, key = signer.privatePem) => {
    const tree = makeReleaseTree(join(t.dir, `tree-${version}-${Math.random().toString(36).slice(2)}`), version, extra);
    const out = join(t.dir, `blink-${version}-${Math.random().toString(36).slice(2)}.tar`);
    await createBundle({ dir: tree, privateKeyPem: key, out });
    return out;
  };
  return { dir: t.dir, root, db, signer, calls, make, bundle };
}

const passing: HealthCheck = { name: 'pass', check: async () => ({ ok: true, detail: 'fine' }) };
const relayOn: HealthCheck = { name: 'relay', check: async () => ({ ok: false, detail: 'relay on' }) };

/** Rewrites one member of a tar bundle (unpack, change, repack in the same order). */
async function tamper(bundle: string, work: string, member: string, change: (text: string) => string): Promise<void> {
  rmSync(work, { recursive: true, force: true });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(work, { recursive: true });
  const names: string[] = [];
  await tar.t({ file: bundle, onReadEntry: (e) => void names.push(e.path) });
  await tar.x({ file: bundle, cwd: work });
  writeFileSync(join(work, member), change(readFileSync(join(work, member), 'utf8')));
  rmSync(bundle);
  await tar.c({ file: bundle, cwd: work, portable: true }, names);
}

describe('signed update bundles', () => {
  it('applies a bundle side by side, switches current atomically, and keeps the database it migrated', async () => {
    const s = setup();
    const progress: string[] = [];
    const out = await s.make({ checks: () => [passing], progress: (m) => progress.push(m) }).apply(await s.bundle('2.0.0'));
    expect(out.result).toBe('ok');
    expect(readlinkSync(join(s.root, 'current'))).toBe('releases/2.0.0');
    expect(lstatSync(join(s.root, 'current')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(s.root, 'current/daemon/bin/blinkd.js'), 'utf8')).toContain('2.0.0');
    expect(lstatSync(join(s.root, 'current/daemon/bin/blinkd.js')).mode & 0o777).toBe(0o755);
    expect(readlinkSync(join(s.root, 'current/node_modules/.bin/pkg'))).toBe('../pkg/cli.js');
    expect(existsSync(join(s.root, 'releases/1.0.0/daemon/bin/blinkd.js'))).toBe(true); // the old release stays for rollback
    expect(readlinkSync(join(s.root, 'previous'))).toBe('releases/1.0.0'); // what the boot-time recovery runs
    expect(readDb(s.db)).toEqual({ schema: 2, people: ['Ada', 'Bob'], columns: ['id', 'name', 'badge'] });
    expect(s.calls).toEqual(['stop', 'start releases/2.0.0']);
    expect(progress.join('\n')).toMatch(/\[1\/6\] verifying[\s\S]*\[4\/6\] switching[\s\S]*\[6\/6\] release 2.0.0 passed/);
    const status = s.make().status();
    expect(status).toMatchObject({ current: '2.0.0', interrupted: false, canRollBackTo: '1.0.0' });
    expect(status.state.history.at(-1)).toMatchObject({ action: 'apply', result: 'ok', to: '2.0.0' });
  });

  it('refuses a bundle whose file was changed after signing (sha256) and one whose manifest was changed (signature)', async () => {
    const s = setup();
    const b1 = await s.bundle('2.0.0');
    await tamper(b1, join(s.dir, 'work1'), 'tree/dist/daemon/src/main.js', (t) => t + 'process.exit(0);\n');
    await expect(s.make().apply(b1)).rejects.toThrow('dist/daemon/src/main.js: sha256 does not match the signed manifest');

    const b2 = await s.bundle('2.0.0');
    await tamper(b2, join(s.dir, 'work2'), 'manifest.json', (t) => t.replace('"version": "2.0.0"', '"version": "2.0.1"'));
    await expect(s.make().apply(b2)).rejects.toThrow(/bad signature: the manifest was changed after key [0-9a-f]{16} signed it/);

    const b3 = await s.bundle('2.0.0');
    await tamper(b3, join(s.dir, 'work3'), 'tree/models/face.onnx', (t) => t.slice(1));
    await expect(s.make().apply(b3)).rejects.toThrow('models/face.onnx: sha256 does not match');

    // nothing changed on the unit, and no staging left behind
    expect(readlinkSync(join(s.root, 'current'))).toBe('releases/1.0.0');
    expect(existsSync(join(s.root, 'releases/2.0.0'))).toBe(false);
    expect(readdirSync(join(s.root, 'update/staging'))).toEqual([]);
    expect(s.calls).toEqual([]);
  });

  it('refuses a bundle signed by a key it does not trust, and refuses everything without trusted keys', async () => {
    const s = setup();
    const other = keypair(s.dir, 'someone-else');
    const b = await s.bundle('2.0.0', {}, other.privatePem);
    await expect(s.make().apply(b)).rejects.toThrow(/signed by key [0-9a-f]{16}, which is not trusted here/);
    await expect(s.make({ trustedKeys: [] }).apply(await s.bundle('2.0.0'))).rejects.toThrow('no trusted update keys');
    expect(readlinkSync(join(s.root, 'current'))).toBe('releases/1.0.0');
  });

  it('refuses a bundle with a file the manifest does not list', async () => {
    const s = setup();
    const b = await s.bundle('2.0.0');
    const { mkdirSync } = await import('node:fs');
    const extra = join(s.dir, 'extra');
    mkdirSync(join(extra, 'tree/dist'), { recursive: true });
    writeFileSync(join(extra, 'tree/dist/backdoor.js'), 'evil()');
    await tar.r({ file: b, cwd: extra }, ['tree/dist/backdoor.js']);
    await expect(s.make().apply(b)).rejects.toThrow('tree/dist/backdoor.js'.replace('tree/', '') + ': in the bundle but not in the signed manifest');
  });

  it('bundles hard-linked files (node-gyp build outputs) as ordinary files: the release applies with every path and its bytes', async () => {
    const s = setup();
    const tree = makeReleaseTree(join(s.dir, 'tree-hardlinks'), '2.0.0');
    const linked = addHardLinkedBuildOutputs(tree);
    const file = join(s.dir, 'hardlinks.tar');
    const created = await createBundle({ dir: tree, privateKeyPem: s.signer.privatePem, out: file });
    expect(created.manifest.files.filter((f) => linked.has(f.path) && f.type === 'file')).toHaveLength(6);
    const types = new Map<string, string>();
    await tar.t({ file, onReadEntry: (e) => void types.set(e.path, String(e.type)) });
    for (const p of linked.keys()) expect(types.get(`tree/${p}`), p).toBe('File');

    expect((await s.make({ checks: () => [passing] }).apply(file)).result).toBe('ok');
    for (const [p, bytes] of linked) {
      const installed = join(s.root, 'releases/2.0.0', p);
      expect(readFileSync(installed).equals(bytes), p).toBe(true);
      expect(lstatSync(installed).nlink, p).toBe(1); // each path its own file
    }
  }, 30_000);

  it('refuses a bundle that holds a hard-link (Link) entry, even to a file the manifest lists with the same bytes', async () => {
    const s = setup();
    const same = 'the same bytes under two paths\n';
    const tree = makeReleaseTree(join(s.dir, 'tree-link'), '2.0.0', { 'dist/a.js': same, 'dist/b.js': same });
    const file = join(s.dir, 'link.tar');
    await createBundle({ dir: tree, privateKeyPem: s.signer.privatePem, out: file });
    // Repacked by hand with tree/dist/b.js as a hard link to tree/dist/a.js: node-tar's default packing writes a Link entry.
    const work = join(s.dir, 'work-link');
    mkdirSync(work);
    const names: string[] = [];
    await tar.t({ file, onReadEntry: (e) => void names.push(e.path) });
    await tar.x({ file, cwd: work });
    rmSync(join(work, 'tree/dist/b.js'));
    linkSync(join(work, 'tree/dist/a.js'), join(work, 'tree/dist/b.js'));
    rmSync(file);
    await tar.c({ file, cwd: work, portable: true }, names);
    const types = new Map<string, string>();
    await tar.t({ file, onReadEntry: (e) => void types.set(e.path, String(e.type)) });
    expect(types.get('tree/dist/b.js')).toBe('Link');

    await expect(s.make().apply(file)).rejects.toThrow('the bundle holds entries an update may not: tree/dist/b.js (Link)');
    expect(readlinkSync(join(s.root, 'current'))).toBe('releases/1.0.0');
    expect(existsSync(join(s.root, 'releases/2.0.0'))).toBe(false);
  });

  it('rolls back to the previous release and the database snapshot when the health gate fails', async () => {
    const s = setup();
    const before = readDb(s.db);
    const out = await s.make({ checks: () => [passing, relayOn] }).apply(await s.bundle('2.0.0'));
    expect(out.result).toBe('rolled_back');
    expect(out.detail).toContain('relay: relay on');
    expect(readlinkSync(join(s.root, 'current'))).toBe('releases/1.0.0');
    expect(readDb(s.db)).toEqual(before);
    expect(before).toEqual({ schema: 1, people: ['Ada'], columns: ['id', 'name'] });
    expect(s.calls).toEqual(['stop', 'start releases/2.0.0', 'stop', 'start releases/1.0.0']);
    const st = s.make().status().state;
    expect(st.phase).toBe('idle');
    expect(st.history.at(-1)).toMatchObject({ action: 'apply', result: 'rolled_back', from: '2.0.0', to: '1.0.0' });
  });

  it('applying the same bundle twice is a no-op the second time', async () => {
    const s = setup();
    const b = await s.bundle('2.0.0');
    expect((await s.make({ checks: () => [passing] }).apply(b)).result).toBe('ok');
    const snapshots = readdirSync(join(s.db, '..', 'update-snapshots'));
    const dbBefore = readDb(s.db);
    const mtime = lstatSync(join(s.root, 'current')).mtimeMs;
    s.calls.length = 0;
    const again = await s.make({ checks: () => [passing] }).apply(b);
    expect(again).toMatchObject({ result: 'noop', from: '2.0.0', to: '2.0.0' });
    expect(s.calls).toEqual([]); // the daemon was not even restarted
    expect(readdirSync(join(s.db, '..', 'update-snapshots'))).toEqual(snapshots);
    expect(lstatSync(join(s.root, 'current')).mtimeMs).toBe(mtime);
    expect(readDb(s.db)).toEqual(dbBefore);
    // a different bundle under a version that is already running is refused, not silently mixed
    await expect(s.make().apply(await s.bundle('2.0.0', { 'dist/x.js': '1' }))).rejects.toThrow('give the new bundle a new version');
  });

  it('blinkd update rollback goes back to the previous release and the snapshot taken before the update', async () => {
    const s = setup();
    await s.make({ checks: () => [passing] }).apply(await s.bundle('2.0.0'));
    expect(readDb(s.db).people).toEqual(['Ada', 'Bob']);
    const r = await s.make().rollback();
    expect(r).toMatchObject({ action: 'rollback', result: 'rolled_back', to: '1.0.0' });
    expect(readlinkSync(join(s.root, 'current'))).toBe('releases/1.0.0');
    expect(readDb(s.db)).toEqual({ schema: 1, people: ['Ada'], columns: ['id', 'name'] });
    expect(readdirSync(join(s.db, '..', 'update-snapshots')).some((f) => f.startsWith('rollback-from-2.0.0'))).toBe(true);
    await expect(s.make().rollback()).rejects.toThrow('nothing to roll back');
  });
});

describe('failures around the gate', () => {
  it('rolls back when the new release cannot even be started', async () => {
    const s = setup();
    let starts = 0;
    const out = await s
      .make({
        service: {
          stop: async () => undefined,
          start: async () => {
            if (starts++ === 0) throw new Error('systemctl start failed');
          },
        },
      })
      .apply(await s.bundle('2.0.0'));
    expect(out).toMatchObject({ result: 'rolled_back', detail: expect.stringContaining('systemctl start failed') });
    expect(readlinkSync(join(s.root, 'current'))).toBe('releases/1.0.0');
    expect(s.make().status().state.phase).toBe('idle');
  });

  it('refuses a second updater while one holds the lock', async () => {
    const s = setup();
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(s.root, 'update'), { recursive: true });
    writeFileSync(join(s.root, 'update/lock'), String(process.ppid)); // a live process
    await expect(s.make().apply(await s.bundle('2.0.0'))).rejects.toThrow('another update is running');
    writeFileSync(join(s.root, 'update/lock'), '999999999'); // no such process: a stale lock is taken over
    expect((await s.make({ checks: () => [passing] }).apply(await s.bundle('2.0.0'))).result).toBe('ok');
    expect(existsSync(join(s.root, 'update/lock'))).toBe(false);
  });
});

describe('a crash during an update', () => {
  const distUpdater = join(REPO_ROOT, 'dist', 'daemon', 'src', 'update', 'updater.js');

  for (const crashAt of ['switching', 'switched', 'started'] as const) {
    it(`killed at "${crashAt}": the next run rolls back to the previous release and database`, async () => {
      expect(existsSync(distUpdater), 'run npm run build first').toBe(true);
      const s = setup();
      const before = readDb(s.db);
      const bundle = await s.bundle('2.0.0');
      const child = spawnSync(
        process.execPath,
        [
          join(REPO_ROOT, 'daemon/test/update/crashChild.mjs'),
          JSON.stringify({ distUpdater, root: s.root, databaseFile: s.db, publicPem: s.signer.publicPem, bundle, crashAt }),
        ],
        { encoding: 'utf8', cwd: REPO_ROOT },
      );
      expect(child.signal, child.stderr).toBe('SIGKILL');
      const status = s.make().status();
      expect(status.interrupted).toBe(true);
      expect(status.state.phase).toBe(crashAt === 'switching' ? 'switching' : 'gating');
      expect(readlinkSync(join(s.root, 'current'))).toBe(crashAt === 'switching' ? 'releases/1.0.0' : 'releases/2.0.0');
      if (crashAt === 'started') expect(readDb(s.db).schema).toBe(2); // the new release had migrated

      // The next start (the boot-time `blinkd update recover`) finishes the rollback.
      const r = await s.make().recover();
      expect(r).toMatchObject({ action: 'recover', result: 'rolled_back', to: '1.0.0' });
      expect(readlinkSync(join(s.root, 'current'))).toBe('releases/1.0.0');
      expect(readDb(s.db)).toEqual(before);
      expect(s.make().status()).toMatchObject({ interrupted: false, state: { phase: 'idle', pending: null } });
      expect(await s.make().recover()).toBeNull();
      // and the same bundle can be applied again afterwards
      expect((await s.make({ checks: () => [passing] }).apply(bundle)).result).toBe('ok');
      expect(readlinkSync(join(s.root, 'current'))).toBe('releases/2.0.0');
    });
  }
});

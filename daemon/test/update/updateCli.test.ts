import { afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { Store } from '../../src/store/store.js';
import { BLINKD, REPO_ROOT, freePort, tempDir } from '../helpers/blinkd.js';
import * as tar from 'tar';
import { addHardLinkedBuildOutputs, keypair, makeReleaseTree, systemctlStandIn } from './fixtures.js';

const run = promisify(execFile);
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function blinkd(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BLINKD, ...args], { encoding: 'utf8', env });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A unit as install.sh leaves it: release 1.0.0 current, an empty store in dataDir. */
function installedUnit(prefix: string): { dir: string; root: string; dataDir: string; dbFile: string } {
  const t = tempDir(prefix);
  cleanups.push(t.cleanup);
  const root = join(t.dir, 'opt-blink');
  makeReleaseTree(join(root, 'releases', '1.0.0'), '1.0.0');
  symlinkSync('releases/1.0.0', join(root, 'current'));
  const dataDir = join(t.dir, 'data');
  mkdirSync(dataDir);
  const dbFile = join(dataDir, 'blink.db');
  Store.open(dbFile).close();
  return { dir: t.dir, root, dataDir, dbFile };
}

describe('blinkd update (CLI, with the default health gate over GET /health)', () => {
  it('keygen, sign, apply with a passing gate, apply a release that leaves the relay on (rolled back), status', async () => {
    const t = installedUnit('blink-update-cli-');
    const { root, dataDir } = t;
    const port = await freePort();
    const cfg = join(t.dir, 'blinkd.yaml');
    writeFileSync(cfg, `store:\n  dataDir: ${dataDir}\nadmin:\n  host: 127.0.0.1\n  port: ${port}\n`);

    // A stand-in for the daemon's /health: it reports the version of whatever release `current` points to.
    let relay = 'off';
    const bundles = new Map<string, string>();
    const server: Server = createServer((req, res) => {
      const served = bundles.get(req.url ?? '');
      if (served) return void res.end(readFileSync(served));
      const version = (JSON.parse(readFileSync(join(root, 'current', 'package.json'), 'utf8')) as { version: string }).version;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: 'healthy', version, services: { door: { relay }, camera: { state: 'up', frames: 42 } } }));
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));

    const keygen = await blinkd(['update', 'keygen', '--out', join(t.dir, 'publisher')]);
    expect(keygen.code, keygen.stderr).toBe(0);
    expect(statSync(join(t.dir, 'publisher.key')).mode & 0o777).toBe(0o600);
    expect((await blinkd(['update', 'keygen', '--out', join(t.dir, 'publisher')])).stderr).toContain('refusing to overwrite');

    const sign = async (version: string) => {
      const tree = makeReleaseTree(join(t.dir, `tree-${version}`), version);
      const out = join(t.dir, `blink-${version}.tar`);
      const r = await blinkd(['update', 'sign', '--key', join(t.dir, 'publisher.key'), '--out', out, tree]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`release ${version.replace(/\./g, '\\.')}, 8 files`));
      return out;
    };
    const common = ['--config', cfg, '--root', root, '--keys', join(t.dir, 'publisher.pub'), '--service', 'none', '--deadline', '3'];

    // the first one over HTTP (apply URL): downloaded, then verified like a file
    bundles.set('/bundles/2.0.0.tar', await sign('2.0.0'));
    const ok = await blinkd(['update', 'apply', `http://127.0.0.1:${port}/bundles/2.0.0.tar`, ...common]);
    expect(ok.stdout).toContain(`downloading http://127.0.0.1:${port}/bundles/2.0.0.tar`);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('signature ok');
    expect(ok.stdout).toContain('health gate: ready ok; relay ok; camera ok');
    expect(ok.stdout).toMatch(/\[6\/6\] release 2\.0\.0 passed the health gate/);
    expect(readlinkSync(join(root, 'current'))).toBe('releases/2.0.0');

    relay = 'on';
    const bad = await blinkd(['update', 'apply', await sign('3.0.0'), ...common]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('relay: relay on');
    expect(bad.stdout).toContain('rolled back to 2.0.0');
    expect(readlinkSync(join(root, 'current'))).toBe('releases/2.0.0');

    const status = await blinkd(['update', 'status', '--json', ...common]);
    const s = JSON.parse(status.stdout) as { current: string; releases: string[]; state: { history: Array<{ result: string }> } };
    expect(s.current).toBe('2.0.0');
    expect(s.releases).toEqual(['1.0.0', '2.0.0', '3.0.0']);
    expect(s.state.history.map((h) => h.result)).toEqual(['ok', 'rolled_back']);

    const human = await blinkd(['update', 'status', ...common]);
    expect(human.stdout).toContain('rollback to  1.0.0');
  });

  it('sign: a release with hard-linked files (as install.sh leaves node-gyp outputs) is signed, every path an ordinary file', async () => {
    const t = tempDir('blink-update-sign-');
    cleanups.push(t.cleanup);
    const tree = makeReleaseTree(join(t.dir, 'tree'), '2.0.0');
    const linked = addHardLinkedBuildOutputs(tree);
    const signer = keypair(t.dir, 'publisher');
    const out = join(t.dir, 'bundle.tar');
    const r = await blinkd(['update', 'sign', '--key', signer.key, '--out', out, tree]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('release 2.0.0, 14 files');
    const entries = new Map<string, { type: string; size: number }>();
    await tar.t({ file: out, onReadEntry: (e) => void entries.set(e.path, { type: String(e.type), size: e.size }) });
    for (const [p, bytes] of linked) expect(entries.get(`tree/${p}`), p).toEqual({ type: 'File', size: bytes.length });
  });

  it('apply: a release whose daemon fails at start (systemd: failed) is rolled back at once, not after the whole --deadline', async () => {
    // exit 78 (EX_CONFIG) is in the unit's RestartPreventExitStatus: systemd does not restart it, the unit is "failed"
    const x = await applyCrashingRelease(78);
    expectRolledBack(x);
    expect(x.r.stdout).toContain('health gate: systemd failed for good: blinkd.service failed (systemd does not restart it)');
    expect(x.r.stdout).toMatch(
      /health gate failed after \d+\.\d s \(systemd: blinkd\.service failed[^\n]*: systemd failed for good, the deadline was not waited out/,
    );
    expect(x.starts).toBe(1);
  }, 120_000);

  it('apply: a release that exits 1 at start (systemd restarts it) is rolled back at its first crash, not after StartLimitBurst restarts', async () => {
    const x = await applyCrashingRelease(1);
    expectRolledBack(x);
    expect(x.r.stdout).toContain('blinkd.service exited and systemd is restarting it');
    // the unit restarts it 2 s after each exit, up to 10 starts (about 25 s): the gate ends at the first
    expect(x.starts, x.r.stdout).toBeLessThanOrEqual(2);
  }, 120_000);
});

/** What every crashing release's apply must leave: exit 1, rolled back within seconds, the old release and database back. */
function expectRolledBack(x: Awaited<ReturnType<typeof applyCrashingRelease>>): void {
  expect(x.r.code, x.r.stdout + x.r.stderr).toBe(1);
  expect(x.r.stdout).toContain('rolled back to 1.0.0');
  // the gate ends at once (about a second here), the whole apply well inside the 60 s deadline
  expect(x.gateSeconds, x.r.stdout).toBeLessThan(10);
  expect(x.elapsed, x.r.stdout).toBeLessThan(30_000);
  expect(x.current).toBe('releases/1.0.0');
  expect(x.after).toEqual(x.before); // the snapshot is back: no broken_release table
  expect(x.before).not.toContain('broken_release');
  expect(x.calls).toEqual([
    'stop blinkd.service (releases/1.0.0)',
    'reset-failed blinkd.service (releases/2.0.0)',
    'start --no-block blinkd.service (releases/2.0.0)',
    'stop blinkd.service (releases/2.0.0)',
    'reset-failed blinkd.service (releases/1.0.0)',
    'start --no-block blinkd.service (releases/1.0.0)',
  ]);
  expect(x.status).toMatchObject({ current: '1.0.0', state: { phase: 'idle' } });
  expect(x.status.state.history.at(-1)).toMatchObject({ result: 'rolled_back', detail: expect.stringContaining('health gate failed') });
}

/**
 * A release whose daemon changes the database (as a migration would) and exits with `exitCode` at
 * start, applied with --deadline 60 behind the systemctl stand-in; the CLI's result and the
 * unit's state afterwards.
 */
async function applyCrashingRelease(exitCode: number) {
  const t = installedUnit('blink-update-fail-');
  const { root, dataDir, dbFile } = t;
  const tables = () => {
    const d = new Database(dbFile, { readonly: true });
    try {
      return (d.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
    } finally {
      d.close();
    }
  };
  const before = tables();
  const cfg = join(t.dir, 'blinkd.yaml');
  writeFileSync(cfg, `store:\n  dataDir: ${dataDir}\nadmin:\n  host: 127.0.0.1\n  port: ${await freePort()}\n`);
  const signer = keypair(t.dir, 'publisher');
  const broken = makeReleaseTree(join(t.dir, 'tree-2.0.0'), '2.0.0', {
    'daemon/bin/blinkd.js': [
      '#!/usr/bin/env node',
      "import { createRequire } from 'node:module';",
      `const Database = createRequire(${JSON.stringify(join(REPO_ROOT, 'package.json'))})('better-sqlite3');`,
      `const db = new Database(${JSON.stringify(dbFile)});`,
      "db.exec('CREATE TABLE broken_release (at TEXT)');",
      'db.close();',
      `console.error('broken release 2.0.0: exiting with ${exitCode} at start');`,
      `process.exit(${exitCode});`,
      '',
    ].join('\n'),
  });
  const bundle = join(t.dir, 'blink-2.0.0.tar');
  const signed = await blinkd(['update', 'sign', '--key', signer.key, '--out', bundle, broken]);
  expect(signed.code, signed.stderr).toBe(0);

  const bin = systemctlStandIn(join(t.dir, 'systemd'), { unit: 'blinkd.service', root, config: cfg });
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` };
  const started = Date.now();
  const r = await blinkd(['update', 'apply', bundle, '--config', cfg, '--root', root, '--keys', signer.pub, '--deadline', '60', '--no-camera'], env);
  const elapsed = Date.now() - started;
  const calls = readFileSync(join(t.dir, 'systemd/run/calls'), 'utf8')
    .trim()
    .split('\n')
    .filter((c) => !c.startsWith('show '));
  const gateSeconds = Number(/health gate failed after (\d+\.\d) s/.exec(r.stdout)?.[1]);
  const starts = readFileSync(join(t.dir, 'systemd/run/daemon.log'), 'utf8').split(`broken release 2.0.0: exiting with ${exitCode} at start`).length - 1;
  const status = JSON.parse((await blinkd(['update', 'status', '--json', '--config', cfg, '--root', root])).stdout) as {
    current: string;
    state: { phase: string; history: Array<{ result: string; detail: string }> };
  };
  return { r, elapsed, gateSeconds, starts, calls, status, current: readlinkSync(join(root, 'current')), before, after: tables() };
}

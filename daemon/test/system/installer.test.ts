import { afterEach, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BLINKD, REPO_ROOT, tempDir } from '../helpers/blinkd.js';

const cleanups: Array<() => void> = [];
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
    for (const f of ['opt/blink/daemon/bin/blinkd.js', 'opt/blink/dist/daemon/src/main.js', 'opt/blink/models/manifest.json', 'etc/blink/blinkd.yaml']) {
      expect(existsSync(join(t.dir, f)), f).toBe(true);
    }
    expect(readFileSync(join(t.dir, 'etc/systemd/system/blinkd.service'), 'utf8')).toBe(readFileSync(join(REPO_ROOT, 'systemd', 'blinkd.service'), 'utf8'));
    const cfg = join(t.dir, 'etc/blink/blinkd.yaml');
    const check = spawnSync(process.execPath, [BLINKD, 'config', 'check', cfg], { encoding: 'utf8' });
    expect(check.status).toBe(0);
    expect(check.stdout).toContain('/var/lib/blink');
    writeFileSync(cfg, 'unit:\n  name: Back door\n');
    const again = spawnSync('sh', [join(REPO_ROOT, 'image', 'install.sh'), '--dest', t.dir], { encoding: 'utf8' });
    expect(again.status).toBe(0);
    expect(again.stdout).toContain('keeping the existing');
    expect(readFileSync(cfg, 'utf8')).toContain('Back door');
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

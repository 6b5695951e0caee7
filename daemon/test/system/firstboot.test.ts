import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BLINKD, REPO_ROOT, tempDir } from '../helpers/blinkd.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const FIRSTBOOT = join(REPO_ROOT, 'image', 'firstboot.sh');

/** The default configuration install.sh writes (staged once). */
let defaultConfig = '';
beforeAll(() => {
  const t = tempDir('blink-firstboot-install-');
  const r = spawnSync('sh', [join(REPO_ROOT, 'image', 'install.sh'), '--dest', t.dir], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  defaultConfig = readFileSync(join(t.dir, 'etc/blink/blinkd.yaml'), 'utf8');
  t.cleanup();
});

/** A staged unit as an image ships it: install.sh's config, an empty machine-id, an /etc/ssh without keys. */
function stagedUnit(): string {
  const t = tempDir('blink-firstboot-');
  cleanups.push(t.cleanup);
  mkdirSync(join(t.dir, 'etc/blink'), { recursive: true });
  writeFileSync(join(t.dir, 'etc/blink/blinkd.yaml'), defaultConfig);
  writeFileSync(join(t.dir, 'etc/machine-id'), '');
  mkdirSync(join(t.dir, 'etc/ssh'), { recursive: true });
  return t.dir;
}

function firstboot(root: string, extraEnv: Record<string, string> = {}) {
  const r = spawnSync('sh', [FIRSTBOOT, '--root', root], {
    encoding: 'utf8',
    env: { ...process.env, BLINK_NODE: process.execPath, BLINK_APP: REPO_ROOT, ...extraEnv },
  });
  expect(r.status, r.stderr + r.stdout).toBe(0);
  return r;
}

/** Every file under dir with its content (what a second run must not change). */
function contents(dir: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const st = lstatSync(join(dir, r));
    if (st.isDirectory()) Object.assign(out, contents(dir, r));
    else if (st.isFile()) out[r] = `${st.mode.toString(8)} ${st.mtimeMs} ${readFileSync(join(dir, r), 'utf8')}`;
  }
  return out;
}

function facts(root: string) {
  const data = join(root, 'var/lib/blink');
  return {
    machineId: readFileSync(join(root, 'etc/machine-id'), 'utf8').trim(),
    sshKey: readFileSync(join(root, 'etc/ssh/ssh_host_ed25519_key'), 'utf8'),
    unitId: readFileSync(join(data, 'unit-id'), 'utf8').trim(),
    token: readFileSync(join(data, 'admin-setup-token'), 'utf8').trim(),
    deviceKey: readFileSync(join(data, 'sync-device-key.pem'), 'utf8'),
    tlsKey: readFileSync(join(data, 'tls/admin.key'), 'utf8'),
  };
}

describe('image/firstboot.sh (blink-firstboot.service)', () => {
  it('generates every per-unit fact once, differently on two units, and prints no secret but the setup token', () => {
    expect(existsSync(join(REPO_ROOT, 'dist/daemon/src/cli/firstbootCommand.js')), 'run npm run build first').toBe(true);
    const a = stagedUnit();
    const b = stagedUnit();
    // the self-signed admin certificate is made at first boot too when the config asks for it
    for (const root of [a, b]) writeFileSync(join(root, 'etc/blink/blinkd.yaml'), 'store:\n  dataDir: /var/lib/blink\nadmin:\n  tls:\n    mode: self-signed\n');
    const runA = firstboot(a);
    const runB = firstboot(b);
    const fa = facts(a);
    const fb = facts(b);

    expect(fa.machineId).toMatch(/^[0-9a-f]{32}$/);
    expect(fa.unitId).toMatch(/^[A-Za-z0-9_-]+-[0-9a-f]{6}$/);
    expect(fa.token).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(fa.deviceKey).toContain('BEGIN PRIVATE KEY');
    expect(fa.tlsKey).toContain('PRIVATE KEY');
    for (const k of Object.keys(fa) as Array<keyof typeof fa>) expect(fa[k], k).not.toBe(fb[k]);
    for (const f of ['admin-setup-token', 'sync-device-key.pem', 'tls/admin.key']) expect(lstatSync(join(a, 'var/lib/blink', f)).mode & 0o777, f).toBe(0o600);

    // the daemon reads the saved unit id (the configuration leaves unit.id empty)
    const check = spawnSync(process.execPath, [BLINKD, 'config', 'check', join(a, 'etc/blink/blinkd.yaml')], {
      encoding: 'utf8',
      env: { ...process.env, BLINK_STORE__DATA_DIR: join(a, 'var/lib/blink') },
    });
    expect(check.status, check.stderr).toBe(0);
    expect(check.stdout).toContain(`id: ${fa.unitId}`);

    // output: the unit id, the setup token (intended: console + journal), public facts; no private key
    const out = runA.stdout + runA.stderr;
    expect(out).toContain(`unit id          ${fa.unitId}`);
    expect(out).toContain(`setup token      ${fa.token}`);
    expect(out).toMatch(/ssh host key SHA256:\S+ \(ED25519\)/);
    expect(out).toMatch(/admin TLS {8}self-signed, certificate .*SHA-256 [0-9A-F:]{95}/);
    expect(out).toContain('machine-id generated');
    expect(out).not.toContain('PRIVATE KEY');
    for (const secret of [fa.deviceKey, fa.tlsKey, fa.sshKey]) {
      const body = secret.split('\n').filter((l) => l && !l.startsWith('-----'));
      for (const line of body) expect(out).not.toContain(line);
    }
    expect(out).not.toContain(fb.token);
    expect(runB.stdout).toContain(fb.token);
    // the disk under a staged tree is the host's: only the decision is said
    expect(out).toMatch(/grow: .*(nothing to grow|fills|left alone|would grow)/);

    // a second run changes nothing and shows the same token
    const before = contents(a);
    const again = firstboot(a);
    expect(contents(a)).toEqual({ ...before, 'var/lib/blink/.firstboot-done': contents(a)['var/lib/blink/.firstboot-done'] });
    expect(again.stdout).toContain('machine-id present');
    expect(again.stdout).toContain(`setup token      ${fa.token}`);
    expect(facts(a)).toEqual(fa);
  });

  it('a unit that has run before keeps its host-name unit id, and an explicit unit.id wins', () => {
    const root = stagedUnit();
    const data = join(root, 'var/lib/blink');
    // an existing unit: it has a database and has been using the id derived from its host name
    const hostId = spawnSync(process.execPath, [BLINKD, 'config', 'check', join(root, 'etc/blink/blinkd.yaml')], {
      encoding: 'utf8',
      env: { ...process.env, BLINK_STORE__DATA_DIR: data },
    }).stdout.match(/^ {2}id: (\S+)$/m)?.[1];
    expect(hostId).toBeTruthy();
    const db = spawnSync(process.execPath, [BLINKD, 'db', 'status', '--config', join(root, 'etc/blink/blinkd.yaml')], {
      encoding: 'utf8',
      env: { ...process.env, BLINK_STORE__DATA_DIR: data },
    });
    expect(db.status, db.stderr).toBe(0);
    firstboot(root);
    expect(readFileSync(join(data, 'unit-id'), 'utf8').trim()).toBe(hostId);

    const other = stagedUnit();
    writeFileSync(join(other, 'etc/blink/blinkd.yaml'), 'unit:\n  id: front-door\n');
    const r = firstboot(other);
    expect(r.stdout).toContain('unit id          front-door');
    expect(existsSync(join(other, 'var/lib/blink/unit-id'))).toBe(false);
    // no admin TLS unless the config asks for self-signed
    expect(r.stdout).toContain('admin TLS        off');
    expect(existsSync(join(other, 'var/lib/blink/tls'))).toBe(false);
  });

  it('the unit runs once, before blinkd, as root, with its output on the console and in the journal', () => {
    const unit = readFileSync(join(REPO_ROOT, 'systemd', 'blink-firstboot.service'), 'utf8');
    expect(unit).toContain('Type=oneshot');
    expect(unit).toMatch(/^Before=blinkd\.service/m);
    expect(unit).toContain('ConditionPathExists=!/var/lib/blink/.firstboot-done');
    expect(unit).toContain('StandardOutput=journal+console');
    const blinkd = readFileSync(join(REPO_ROOT, 'systemd', 'blinkd.service'), 'utf8');
    expect(blinkd).toMatch(/^After=.*blink-firstboot\.service/m);
    expect(blinkd).toMatch(/^Wants=.*blink-firstboot\.service/m);
  });
});

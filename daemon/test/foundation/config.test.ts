import { describe, expect, it } from 'vitest';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import { redactConfig } from '../../src/config/redact.js';
import { readEnvOverrides } from '../../src/config/envOverrides.js';
import { tempDir } from '../helpers/blinkd.js';

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

function loadYaml(text: string, env: Record<string, string> = {}) {
  const t = tempDir();
  try {
    const file = join(t.dir, 'blinkd.yaml');
    writeFileSync(file, text);
    return loadConfig({ path: file, env });
  } finally {
    t.cleanup();
  }
}

describe('configuration', () => {
  it('gives a complete configuration with no file at all', () => {
    const { config, file } = loadConfig({ path: undefined, env: { BLINK_CONFIG: '' } as NodeJS.ProcessEnv });
    expect(file === null || typeof file === 'string').toBe(true);
    const c = parseConfig({}, 'defaults');
    expect(c.admin.port).toBe(8080);
    expect(c.admin.host).toBe('127.0.0.1');
    expect(c.door.driver).toBe('auto');
    expect(c.mqtt.enabled).toBe(false);
    expect(c.store.dataDir).toBe('data');
    expect(c.unit.id).not.toBe('');
    expect(Object.keys(config).sort()).toEqual(['access', 'admin', 'camera', 'door', 'logging', 'mqtt', 'store', 'sync', 'unit', 'version', 'vision']);
  });

  it('names the key, the value and the expectation for a wrong type', () => {
    const p = problemsOf(() => loadYaml('admin:\n  port: "eighty"\n'));
    expect(p).toHaveLength(1);
    expect(p[0]).toContain('admin.port');
    expect(p[0]).toContain('"eighty"');
    expect(p[0]).toContain('expected a number');
  });

  it('reads well for every expected type: "an integer", "an object"', () => {
    expect(problemsOf(() => loadYaml('door:\n  pulseMs: 1500.5\n'))[0]).toMatch(/^door\.pulseMs: got 1500\.5 \(number\), expected an integer$/);
    expect(problemsOf(() => loadYaml('door: 5\n'))[0]).toMatch(/^door: got 5 \(number\), expected an object$/);
  });

  it('names an unknown key, also nested ones', () => {
    const p = problemsOf(() => loadYaml('door:\n  relayPn: 5\ncamra: {}\n'));
    expect(p.join('\n')).toContain('door.relayPn: unknown key');
    expect(p.join('\n')).toContain('camra: unknown key');
  });

  it('names an out-of-range number with the bound', () => {
    const p = problemsOf(() => loadYaml('access:\n  threshold: 1.5\n'));
    expect(p[0]).toMatch(/^access\.threshold: got 1\.5 \(number\), expected a number ≤ 1$/);
    const q = problemsOf(() => loadYaml('door:\n  pulseMs: 10\n'));
    expect(q[0]).toContain('door.pulseMs');
    expect(q[0]).toContain('≥ 100');
  });

  it('names a bad vision.tracking.passiveIntervalFrames (zero, fraction, text) and keeps the default 3 without one', () => {
    for (const bad of ['0', '2.5', 'often']) {
      const p = problemsOf(() => loadYaml(`vision:\n  tracking:\n    passiveIntervalFrames: ${bad}\n`));
      expect(p[0]).toContain('vision.tracking.passiveIntervalFrames');
    }
    expect(parseConfig({}, 'defaults').vision.tracking.passiveIntervalFrames).toBe(3);
  });

  it('names a bad vision.tracking.embedIntervalFrames (zero, over 30, fraction) and keeps the default 2 without one', () => {
    for (const bad of ['0', '31', '1.5']) {
      const p = problemsOf(() => loadYaml(`vision:\n  tracking:\n    embedIntervalFrames: ${bad}\n`));
      expect(p[0]).toContain('vision.tracking.embedIntervalFrames');
    }
    expect(parseConfig({}, 'defaults').vision.tracking.embedIntervalFrames).toBe(2);
  });

  it('names a bad enum value and lists the allowed ones', () => {
    const p = problemsOf(() => loadYaml('logging:\n  level: loud\n'));
    expect(p[0]).toContain('logging.level');
    expect(p[0]).toContain('"loud"');
    expect(p[0]).toContain('"debug"');
    const q = problemsOf(() => loadYaml('vision:\n  precision: int4\n'));
    expect(q[0]).toContain('vision.precision');
    expect(q[0]).toContain('"int8"');
  });

  it('reports an unreadable or missing file with its path', () => {
    const t = tempDir();
    try {
      const missing = join(t.dir, 'nope.yaml');
      const p = problemsOf(() => loadConfig({ path: missing, env: {} }));
      expect(p[0]).toContain(missing);
      expect(p[0]).toContain('ENOENT');
      const locked = join(t.dir, 'locked.yaml');
      writeFileSync(locked, 'admin: {}\n');
      chmodSync(locked, 0o000);
      if (process.getuid?.() !== 0) {
        expect(problemsOf(() => loadConfig({ path: locked, env: {} }))[0]).toContain('EACCES');
      }
      const dir = problemsOf(() => loadConfig({ path: t.dir, env: {} }));
      expect(dir[0]).toContain('a directory');
    } finally {
      t.cleanup();
    }
  });

  it('reports YAML syntax errors and a non-mapping document', () => {
    expect(problemsOf(() => loadYaml('admin: [\n'))[0]).toContain('not valid YAML');
    expect(problemsOf(() => loadYaml('- a\n- b\n'))[0]).toContain('expected a mapping');
  });

  it('takes sync.enabled with a server, organisation and passphrase file, and names what is missing otherwise', () => {
    const problems = problemsOf(() => loadYaml('sync:\n  enabled: true\n  org: acme\n'));
    expect(problems).toEqual([expect.stringContaining('sync.serverUrl: empty'), expect.stringContaining('sync.passphraseFile: empty')]);
    const { config } = loadYaml('sync:\n  enabled: true\n  serverUrl: https://sync.example.com\n  org: acme\n  passphraseFile: /etc/blink/org-passphrase\n');
    expect(config.sync.enabled).toBe(true);
  });

  it('checks cross-field rules', () => {
    expect(problemsOf(() => loadYaml('door:\n  pulseMs: 40000\n  maxUnlockMs: 30000\n'))[0]).toContain('door.pulseMs');
  });

  it('applies BLINK_* environment overrides, typed, and validates them like file values', () => {
    const { config, envVariables } = loadYaml('admin:\n  port: 9000\n', {
      BLINK_ADMIN__PORT: '9100',
      BLINK_ACCESS__LIVENESS__BLINK: 'false',
      BLINK_MQTT__TLS__CA: '/etc/ca.pem',
      BLINK_TEST_DATA: '/x',
    });
    expect(config.admin.port).toBe(9100);
    expect(config.access.liveness.blink).toBe(false);
    expect(config.mqtt.tls.ca).toBe('/etc/ca.pem');
    expect(envVariables).toEqual(['BLINK_ACCESS__LIVENESS__BLINK', 'BLINK_ADMIN__PORT', 'BLINK_MQTT__TLS__CA']);
    expect(problemsOf(() => loadYaml('', { BLINK_ADMIN__PORTT: '1' }))[0]).toContain('admin.portt: unknown key');
    expect(readEnvOverrides({ BLINK_CONFIG: '/x', BLINK_TEST_DATA: '/y' })).toEqual([]);
  });

  it('redacts secrets but shows which are unset', () => {
    const c = parseConfig({ mqtt: { username: 'door', password: 'hunter2' }, sync: { claimCode: 'ABCD-EFGH-JKMN-PQRS' } }, 't');
    const r = redactConfig(c);
    expect(r.mqtt.password).toBe('***');
    expect(r.sync.claimCode).toBe('***');
    expect(r.admin.tls.key).toBe('');
    expect(c.mqtt.password).toBe('hunter2');
  });
});

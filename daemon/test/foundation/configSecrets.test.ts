import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import { tempDir } from '../helpers/blinkd.js';

/** Hardening, LOW: configuration errors never show a secret, a digits-only password from the environment stays a string, a password needs a user name. */
function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('configuration and secrets', () => {
  it('an error about a secret names the key and its type but never prints the value', () => {
    const p = problems(() => parseConfig({ mqtt: { username: 'door', password: 12345678 } }, 't'));
    expect(p).toEqual([expect.stringMatching(/^mqtt\.password: got a hidden value \(number\), expected a string/)]);
    expect(p.join('\n')).not.toContain('12345678');
    const key = problems(() => parseConfig({ mqtt: { commands: { hmacKey: 'c2hvcnQ=' } } }, 't'));
    expect(key[0]).toMatch(/^mqtt\.commands\.hmacKey: got a hidden value \(string\), expected a command key of at least 32 bytes/);
    expect(key.join('\n')).not.toContain('c2hvcnQ');
  });

  it('a digits-only password given in the environment stays a string (it was read as a number and refused)', () => {
    const { config } = loadConfig({
      env: { BLINK_MQTT__USERNAME: 'door', BLINK_MQTT__PASSWORD: '12345678', BLINK_MQTT__PORT_UNUSED: undefined } as NodeJS.ProcessEnv,
    });
    expect(config.mqtt.password).toBe('12345678');
    // Numbers and booleans still come through typed.
    expect(loadConfig({ env: { BLINK_ADMIN__PORT: '8081', BLINK_ACCESS__LIVENESS__BLINK: 'false' } }).config).toMatchObject({
      admin: { port: 8081 },
      access: { liveness: { blink: false } },
    });
  });

  it('mqtt.password without mqtt.username is refused at load (MQTT never connected, and said nothing)', () => {
    expect(problems(() => parseConfig({ mqtt: { password: 'hunter2' } }, 't'))).toEqual([expect.stringMatching(/^mqtt\.password: .*needs mqtt\.username/)]);
  });

  it('a FIFO or device is refused as a configuration file, and so is one over 1 MB (start-up hung, or grew to 1 GB)', () => {
    const t = tempDir('blink-cfgfile-');
    try {
      expect(problems(() => loadConfig({ path: '/dev/zero', env: {} }))[0]).toMatch(/\/dev\/zero: not a regular file/);
      const big = join(t.dir, 'big.yaml');
      writeFileSync(big, `# ${'x'.repeat(1_100_000)}\n`);
      expect(problems(() => loadConfig({ path: big, env: {} }))[0]).toMatch(/larger than 1 MB/);
    } finally {
      t.cleanup();
    }
  });
});

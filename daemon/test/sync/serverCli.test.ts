/**
 * `blinkd sync-server` as an operator uses it (the compiled binary, SQLite fallback in
 * --data DIR): serve and stop, configuration errors, and the organisation, claim code,
 * device and token commands. Needs `npm run build`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncClient } from '../../src/sync/client.js';
import { generateDeviceKey } from '../../src/sync/requestSigning.js';
import { BLINKD } from '../helpers/blinkd.js';
import { createBackend, PASSPHRASE, startChildServer, type TestBackend } from './harness.js';

describe('blinkd sync-server (SQLite fallback)', () => {
  let backend: TestBackend;
  const run = (...args: string[]) => {
    const env = { ...process.env };
    delete env.DATABASE_URL;
    return spawnSync(process.execPath, [BLINKD, 'sync-server', ...args], { env, encoding: 'utf8' });
  };
  const op = (...args: string[]) => run(...args, '--data', backend.dataDir);

  beforeAll(async () => {
    backend = await createBackend('sqlite');
  });
  afterAll(async () => {
    await backend?.dispose();
  });

  it('prints its usage, and refuses unknown commands, bad options and bad configuration with the right exit codes', () => {
    const help = run('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/devices list .*approve ORG\/ID/);
    expect(run('frobnicate').status).toBe(2);
    expect(run('--port', '70000').status).toBe(2);
    const bad = join(backend.dataDir, 'bad.yaml');
    writeFileSync(bad, 'port: 8000\nlimits:\n  bodyBytez: 5\ntombstoneDays: 0\n');
    const r = run('--config', bad, '--data', backend.dataDir);
    expect(r.status).toBe(78);
    expect(r.stderr).toMatch(/limits\.bodyBytez: unknown key/);
    expect(r.stderr).toMatch(/tombstoneDays: got 0/);
  });

  it('creates organisations, claim codes and tokens, and approves and revokes devices', async () => {
    expect(op('migrate').stdout).toMatch(/schema version 1 \(sqlite:.*blink_sync\.db\)/);
    expect(existsSync(join(backend.dataDir, 'blink_sync.db'))).toBe(true);
    expect(op('orgs', 'create', 'acme', '--name', 'Acme').stdout).toMatch(/created organisation acme \("Acme"\)/);
    const dup = op('orgs', 'create', 'acme');
    expect(dup.status).toBe(1);
    expect(dup.stderr).toMatch(/exists already/);
    expect(op('orgs', 'legacy', 'acme', 'on').stdout).toMatch(/ON \(insecure/);
    expect(op('orgs', 'list').stdout).toMatch(/acme {2}"Acme" {2}legacy ON/);
    expect(op('orgs', 'legacy', 'acme', 'off').status).toBe(0);
    const codes = op('claims', 'create', '--org', 'acme', '--count', '3', '--json');
    expect((JSON.parse(codes.stdout) as Array<{ code: string }>).map((c) => c.code)).toHaveLength(3);
    expect(op('claims', 'create', '--org', 'nope').status).toBe(1);
    expect(op('devices', 'approve', 'acme/none').stderr).toMatch(/no PENDING device acme\/none/);
    expect(op('devices', 'revoke', 'bad-ref').status).toBe(2);

    const server = await startChildServer(backend);
    try {
      const client = new SyncClient({
        serverUrl: server.url,
        org: 'acme',
        deviceId: 'lobby',
        deviceName: 'Lobby door',
        key: generateDeviceKey(),
        passphrase: () => PASSPHRASE,
      });
      expect((await client.register()).status).toBe('PENDING');
      expect(op('devices', 'list').stdout).toMatch(/acme\/lobby {2}"Lobby door" {2}PENDING/);
      expect(op('devices', 'approve', 'acme/lobby').stdout).toMatch(/acme\/lobby: ACTIVE/);
      expect((await client.deviceInfo()).status).toBe('ACTIVE');
      expect(op('devices', 'revoke', 'acme/lobby').stdout).toMatch(/REVOKED/);
      await expect(client.deviceInfo()).rejects.toThrow(/revoked/);
      const tok = op('tokens', 'create', '--org', 'acme', '--name', 'payroll');
      const token = /^(blk_\S+)/m.exec(tok.stdout)![1]!;
      const id = /reader token (tok_[0-9a-f]+)/.exec(tok.stdout)![1]!;
      expect((await fetch(`${server.url}/api/v1/attendance`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
      expect(op('tokens', 'list').stdout).toMatch(new RegExp(`${id} {2}acme {2}"payroll" {2}active`));
      expect(op('tokens', 'revoke', id).status).toBe(0);
      expect((await fetch(`${server.url}/api/v1/attendance`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
      expect(op('status').stdout).toMatch(/acme {2}"Acme" {2}legacy off {2}0 people/);
    } finally {
      const t0 = Date.now();
      await server.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5000);
    }
  }, 180_000); // some twenty CLI runs, each a fresh node process: 45–60 s on a busy 2-core machine
});

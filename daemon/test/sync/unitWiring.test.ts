/**
 * The sync service in the running unit (compositionRoot.ts, sync.enabled): started and stopped
 * with the unit's lifecycle, never holding up the start or the stop, its state on GET /health
 * (services.sync) and in the MQTT health payload, without secrets; the cursor reset and
 * everyone queued when the sync server or organisation changes.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildUnit, type Unit } from '../../src/compositionRoot.js';
import { parseConfig } from '../../src/config/load.js';
import { Controller } from '../../src/controller.js';
import { createLogger } from '../../src/logging.js';
import { unitHealthPayload } from '../../src/mqtt/healthPayload.js';
import { tempDir } from '../helpers/blinkd.js';
import { freePort } from '../mqtt/broker.js';
import { createBackend, embedding, PASSPHRASE, startServer, type RunningServer, type TestBackend } from './harness.js';

const ORG = 'acme';
const log = createLogger('silent');

function unitConfig(dir: string, serverUrl: string, claimCode: string, org = ORG) {
  const passphraseFile = join(dir, 'passphrase');
  writeFileSync(passphraseFile, PASSPHRASE);
  return parseConfig(
    {
      unit: { id: 'front-door', timezone: 'UTC' },
      store: { dataDir: dir },
      door: { driver: 'simulated', simulatedStateFile: join(dir, 'gpio.json') },
      admin: { port: 0, host: '127.0.0.1' },
      sync: { enabled: true, serverUrl, org, passphraseFile, claimCode, intervalSec: 3600, backoffBaseMs: 100, backoffCapMs: 1000 },
    },
    'test',
  );
}

async function health(unit: Unit): Promise<Record<string, unknown>> {
  const res = await fetch(`${unit.http.address()!.replace('0.0.0.0', '127.0.0.1')}/health`);
  const body = (await res.json()) as { services: Record<string, Record<string, unknown>> };
  return body.services.sync!;
}

describe('the sync service in the unit', () => {
  let backend: TestBackend;
  let server: RunningServer;

  beforeAll(async () => {
    backend = await createBackend('sqlite');
    server = await startServer(backend);
    await server.server.ctx.orgs.create(ORG, 'Acme');
    await server.server.ctx.orgs.create('other', 'Other');
  });
  afterAll(async () => {
    await server?.close();
    await backend?.dispose();
  });

  it('with the sync server unreachable: starts and stops at once, queues, and says why on /health and MQTT (no secrets)', async () => {
    const t = tempDir('blink-wiring-');
    const port = await freePort(); // nobody listens there
    expect(() => unitConfig(t.dir, `http://user:hunter2@127.0.0.1:${port}/`, '')).toThrow(/sync.serverUrl: has credentials in it/);
    const config = unitConfig(t.dir, `http://127.0.0.1:${port}/?token=s3cret`, 'CLAIM-CODE-SECRET1');
    const unit = buildUnit(config, log, { runtime: 'none' });
    const controller = new Controller(unit, log);
    try {
      const t0 = Date.now();
      await controller.start();
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(unit.sync).not.toBeNull();
      unit.registry.activate('test-model', 128);
      unit.registry.enroll({
        person: { name: 'Queued' },
        faces: [{ embedding: embedding(3), quality: 1 }],
        modelId: 'test-model',
        source: 'upload',
        duplicateThreshold: 0.95,
        actor: 'test',
      });
      await unit.sync!.syncNow();
      const s = await health(unit);
      expect(s).toMatchObject({ status: 'running', server: `http://127.0.0.1:${port}`, org: ORG, connected: false, pending: { people: 1, attendance: 0 } });
      expect((s.lastError as { kind: string; message: string }).kind).toBe('network');
      expect((s.lastError as { message: string }).message).toContain('cannot reach the sync server');
      const text = JSON.stringify(unit.health().body);
      for (const secret of ['s3cret', 'CLAIM-CODE-SECRET1', PASSPHRASE]) expect(text).not.toContain(secret);
      const mqtt = JSON.parse(await unitHealthPayload(() => unit.health().body, { unit: 'front-door', mqtt: {}, outbox: {} })) as {
        sync: Record<string, unknown>;
      };
      expect(mqtt.sync).toMatchObject({ connected: false, pending: { people: 1, attendance: 0 } });
      expect(String(mqtt.sync.lastError)).toMatch(/^network: cannot reach the sync server/);
    } finally {
      const t1 = Date.now();
      await controller.stop('test');
      expect(Date.now() - t1).toBeLessThan(5000);
      t.cleanup();
    }
  });

  it('syncs when the server is there, and a new server or organisation resets the cursor and queues everyone', async () => {
    const t = tempDir('blink-wiring-');
    try {
      const { code } = await server.server.ctx.devices.createClaimCode(ORG, 1);
      let unit = buildUnit(unitConfig(t.dir, server.url, code), log, { runtime: 'none' });
      let controller = new Controller(unit, log);
      await controller.start();
      unit.registry.activate('test-model', 128);
      const p = unit.registry.enroll({
        person: { name: 'Synced' },
        faces: [{ embedding: embedding(4), quality: 1 }],
        modelId: 'test-model',
        source: 'upload',
        duplicateThreshold: 0.95,
        actor: 'test',
      }).person;
      await unit.sync!.syncNow();
      const s = await health(unit);
      expect(s).toMatchObject({ connected: true, device: 'ACTIVE', lastError: null, pending: { people: 0, attendance: 0 } });
      expect(s.lastSuccessAt).toEqual(expect.any(String));
      expect(unit.store.syncOutbox.cursor()).not.toBeNull();
      await controller.stop('test');

      // Another organisation: the cursor and registration are reset and every person is queued for it.
      const other = await server.server.ctx.devices.createClaimCode('other', 1);
      unit = buildUnit(unitConfig(t.dir, server.url, other.code, 'other'), log, { runtime: 'none' });
      controller = new Controller(unit, log);
      expect(unit.store.syncOutbox.cursor()).not.toBeNull();
      await controller.start();
      expect(unit.store.syncOutbox.pendingPeople()).toEqual(new Set([p.id]));
      await unit.sync!.syncNow();
      expect(await health(unit)).toMatchObject({ org: 'other', connected: true, lastError: null, pending: { people: 0 } });
      const onOther = await server.server.ctx.sql.query<{ id: string }>('SELECT id FROM people WHERE org_id = $1', ['other']);
      expect(onOther.map((r) => r.id)).toEqual([p.id]);
      await controller.stop('test');
    } finally {
      t.cleanup();
    }
  });
});

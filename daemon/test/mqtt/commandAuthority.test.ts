import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { signCommand } from '../../src/mqtt/commandSignature.js';
import { health, tempDir, type RunningBlinkd } from '../helpers/blinkd.js';
import { startBroker, type TestBroker } from './broker.js';
import { auditEntries, kill, relayWrites, sleep, startUnit, unitEnv, waitCommandsLive } from './unit.js';
import { json, watch, type Watcher } from './watcher.js';

/**
 * Hardening item 1 (CRITICAL): anyone who could publish to the broker opened the door
 * (`mosquitto_pub -t <base>/held_unlocked/set -m ON`). Door-opening and mode-weakening commands
 * now need a valid signature, or the installation's explicit opt-in.
 */
const UNIT = 'door-auth';
const BASE = `blink/${UNIT}`;
const KEY = randomBytes(32);
const ed = generateKeyPairSync('ed25519');
const edPublic = ed.publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('MQTT command authorisation (real Mosquitto, blinkd run)', () => {
  let broker: TestBroker;
  let t: ReturnType<typeof tempDir>;
  let unit: RunningBlinkd;
  let w: Watcher;
  let env: Record<string, string>;

  beforeAll(async () => {
    broker = await startBroker();
    t = tempDir('blink-mqtt-auth-');
    w = await watch(broker.url, [`${BASE}/#`]);
    env = unitEnv(t.dir, broker.url, UNIT, {
      BLINK_MQTT__COMMANDS__HMAC_KEY: KEY.toString('base64'),
      BLINK_MQTT__COMMANDS__ED25519_PUBLIC_KEYS: JSON.stringify([edPublic]),
    });
    unit = await startUnit(t.dir, env);
    await waitCommandsLive(unit);
  });
  afterAll(async () => {
    if (unit) await kill(unit);
    await w?.close();
    await broker?.dispose();
    t?.cleanup();
  });

  const send = async (name: string, payload: string) => {
    const before = w.seen.length;
    await w.client.publishAsync(`${BASE}/${name}/set`, payload, { qos: 1 });
    return w.waitFor((s) => s.topic === `${BASE}/response` && w.seen.indexOf(s) >= before && json(s).command === name, 10_000);
  };
  const relayOns = () => relayWrites(t.dir).filter((x) => x.level === 1).length;

  it('unsigned door-opening commands are refused, audited, and the relay never moves', async () => {
    for (const [name, value] of [
      ['lock', 'UNLOCK'],
      ['unlock', 'PRESS'],
      ['held_unlocked', 'ON'],
    ] as const) {
      const r = json(await send(name, value));
      expect(r, name).toMatchObject({ ok: false, error: expect.stringContaining('must be signed') });
    }
    expect(json(await send('lockdown', 'ON'))).toMatchObject({ ok: true, detail: { mode: 'lockdown' } }); // safe: unsigned is fine
    expect(json(await send('lockdown', 'OFF'))).toMatchObject({ ok: false, error: expect.stringContaining('lockdown_off') });
    expect((await health(unit.url))!.services.door).toMatchObject({ mode: 'lockdown' });
    expect(json(await send('lockdown', signCommand({ unit: UNIT, name: 'lockdown', value: 'OFF', hmacKey: KEY })))).toMatchObject({ ok: true });
    await sleep(300);
    expect(relayOns()).toBe(0);
    expect(auditEntries(t.dir).filter((a) => a.action === 'mqtt.command_rejected').length).toBeGreaterThanOrEqual(4);
  });

  it('a signed unlock (HMAC or Ed25519) opens; wrong key, tampered value, other unit, stale, future and replayed are refused', async () => {
    expect(json(await send('unlock', signCommand({ unit: UNIT, name: 'unlock', value: 'PRESS', hmacKey: KEY })))).toMatchObject({ ok: true });
    await sleep(500);
    expect(json(await send('unlock', signCommand({ unit: UNIT, name: 'unlock', value: 'PRESS', ed25519PrivateKey: ed.privateKey })))).toMatchObject({
      ok: true,
    });
    const ons = relayOns();
    expect(ons).toBeGreaterThanOrEqual(1);
    const refusedWith = async (payload: string, text: string) => expect(json(await send('unlock', payload)).error, text).toContain(text);
    await refusedWith(signCommand({ unit: UNIT, name: 'unlock', value: 'PRESS', hmacKey: randomBytes(32) }), 'bad signature');
    await refusedWith(
      signCommand({ unit: UNIT, name: 'unlock', value: 'PRESS', ed25519PrivateKey: generateKeyPairSync('ed25519').privateKey }),
      'bad signature',
    );
    const tampered = JSON.parse(signCommand({ unit: UNIT, name: 'unlock', value: '', hmacKey: KEY })) as Record<string, unknown>;
    tampered.value = 'PRESS';
    await refusedWith(JSON.stringify(tampered), 'bad signature');
    await refusedWith(signCommand({ unit: 'door-other', name: 'unlock', value: 'PRESS', hmacKey: KEY }), 'not this one');
    await refusedWith(signCommand({ unit: UNIT, name: 'unlock', value: 'PRESS', hmacKey: KEY, ts: Date.now() - 120_000 }), 'older than');
    await refusedWith(signCommand({ unit: UNIT, name: 'unlock', value: 'PRESS', hmacKey: KEY, ts: Date.now() + 120_000 }), 'in the future');
    // A signature for one command does not carry over to another topic.
    const forLock = JSON.parse(signCommand({ unit: UNIT, name: 'lock', value: 'PRESS', hmacKey: KEY })) as Record<string, unknown>;
    await refusedWith(JSON.stringify(forLock), 'bad signature');
    const once = signCommand({ unit: UNIT, name: 'unlock', value: 'PRESS', hmacKey: KEY });
    expect(json(await send('unlock', once))).toMatchObject({ ok: true });
    await refusedWith(once, 'replayed');
    await sleep(300);
    expect(relayOns()).toBe(ons + 1);
  });

  it('the public /health no longer shows the command topic base', async () => {
    const text = JSON.stringify(await health(unit.url));
    expect(text).not.toContain(BASE);
    expect(text).toContain('"authorization"');
  });

  it('a command published retained while the unit is online acts once, as a live one; its retained copy never acts again', async () => {
    // MQTT forwards a retained publish to existing subscribers as a live message (retain flag 0).
    const before = w.seen.length;
    await w.client.publishAsync(`${BASE}/unlock/set`, signCommand({ unit: UNIT, name: 'unlock', value: 'PRESS', hmacKey: KEY }), { qos: 1, retain: true });
    await w.waitFor((s) => s.topic === `${BASE}/response` && w.seen.indexOf(s) >= before && json(s).command === 'unlock', 10_000);
    await sleep(400);
    const ons = relayOns();
    await kill(unit, 'SIGTERM');
    unit = await startUnit(t.dir, env);
    await waitCommandsLive(unit, 1);
    await sleep(1500);
    expect(relayOns(), 'the retained copy, delivered at the new subscription, did not open the door').toBe(ons);
    await w.client.publishAsync(`${BASE}/unlock/set`, '', { qos: 1, retain: true }); // clear it
  });

  it('a command signed before a restart is refused after it (the replay memory starts empty)', async () => {
    const earlier = signCommand({ unit: UNIT, name: 'unlock', value: 'PRESS', hmacKey: KEY });
    await kill(unit, 'SIGTERM');
    unit = await startUnit(t.dir, env);
    await waitCommandsLive(unit, 1);
    expect(json(await send('unlock', earlier)).error).toContain('signed before this unit started');
  });

  it('a flood of 3,000 junk commands is counted, not audited one by one, and the unit keeps answering', async () => {
    const rejectedBefore = auditEntries(t.dir).filter((a) => a.action === 'mqtt.command_rejected').length;
    const onsBefore = relayOns();
    const flood = w.client;
    const lags: number[] = [];
    const sending = (async () => {
      for (let i = 0; i < 3000; i++) flood.publish(`${BASE}/unlock/set`, 'PRESS', { qos: 0 });
    })();
    for (let i = 0; i < 10; i++) {
      const t0 = Date.now();
      await health(unit.url);
      lags.push(Date.now() - t0);
      await sleep(100);
    }
    await sending;
    await sleep(1500);
    await kill(unit, 'SIGTERM'); // the minute's summary is written at stop too
    const audit = auditEntries(t.dir);
    const rejected = audit.filter((a) => a.action === 'mqtt.command_rejected').length - rejectedBefore;
    expect(rejected).toBeLessThanOrEqual(31);
    const summary = audit.filter((a) => a.action === 'mqtt.command_rejected_summary').at(-1);
    expect(Number(summary?.details?.count)).toBeGreaterThan(2500);
    expect(Math.max(...lags)).toBeLessThan(1500);
    expect(relayOns()).toBe(onsBefore); // junk never moved the relay
    unit = await startUnit(t.dir, env);
  }, 60_000);
});

describe('mqtt.commands.allowUnsigned (for brokers with per-client ACLs)', () => {
  it('accepts the listed commands unsigned and says so on the health page', async () => {
    const broker = await startBroker();
    const t = tempDir('blink-mqtt-unsigned-');
    const w = await watch(broker.url, [`blink/door-ha/#`]);
    const unit = await startUnit(t.dir, unitEnv(t.dir, broker.url, 'door-ha', { BLINK_MQTT__COMMANDS__ALLOW_UNSIGNED: '[unlock]' }));
    try {
      await waitCommandsLive(unit);
      const h = await health(unit.url);
      expect(h!.warnings).toEqual([expect.stringContaining('MQTT accepts unlock without a signature')]);
      await w.client.publishAsync('blink/door-ha/lock/set', 'UNLOCK', { qos: 1 });
      await w.waitFor((s) => s.topic === 'blink/door-ha/lock/state' && s.text === 'UNLOCKED');
      await w.client.publishAsync('blink/door-ha/held_unlocked/set', 'ON', { qos: 1 });
      const r = await w.waitFor((s) => s.topic === 'blink/door-ha/response' && json(s).command === 'held_unlocked');
      expect(json(r)).toMatchObject({ ok: false, error: expect.stringContaining('must be signed') });
    } finally {
      await kill(unit);
      await w.close();
      await broker.dispose();
      t.cleanup();
    }
  });
});

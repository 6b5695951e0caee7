import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, type RunningBlinkd } from '../helpers/blinkd.js';
import { startBroker, type TestBroker } from './broker.js';
import { kill, startUnit, unitEnv, waitCommandsLive } from './unit.js';
import { json, watch, type Watcher } from './watcher.js';

const UNIT = 'door-ha';
const BASE = `blink/${UNIT}`;

/** Keys Home Assistant's MQTT schemas require per platform (homeassistant/components/mqtt/*.py, config.py). */
const REQUIRED: Record<string, string[]> = {
  lock: ['command_topic'],
  switch: ['command_topic'],
  button: ['command_topic'],
  binary_sensor: ['state_topic'],
  sensor: ['state_topic'],
  event: ['state_topic', 'event_types'],
};

describe('Home Assistant MQTT discovery (real Mosquitto, blinkd run)', () => {
  let broker: TestBroker;
  let t: ReturnType<typeof tempDir>;
  let unit: RunningBlinkd;
  let ha: Watcher;

  beforeAll(async () => {
    broker = await startBroker();
    t = tempDir('blink-mqtt-ha-');
    ha = await watch(broker.url, ['homeassistant/#', `${BASE}/#`]);
    // A door contact on the simulated GPIO, driven through its inputs file; held-open alarm after 1 s.
    unit = await startUnit(
      t.dir,
      unitEnv(t.dir, broker.url, UNIT, {
        BLINK_UNIT__NAME: 'Front door',
        BLINK_DOOR__CONTACT_PIN: '27',
        BLINK_DOOR__DEBOUNCE_MS: '0',
        BLINK_DOOR__HELD_OPEN_ALARM_MS: '1000',
        BLINK_DOOR__SIMULATED_INPUTS_FILE: join(t.dir, 'inputs.json'),
      }),
    );
    await waitCommandsLive(unit);
  });

  afterAll(async () => {
    if (unit) await kill(unit);
    await ha?.close();
    await broker?.dispose();
    t?.cleanup();
  });

  const configs = () => ha.seen.filter((s) => /^homeassistant\/[a-z_]+\/blink_door-ha\/[a-z_]+\/config$/.test(s.topic));

  it('publishes valid retained configs with the required keys, all under one device with availability', async () => {
    await ha.waitForCount((s) => s.topic.startsWith('homeassistant/') && s.topic.endsWith('/config'), 13);
    const late = await watch(broker.url, ['homeassistant/+/blink_door-ha/+/config']);
    try {
      const retained = await late.waitForCount((s) => s.retain, 13);
      expect(retained).toHaveLength(13);
    } finally {
      await late.close();
    }
    const byTopic = new Map(configs().map((s) => [s.topic, json(s)]));
    const components = [...byTopic.keys()].map((k) => k.split('/')[1]);
    expect(components.filter((c) => c === 'lock')).toHaveLength(1);
    expect(components.filter((c) => c === 'event')).toHaveLength(1);
    expect(components.filter((c) => c === 'binary_sensor').length).toBeGreaterThanOrEqual(3);
    expect(components.filter((c) => c === 'sensor').length).toBeGreaterThanOrEqual(3);
    const ids = new Set<string>();
    for (const [topic, cfg] of byTopic) {
      const component = topic.split('/')[1]!;
      for (const key of REQUIRED[component] ?? []) expect(cfg, `${topic} needs ${key}`).toHaveProperty(key);
      expect(typeof cfg.unique_id).toBe('string');
      ids.add(cfg.unique_id as string);
      expect(cfg.device).toMatchObject({ identifiers: ['blink_door-ha'], name: 'Front door' });
      for (const k of ['state_topic', 'command_topic', 'json_attributes_topic']) {
        if (k in cfg) expect(String(cfg[k]).startsWith(`${BASE}/`), `${topic} ${k}`).toBe(true);
      }
      if (!topic.includes('/connectivity/'))
        expect(cfg.availability).toEqual([{ topic: `${BASE}/status`, payload_available: 'online', payload_not_available: 'offline' }]);
    }
    expect(ids.size).toBe(byTopic.size);
    const lock = byTopic.get('homeassistant/lock/blink_door-ha/door/config')!;
    expect(lock).toMatchObject({ command_topic: `${BASE}/lock/set`, state_topic: `${BASE}/lock/state`, payload_unlock: 'UNLOCK', state_locked: 'LOCKED' });
    expect(byTopic.get('homeassistant/event/blink_door-ha/access/config')).toMatchObject({ state_topic: `${BASE}/access`, event_types: ['granted', 'denied'] });
    expect(byTopic.get('homeassistant/binary_sensor/blink_door-ha/connectivity/config')).toMatchObject({
      state_topic: `${BASE}/status`,
      payload_on: 'online',
      payload_off: 'offline',
      device_class: 'connectivity',
    });
  });

  it('the state topics the entities read are there: lock LOCKED, door state JSON, alarm state, stats', async () => {
    expect((await ha.waitFor((s) => s.topic === `${BASE}/lock/state`)).text).toBe('LOCKED');
    expect(json(await ha.waitFor((s) => s.topic === `${BASE}/door/state`))).toMatchObject({ relay: 'off', mode: 'normal', contact: 'closed', open: false });
    // This unit's camera source does not exist: camera_lost is raised at start, before MQTT runs, and the
    // first retained alarm/state carries it (it used to say [] until the alarm toggled).
    expect(json(await ha.waitFor((s) => s.topic === `${BASE}/alarm/state`))).toMatchObject({ active: ['camera_lost'] });
    expect(json(await ha.waitFor((s) => s.topic === `${BASE}/stats`))).toMatchObject({ today: { granted: 0, denied: 0 }, lastPerson: null });
  });

  it('re-sends every config when Home Assistant announces itself online (homeassistant/status)', async () => {
    const before = configs().length;
    await ha.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
    const all = await ha.waitForCount((s) => /^homeassistant\/[a-z_]+\/blink_door-ha\/[a-z_]+\/config$/.test(s.topic), before + 13);
    const resent = all.slice(before);
    expect(new Set(resent.map((s) => s.topic)).size).toBe(13);
    for (const s of resent) expect(() => JSON.parse(s.text)).not.toThrow();
  });

  it('only online triggers a re-send: offline from Home Assistant sends nothing', async () => {
    const before = configs().length;
    await ha.client.publishAsync('homeassistant/status', 'offline', { qos: 1 });
    await new Promise((r) => setTimeout(r, 300));
    expect(configs().length).toBe(before);
  });

  it('a forced and held-open door reaches door/state, alarm and alarm/state (what the binary sensors read)', async () => {
    const before = ha.seen.length;
    const after = (s: object) => ha.seen.indexOf(s as never) >= before;
    const alarms = () => ha.seen.filter((s) => after(s) && s.topic === `${BASE}/alarm`).map((s) => json(s));
    // Opened without an unlock: forced open at once, held open after door.heldOpenAlarmMs (1 s).
    writeFileSync(join(t.dir, 'inputs.json'), JSON.stringify({ inputs: { '27': 1 } }));
    await ha.waitFor((s) => after(s) && s.topic === `${BASE}/door/state` && json(s).contact === 'open');
    await ha.waitFor(
      (s) => after(s) && s.topic === `${BASE}/alarm/state` && JSON.stringify(json(s).active) === '["camera_lost","forced_open","held_open"]',
      5000,
    );
    expect(alarms()).toMatchObject([
      { type: 'forced_open', active: true, unit: UNIT },
      { type: 'held_open', active: true, unit: UNIT, details: { afterMs: 1000 } },
    ]);
    expect(ha.seen.filter((s) => after(s) && s.topic === `${BASE}/alarm`).every((s) => !s.retain)).toBe(true);
    writeFileSync(join(t.dir, 'inputs.json'), JSON.stringify({ inputs: { '27': 0 } }));
    await ha.waitFor((s) => after(s) && s.topic === `${BASE}/door/state` && json(s).contact === 'closed');
    await ha.waitFor((s) => after(s) && s.topic === `${BASE}/alarm/state` && JSON.stringify(json(s).active) === '["camera_lost"]');
    expect(
      alarms()
        .filter((a) => a.active === false)
        .map((a) => a.type)
        .sort(),
    ).toEqual(['forced_open', 'held_open']);
  });
});

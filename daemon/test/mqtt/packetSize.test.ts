import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAsync, type MqttClient } from 'mqtt';
import { health, tempDir, type RunningBlinkd } from '../helpers/blinkd.js';
import { startBroker, type TestBroker } from './broker.js';
import { kill, sleep, startUnit, unitEnv, waitCommandsLive } from './unit.js';
import { json, watch, type Watcher } from './watcher.js';

const UNIT = 'door-size';
const BASE = `blink/${UNIT}`;

/**
 * Hardening item 4: a 50 MB payload on a command topic was delivered to the unit, buffered whole
 * and decoded to a string (to log its first 200 characters), on the door's main thread. Over MQTT 5
 * the unit tells the broker the largest packet it takes (mqtt.maxPacketBytes): the broker never
 * sends it more.
 */
describe('MQTT maximum packet size (real Mosquitto, MQTT 5)', () => {
  let broker: TestBroker;
  let t: ReturnType<typeof tempDir>;
  let unit: RunningBlinkd;
  let w: Watcher;
  let publisher: MqttClient;

  beforeAll(async () => {
    broker = await startBroker();
    if (broker.kind !== 'mosquitto') throw new Error('this test needs Mosquitto (MQTT 5); the in-process fallback broker speaks 3.1.1 only');
    t = tempDir('blink-mqtt-size-');
    w = await watch(broker.url, [`${BASE}/response`]);
    publisher = await connectAsync(broker.url, { reconnectPeriod: 0 });
    unit = await startUnit(t.dir, unitEnv(t.dir, broker.url, UNIT, { BLINK_MQTT__PROTOCOL_VERSION: '5' }));
    await waitCommandsLive(unit);
  });
  afterAll(async () => {
    if (unit) await kill(unit);
    await publisher?.endAsync();
    await w?.close();
    await broker?.dispose();
    t?.cleanup();
  });

  it('a 50 MB command payload never reaches the unit; the next command is answered and memory stays flat', async () => {
    const rss = async () => Number(((await health(unit.url))?.system as { memory: { rssMb: number } }).memory.rssMb);
    const before = await rss();
    const big = Buffer.alloc(50 * 1024 * 1024, 0x41);
    for (let i = 0; i < 3; i++) await publisher.publishAsync(`${BASE}/request_health/set`, big, { qos: 1 });
    await sleep(1000);
    await publisher.publishAsync(`${BASE}/request_health/set`, JSON.stringify({ id: 'after-the-big-ones' }), { qos: 1 });
    const answer = await w.waitFor((s) => json(s).id === 'after-the-big-ones', 15_000, 'the answer to the small command');
    expect(json(answer)).toMatchObject({ ok: true, command: 'request_health' });
    // none of the big ones was handled (each would have been answered with a refusal)
    expect(w.seen.filter((s) => /larger than/.test(s.text))).toEqual([]);
    expect((await rss()) - before).toBeLessThan(40);
  }, 60_000);
});

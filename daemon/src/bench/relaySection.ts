/**
 * Relay timing of a whole running blinkd (`npm run bench -- --only relay`): the process the
 * installer runs, with its isolated door controller, the camera replaying video through the
 * vision worker flat out (the frame loop deciding and recording every denial), and then, on top:
 *  - another process holding the database's write lock 1.5 s at a time (what a `sqlite3` shell, a
 *    backup or a stuck CLI does), and
 *  - a flood of MQTT commands (junk and unsigned unlocks, ~5,000 a second) through a private
 *    Mosquitto.
 * Each scenario presses the exit button 20 times; the pulse is door.pulseMs = 250 ms, and the error
 * is |energised time − 250 ms| from the simulated driver's write times (the door controller's
 * clock). Target: p99 ≤ 20 ms in each.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { percentile, round2 } from '../util/stats.js';
import { findExecutable } from '../util/which.js';
import { testDataDir } from '../system/paths.js';
import type { BenchContext, BenchResult, BenchSection } from './main.js';
import { freePort } from './freePort.js';

const PULSE_MS = 250;
const PRESSES = 20;
const RELAY_PIN = 17;
const BUTTON_PIN = 27;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, ok: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await ok()) return;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Another process that takes the write lock for 1.5 s, lets go for 0.1 s, and again, until killed. */
function lockHolder(repoRoot: string, db: string): ChildProcess {
  const script = `
    const Database = (await import(${JSON.stringify(join(repoRoot, 'node_modules', 'better-sqlite3', 'lib', 'index.js'))})).default;
    const db = new Database(${JSON.stringify(db)});
    db.pragma('busy_timeout = 10000');
    const wait = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    for (;;) { db.exec('BEGIN IMMEDIATE'); wait(1500); db.exec('COMMIT'); wait(100); }`;
  return spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
}

/** Pulse errors of PRESSES exit-button presses, read back from the driver's mirror after each. */
async function presses(inputs: string, gpio: string): Promise<{ errors: number[]; missed: number }> {
  const errors: number[] = [];
  let missed = 0;
  let lastOn = -1;
  for (let i = 0; i < PRESSES; i++) {
    writeFileSync(inputs, JSON.stringify({ inputs: { [BUTTON_PIN]: 0 } }));
    await sleep(120);
    writeFileSync(inputs, JSON.stringify({ inputs: { [BUTTON_PIN]: 1 } }));
    await sleep(PULSE_MS + 250 + (i % 4) * 30);
    const writes = (JSON.parse(readFileSync(gpio, 'utf8')) as { writes: Array<{ pin: number; level: number; t: number }> }).writes.filter(
      (w) => w.pin === RELAY_PIN,
    );
    const on = writes.map((w) => w.level).lastIndexOf(1);
    const off = on >= 0 ? writes.slice(on + 1).find((w) => w.level === 0) : undefined;
    if (on < 0 || !off || writes[on]!.t === lastOn) {
      missed++;
      continue;
    }
    lastOn = writes[on]!.t;
    errors.push(Math.abs(off.t - writes[on]!.t - PULSE_MS));
  }
  return { errors, missed };
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const mosquitto = findExecutable('mosquitto', process.env.PATH, ['/usr/sbin']);
  if (!mosquitto) throw new Error('the relay bench needs mosquitto (apt-get install mosquitto)');
  const video = join(testDataDir(), 'video', 'focus_mahie_test_1.avi');
  if (!existsSync(video)) throw new Error(`the relay bench needs ${video} (BLINK_TEST_DATA)`);
  const dir = mkdtempSync(join(tmpdir(), 'blink-bench-relay-'));
  const children: ChildProcess[] = [];
  try {
    const brokerPort = await freePort();
    children.push(spawn(mosquitto, ['-p', String(brokerPort)], { stdio: 'ignore' }));
    const adminPort = await freePort();
    const gpio = join(dir, 'gpio.json');
    const inputs = join(dir, 'inputs.json');
    writeFileSync(inputs, JSON.stringify({ inputs: { [BUTTON_PIN]: 1 } }));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BLINK_') || k === 'BLINK_TEST_DATA'));
    const blinkd = spawn(process.execPath, [join(ctx.repoRoot, 'daemon', 'bin', 'blinkd.js'), 'run'], {
      cwd: dir,
      stdio: 'ignore',
      env: {
        ...env,
        BLINK_STORE__DATA_DIR: dir,
        BLINK_ADMIN__PORT: String(adminPort),
        BLINK_UNIT__ID: 'bench',
        BLINK_DOOR__DRIVER: 'simulated',
        BLINK_DOOR__SIMULATED_STATE_FILE: gpio,
        BLINK_DOOR__SIMULATED_INPUTS_FILE: inputs,
        BLINK_DOOR__EXIT_BUTTON_PIN: String(BUTTON_PIN),
        BLINK_DOOR__DEBOUNCE_MS: '0',
        BLINK_DOOR__PULSE_MS: String(PULSE_MS),
        BLINK_CAMERA__SOURCE: `file:${video}`,
        BLINK_CAMERA__FPS: '120',
        BLINK_MQTT__ENABLED: 'true',
        BLINK_MQTT__URL: `mqtt://127.0.0.1:${brokerPort}`,
        BLINK_LOGGING__LEVEL: 'warn',
      },
    });
    children.push(blinkd);
    const health = async () => {
      try {
        const r = await fetch(`http://127.0.0.1:${adminPort}/health`);
        return (await r.json()) as { services?: Record<string, { status?: string }> };
      } catch {
        return null;
      }
    };
    await waitFor(
      'blinkd /health with the camera and MQTT up',
      async () => {
        const h = await health();
        return h?.services?.camera?.status === 'running' && h.services.mqtt?.status === 'running';
      },
      60_000,
    );
    await sleep(3000); // the vision worker warm

    ctx.log('  relay: exit-button pulses, vision at full load');
    const vision = await presses(inputs, gpio);

    ctx.log('  relay: + database write-locked by another process');
    const holder = lockHolder(ctx.repoRoot, join(dir, 'blink.db'));
    children.push(holder);
    await sleep(500);
    const locked = await presses(inputs, gpio);
    holder.kill('SIGKILL');
    await sleep(2000);

    ctx.log('  relay: + MQTT command flood');
    const flooder = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerPort}`, { clientId: 'bench-flood' });
    let sent = 0;
    let flooding = true;
    const flood = (async () => {
      const topics = ['blink/bench/unlock/set', 'blink/bench/lock/set', 'blink/bench/held_unlocked/set', 'blink/bench/nonsense/set'];
      while (flooding) {
        for (let i = 0; i < 250; i++) flooder.publish(topics[i % topics.length]!, i % 2 ? 'PRESS' : '{"value":"ON","sig":"x"}', { qos: 0 });
        sent += 250;
        await sleep(50);
      }
    })();
    const t0 = performance.now();
    const flooded = await presses(inputs, gpio);
    const floodSeconds = (performance.now() - t0) / 1000;
    flooding = false;
    await flood;
    await flooder.endAsync();
    const h = await health();

    const p = (v: number[], q: number) => (v.length ? round2(percentile(v, q)) : null);
    return {
      relay_pulse_ms: PULSE_MS,
      relay_presses_per_scenario: PRESSES,
      relay_pulse_error_p50_vision_ms: p(vision.errors, 50),
      relay_pulse_error_p99_vision_ms: p(vision.errors, 99),
      relay_pulse_error_p50_write_locked_ms: p(locked.errors, 50),
      relay_pulse_error_p99_write_locked_ms: p(locked.errors, 99),
      relay_pulse_error_p50_mqtt_flood_ms: p(flooded.errors, 50),
      relay_pulse_error_p99_mqtt_flood_ms: p(flooded.errors, 99),
      relay_pulse_error_max_ms: p([...vision.errors, ...locked.errors, ...flooded.errors], 100),
      relay_presses_missed: vision.missed + locked.missed + flooded.missed,
      mqtt_flood_msgs_per_s: Math.round(sent / floodSeconds),
      unit_state_after: (h as { status?: string } | null)?.status ?? null,
    };
  } finally {
    for (const c of children.reverse()) c.kill('SIGKILL');
    await sleep(300);
    rmSync(dir, { recursive: true, force: true });
  }
}

export const relaySection: BenchSection = { name: 'relay', run };

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/database.js';
import { REPO_ROOT, freePort, tempDir, waitForHealth, type HealthBody, type RunningBlinkd } from '../helpers/blinkd.js';
import { startBroker, type TestBroker } from './broker.js';
import { kill, startUnit, unitEnv, waitCommandsLive } from './unit.js';
import { json, watch, type Watcher } from './watcher.js';

const UNIT = 'door-saf';
const BASE = `blink/${UNIT}`;
const FIXTURE = join(import.meta.dirname, 'fixtures', 'decisionUnit.mjs');

/**
 * Why a fixture process: the unit has no camera here, so decisions are produced by a child
 * running the real Controller and MqttService on the unit's SQLite file, recording through
 * the access service's own AccessRecorder (the path a camera decision takes after the
 * decider). It can also die at the worst moment (SIGKILL right after recording), which a
 * blinkd child cannot be told to do.
 */
function startDecisionUnit(dir: string, env: Record<string, string>) {
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BLINK_')));
  const child = spawn(process.execPath, [FIXTURE], {
    cwd: dir,
    env: { ...baseEnv, ...env, BLINK_TEST_DIST: join(REPO_ROOT, 'dist', 'daemon', 'src') },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  let buf = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        lines.push(JSON.parse(text) as Record<string, unknown>);
      } catch {
        lines.push({ raw: text });
      }
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  const waitLine = async (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = lines.find(pred);
      if (hit) return hit;
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(
          `decision unit exited (${child.exitCode} ${child.signalCode}); stderr: ${stderr.slice(-2000)} last: ${JSON.stringify(lines.slice(-4))}`,
        );
      if (Date.now() > deadline) throw new Error(`line not seen; last: ${JSON.stringify(lines.slice(-3))} stderr: ${stderr.slice(-1000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { child, lines, exited, waitLine, send: (cmd: string) => child.stdin.write(cmd + '\n') };
}

function eventIdsInSeqOrder(dir: string): string[] {
  const db = openDatabase(join(dir, 'blink.db'), { readonly: true });
  try {
    return (db.prepare('SELECT id FROM access_events ORDER BY seq').all() as Array<{ id: string }>).map((r) => r.id);
  } finally {
    db.close();
  }
}

describe('MQTT store-and-forward (real Mosquitto with persistence)', () => {
  let broker: TestBroker;
  let t: ReturnType<typeof tempDir>;
  let fleet: Watcher;
  let env: Record<string, string>;
  let port = 0;
  const unitHealth = (pred: (h: HealthBody) => boolean, what: string) => waitForHealth(`http://127.0.0.1:${port}`, pred, 30_000, what);
  let unit: RunningBlinkd | null = null;
  let producer: ReturnType<typeof startDecisionUnit> | null = null;

  beforeAll(async () => {
    broker = await startBroker({ persistence: true });
    t = tempDir('blink-mqtt-saf-');
    const cfg = join(t.dir, 'blinkd.yaml');
    writeFileSync(cfg, '{}\n');
    port = await freePort();
    env = unitEnv(t.dir, broker.url, UNIT, { BLINK_CONFIG: cfg, BLINK_ADMIN__PORT: String(port) });
    // The fleet manager: a persistent session (clean off, QoS 1), so messages published while
    // it reconnects after the broker restart are queued for it, as for any durable consumer.
    fleet = await watch(broker.url, [`${BASE}/access`, `${BASE}/status`], { clientId: 'fleet-manager-test', clean: false });
  });

  afterAll(async () => {
    if (producer && producer.child.exitCode === null && producer.child.signalCode === null) {
      producer.child.kill('SIGKILL');
      await producer.exited;
    }
    if (unit) await kill(unit);
    await fleet?.close();
    await broker?.dispose();
    t?.cleanup();
  });

  it('publishes each decision on <base>/access with the documented payload', async () => {
    producer = startDecisionUnit(t.dir, env);
    await unitHealth((h) => h.services.mqtt?.commandsLive === true, 'MQTT commands live');
    producer.send('produce 4 wait');
    await producer.waitLine((l) => l.msg === 'produced' && l.total === 4);
    const got = await fleet.waitForCount((s) => s.topic === `${BASE}/access`, 4);
    const first = json(got[0]!);
    expect(Object.keys(first).sort()).toEqual(
      [
        'event_type',
        'id',
        'seq',
        'ts',
        'unit',
        'door',
        'result',
        'reason',
        'personId',
        'personName',
        'score',
        'margin',
        'liveness',
        'source',
        'trackId',
      ].sort(),
    );
    expect(first).toMatchObject({
      event_type: 'granted',
      unit: UNIT,
      door: 'main',
      result: 'GRANTED',
      reason: 'match',
      personId: 'person-1',
      personName: 'Person 1',
      score: 0.9,
      liveness: { passive: 0.97, blink: true },
      source: 'camera',
    });
    expect(first.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number.isNaN(Date.parse(String(first.ts)))).toBe(false);
    const fourth = json(got[3]!);
    expect(fourth).toMatchObject({ event_type: 'denied', result: 'DENIED', reason: 'unknown', personId: null });
    expect(got.every((m) => !m.retain)).toBe(true);
    expect(got.map((m) => json(m).id)).toEqual(eventIdsInSeqOrder(t.dir));
  });

  it('broker down, 1,000 decisions, unit crashes and restarts while the broker is still down: all arrive in order once it is back', async () => {
    await broker.stop();
    await unitHealth((h) => h.services.mqtt?.connected === false, 'the broker connection lost');
    // 500 decisions queued in the outbox by the running unit...
    producer!.send('produce 500 wait');
    const queued = await producer!.waitLine((l) => l.msg === 'produced' && l.total === 504);
    expect(queued.outbox).toBeGreaterThanOrEqual(500);
    // ...and 500 more recorded just before a crash, before the bus listener could queue them.
    producer!.send('produce 500 crash');
    const exit = await producer!.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(eventIdsInSeqOrder(t.dir)).toHaveLength(1004);

    // The unit restarts (the real CLI) while the broker is still down and catches up from access_events.
    unit = await startUnit(t.dir, env);
    // It caught up from access_events: nothing recorded is left outside the outbox (500 queued before the crash + 500 caught up).
    const ready = await unit.waitForHealth(
      (h) => (h.services.mqtt?.outbox as { accessNotYetQueued?: number })?.accessNotYetQueued === 0,
      30_000,
      'the catch-up',
    );
    expect((ready.services.mqtt!.outbox as { depth: number }).depth).toBeGreaterThanOrEqual(1000);
    await new Promise((r) => setTimeout(r, 300));
    await broker.start();
    await waitCommandsLive(unit);

    const expected = eventIdsInSeqOrder(t.dir);
    const isAccess = (s: { topic: string }) => s.topic === `${BASE}/access`;
    await fleet.waitForCount(isAccess, 1004, 60_000);
    const received = fleet.seen.filter(isAccess).map((m) => json(m));
    const firstSeen: string[] = [];
    const seenIds = new Set<string>();
    for (const p of received) {
      const id = String(p.id);
      if (seenIds.has(id)) continue;
      seenIds.add(id);
      firstSeen.push(id);
    }
    // Every decision arrived, none lost, in the order they were decided.
    expect(firstSeen).toEqual(expected);
    // A duplicate is possible only where an acknowledgement was lost, and carries the same id and payload.
    const byId = new Map<string, string>();
    for (const p of received) {
      const text = JSON.stringify(p);
      const prev = byId.get(String(p.id));
      if (prev) expect(text).toBe(prev);
      byId.set(String(p.id), text);
    }
    expect(received.length - firstSeen.length).toBeLessThanOrEqual(20); // at most one window re-sent

    // And the outbox is empty once the broker acknowledged everything.
    const deadline = Date.now() + 10_000;
    let depth = -1;
    while (Date.now() < deadline) {
      const db = openDatabase(join(t.dir, 'blink.db'), { readonly: true });
      depth = (db.prepare("SELECT count(*) AS n FROM mqtt_outbox WHERE kind = 'access'").get() as { n: number }).n;
      db.close();
      if (depth === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(depth).toBe(0);
  });
});

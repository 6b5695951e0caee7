import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { AlarmRegistry } from '../../src/alarms/alarmRegistry.js';
import { EventBus, type AlarmEvent } from '../../src/events.js';
import { createLogger } from '../../src/logging.js';
import { openDatabase } from '../../src/store/database.js';
import { testDataDir } from '../../src/system/paths.js';
import { WatchdogService, type HealthProbe } from '../../src/system/watchdog.js';
import { BLINKD, startBlinkd, tempDir, type RunningBlinkd } from '../helpers/blinkd.js';
import { startBroker, type TestBroker } from '../mqtt/broker.js';
import { json, watch } from '../mqtt/watcher.js';

/**
 * The bugs the one-owner-per-fact review found, each reproduced through an interface that did not
 * change (the CLI, the running unit's MQTT topics and /health, the database) so the same test runs
 * against the code before the refactor (where it fails) and after.
 */
const DATA = testDataDir();
const haveData = existsSync(join(DATA, 'faces', 'obama'));
if (!haveData && process.env.CI) throw new Error(`shared test data missing at ${DATA}`);
const FACES = join(DATA, 'faces');
const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BLINK_') || k === 'BLINK_TEST_DATA'));

function cli(dir: string, args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [BLINKD, ...args], {
    cwd: dir,
    env: { ...base, BLINK_STORE__DATA_DIR: dir, BLINK_LOGGING__LEVEL: 'warn', ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
}

/** Runs SQL on the unit's database from another connection, as a person with sqlite3 would. */
function sql<T = unknown>(dir: string, query: string, ...args: unknown[]): T[] {
  const db = openDatabase(join(dir, 'blink.db'));
  try {
    const stmt = db.prepare(query);
    return (stmt.reader ? stmt.all(...args) : (stmt.run(...args), [])) as T[];
  } finally {
    db.close();
  }
}

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('bug 1: alarms have one owner', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startBroker();
  });
  afterAll(async () => broker?.dispose());

  it('camera_lost raised at start-up (before MQTT runs) is in the first retained <base>/alarm/state', async () => {
    const t = tempDir('blink-bug1-');
    cleanups.push(t.cleanup);
    const fleet = await watch(broker.url, ['blink/bug1/alarm/state']);
    cleanups.push(() => fleet.close());
    const d = await startBlinkd(['run'], {
      cwd: t.dir,
      env: {
        BLINK_UNIT__ID: 'bug1',
        BLINK_STORE__DATA_DIR: t.dir,
        BLINK_DOOR__DRIVER: 'simulated',
        BLINK_CAMERA__SOURCE: 'images:' + join(t.dir, 'no-such-camera'),
        BLINK_MQTT__ENABLED: 'true',
        BLINK_MQTT__URL: broker.url,
      },
    });
    cleanups.push(() => d.kill());
    const first = await fleet.waitFor((m) => m.topic === 'blink/bug1/alarm/state', 60_000);
    expect(json(first).active).toContain('camera_lost');
    // /health and MQTT read the same registry.
    const h = await d.waitForHealth();
    expect(h.alarms.map((a) => a.type)).toContain('camera_lost');
  });

  it('vision_stalled, documented but never raised, is raised by the watchdog when the vision worker stops answering, and cleared', async () => {
    const bus = new EventBus();
    const alarms = new AlarmRegistry(bus, createLogger('silent'));
    const seen: AlarmEvent[] = [];
    bus.on(seen, 'alarm', (a) => void seen.push(a));
    let probe: HealthProbe = { ok: false, cause: 'vision', reason: 'vision worker stuck on one frame for 16000 ms' };
    const w = new WatchdogService({ ready: async () => {}, frameLoop: () => probe, statusLine: () => 'x' }, bus, alarms, createLogger('silent'), {});
    await w.start();
    bus.emit('service.status', { name: 'http', status: 'running' });
    await new Promise((r) => setTimeout(r, 50));
    await w.tick();
    expect(alarms.active()).toMatchObject([{ type: 'vision_stalled', reason: 'vision worker stuck on one frame for 16000 ms' }]);
    probe = { ok: true };
    await w.tick();
    expect(alarms.active()).toEqual([]);
    expect(seen.map((a) => [a.type, a.active])).toEqual([
      ['vision_stalled', true],
      ['vision_stalled', false],
    ]);
    // A camera problem is camera_lost's business (the camera raises it), not vision_stalled.
    probe = { ok: false, cause: 'camera', reason: 'camera: no frame for 9000 ms' };
    await w.tick();
    expect(alarms.isActive('vision_stalled')).toBe(false);
    await w.stop();
  });
});

describe.runIf(haveData)('bugs 2, 4, 5: one gallery, one effective configuration, one removal', () => {
  let dir: string;
  let cleanup: () => void = () => {};
  beforeAll(() => {
    const t = tempDir('blink-bugs-');
    dir = t.dir;
    cleanup = t.cleanup;
    const r = cli(dir, ['enroll', '--name', 'Barack Obama', join(FACES, 'obama', 'obama.jpg'), join(FACES, 'obama', 'obama2.jpg')]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 180_000);
  afterAll(() => cleanup());

  it('bug 2: `blinkd identify` recognises a deactivated person and says so, as the door does (not "no match")', () => {
    sql(dir, "UPDATE people SET status = 'DEACTIVATED' WHERE name = 'Barack Obama'");
    try {
      const r = cli(dir, ['identify', '--json', join(FACES, 'obama', 'obama3.jpg')]);
      const out = JSON.parse(r.stdout) as { decision: string; name: string | null; status?: string };
      expect(out).toMatchObject({ decision: 'match', name: 'Barack Obama', status: 'DEACTIVATED' });
    } finally {
      sql(dir, "UPDATE people SET status = 'ACTIVE' WHERE name = 'Barack Obama'");
    }
  });

  it('bug 4: a setting saved in the admin applies to every entry point, also with the admin disabled', () => {
    sql(dir, "INSERT INTO settings (key, value_json, updated_at, updated_by) VALUES ('access.threshold', '0.5', '2026-01-01T00:00:00Z', 'admin:test')");
    try {
      const check = cli(dir, ['config', 'check', '--json'], { BLINK_ADMIN__ENABLED: 'false' });
      expect(check.status).toBe(0);
      expect((JSON.parse(check.stdout) as { config: { access: { threshold: number } } }).config.access.threshold).toBe(0.5);
      const id = cli(dir, ['identify', '--json', join(FACES, 'biden', 'biden.jpg')], { BLINK_ADMIN__ENABLED: 'false' });
      expect((JSON.parse(id.stdout) as { threshold: number }).threshold).toBe(0.5);
    } finally {
      sql(dir, "DELETE FROM settings WHERE key = 'access.threshold'");
    }
  });

  it('bug 5: `blinkd people remove` and the admin remove a person the same way, and a running unit stops matching them without a restart', async () => {
    // The door camera sees Obama, then nobody, again and again: each visit is a new track and a new decision.
    const cam = join(dir, 'cam');
    mkdirSync(cam);
    let n = 0;
    for (let visit = 0; visit < 40; visit++) {
      for (let i = 0; i < 12; i++) symlinkSync(join(FACES, 'obama', 'obama3.jpg'), join(cam, `${String(n++).padStart(5, '0')}.jpg`));
      for (let i = 0; i < 20; i++) symlinkSync(join(FACES, 'no_face', 'human__background.jpg'), join(cam, `${String(n++).padStart(5, '0')}.jpg`));
    }
    const d: RunningBlinkd = await startBlinkd(['run'], {
      cwd: dir,
      env: {
        BLINK_STORE__DATA_DIR: dir,
        BLINK_DOOR__DRIVER: 'simulated',
        BLINK_CAMERA__SOURCE: `images:${cam}`,
        BLINK_CAMERA__FPS: '10',
        BLINK_CAMERA__LOOP: 'false',
        BLINK_ACCESS__LIVENESS__BLINK: 'false',
        // a still photo replayed as the camera: no liveness check may decide (MiniFASNet would rightly refuse some)
        BLINK_ACCESS__LIVENESS__PAD: 'false',
        BLINK_ACCESS__COOLDOWN_MS: '0',
        BLINK_LOGGING__LEVEL: 'info',
      },
    });
    cleanups.push(() => d.kill());
    const id = sql<{ id: string }>(dir, "SELECT id FROM people WHERE name = 'Barack Obama'")[0]!.id;
    type Row = { seq: number; result: string; person_id: string | null; details_json: string | null };
    const decisions = (after: number) => sql<Row>(dir, 'SELECT seq, result, person_id, details_json FROM access_events WHERE seq > ? ORDER BY seq', after);
    const deadline = Date.now() + 90_000;
    while (!decisions(0).some((e) => e.result === 'GRANTED' && e.person_id === id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(decisions(0).some((e) => e.result === 'GRANTED' && e.person_id === id)).toBe(true);

    const removed = cli(dir, ['people', 'remove', id]);
    expect(removed.status).toBe(0);
    // One audit name for a removal, whichever interface did it (the admin writes person.deleted).
    expect(sql<{ action: string }>(dir, "SELECT action FROM audit_log WHERE target LIKE '%' || ? ORDER BY id DESC LIMIT 1", id)[0]?.action).toBe(
      'person.deleted',
    );
    // Give the running unit a moment (it polls the registry revision every 2 s), then watch more visits.
    await new Promise((r) => setTimeout(r, 3000));
    const mark = decisions(0).at(-1)?.seq ?? 0;
    while (decisions(mark).length < 3 && Date.now() < deadline + 60_000) await new Promise((r) => setTimeout(r, 250));
    const later = decisions(mark);
    expect(later.length).toBeGreaterThanOrEqual(3);
    for (const e of later) {
      expect(e.result).toBe('DENIED');
      // The removed person is not even the nearest match any more: the door's gallery forgot them.
      expect(e.details_json ?? '').not.toContain(id);
    }
  }, 240_000);
});

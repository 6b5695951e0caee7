import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { AlarmRegistry } from '../../src/alarms/alarmRegistry.js';
import { EventBus } from '../../src/events.js';
import { createLogger } from '../../src/logging.js';
import { frameLoopHealth, VISION_STUCK_MS, WatchdogService, type HealthProbe } from '../../src/system/watchdog.js';
import { CameraService } from '../../src/camera/cameraService.js';
import { FrameLoop } from '../../src/access/frameLoop.js';
import { parseConfig } from '../../src/config/load.js';
import { testDataDir } from '../../src/system/paths.js';
import { tempDir } from '../helpers/blinkd.js';
import { startNotifyListener } from './notifyListener.js';

const log = createLogger('silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('frame loop health', () => {
  const base = { cameraState: 'up', cameraDetail: null, lastFrameAgeMs: 50, frozenAfterMs: 5000, loop: { inFlightMs: 20, lastResultAgeMs: 60 } };
  it('healthy, frozen camera, stuck worker, no results, no camera', () => {
    expect(frameLoopHealth(base)).toEqual({ ok: true });
    expect(frameLoopHealth({ ...base, lastFrameAgeMs: 5001 })).toMatchObject({ ok: false, reason: expect.stringContaining('camera: no frame for 5001 ms') });
    expect(frameLoopHealth({ ...base, cameraState: 'down', lastFrameAgeMs: null, cameraDetail: 'ffmpeg exited' })).toMatchObject({
      ok: false,
      reason: expect.stringContaining('ffmpeg exited'),
    });
    expect(frameLoopHealth({ ...base, loop: { inFlightMs: VISION_STUCK_MS + 1, lastResultAgeMs: 60 } })).toMatchObject({
      ok: false,
      reason: expect.stringContaining('vision worker stuck'),
    });
    expect(frameLoopHealth({ ...base, loop: { inFlightMs: null, lastResultAgeMs: VISION_STUCK_MS + 1 } })).toMatchObject({
      ok: false,
      reason: expect.stringContaining('no vision result'),
    });
    expect(frameLoopHealth({ ...base, cameraState: 'none', lastFrameAgeMs: null })).toEqual({ ok: true });
  });

  it('a frame stuck in the analyzer shows as a growing in-flight time, and newer frames are not queued behind it', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const dir = join(t.dir, 'img');
    mkdirSync(dir);
    symlinkSync(join(testDataDir(), 'faces', 'obama', 'obama.jpg'), join(dir, 'a.jpg'));
    const bus0 = new EventBus();
    const camera = new CameraService(parseConfig({ camera: { source: `images:${dir}`, fps: 20 } }, 't').camera, bus0, new AlarmRegistry(bus0, log), log);
    cleanups.push(() => camera.stop());
    let calls = 0;
    // The vision worker is not under test: an analyzer that never answers stands for a stuck one.
    const loop = new FrameLoop(camera, { analyze: () => (calls++, new Promise(() => {})) }, () => {}, log);
    loop.start();
    cleanups.push(() => loop.stop());
    await camera.start();
    await sleep(300);
    const a = loop.snapshot().inFlightMs!;
    await sleep(300);
    const b = loop.snapshot().inFlightMs!;
    expect(calls).toBe(1);
    expect(b).toBeGreaterThan(a);
    expect(b).toBeGreaterThanOrEqual(500);
    expect(camera.snapshot().dropped).toBeGreaterThan(5);
  });
});

describe('WatchdogService', () => {
  it('READY once ready, pings while healthy, stops while unhealthy or when the event loop was blocked, STOPPING on stop', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const l = await startNotifyListener(t.dir);
    cleanups.push(l.close);
    let health: HealthProbe = { ok: true };
    let release: () => void = () => {};
    const ready = new Promise<void>((r) => (release = r));
    const bus = new EventBus();
    const w = new WatchdogService(
      { ready: () => ready, frameLoop: () => health, statusLine: () => 'camera up 15 fps, 2 people enrolled' },
      bus,
      new AlarmRegistry(bus, log),
      log,
      {
        NOTIFY_SOCKET: l.socket,
        WATCHDOG_USEC: '400000',
        PATH: process.env.PATH,
      },
    );
    await w.start();
    cleanups.push(() => w.stop());
    bus.emit('service.status', { name: 'http', status: 'running' });
    await sleep(500);
    expect(l.messages).toEqual([]); // not ready yet: no READY, no pings
    release();
    const r = await l.waitFor((m) => m.fields.READY === '1', 5000);
    expect(r.fields.STATUS).toBe('camera up 15 fps, 2 people enrolled');
    await sleep(700);
    const pings = () => l.messages.filter((m) => m.fields.WATCHDOG === '1').length;
    expect(pings()).toBeGreaterThanOrEqual(2);
    health = { ok: false, reason: 'camera: no frame for 6000 ms' };
    await l.waitFor((m) => m.fields.STATUS === 'unhealthy: camera: no frame for 6000 ms', 3000);
    const stoppedAt = pings();
    await sleep(700);
    expect(pings()).toBe(stoppedAt);
    health = { ok: true };
    await l.waitFor((m) => m.fields.WATCHDOG === '1' && m.fields.STATUS === 'camera up 15 fps, 2 people enrolled', 3000);
    // block the event loop for 1.3 s: the next round sees the lag and does not ping
    const end = Date.now() + 1300;
    while (Date.now() < end) {
      /* busy */
    }
    await l.waitFor((m) => (m.fields.STATUS ?? '').startsWith('unhealthy: event loop blocked'), 3000);
    await w.stop();
    await l.waitFor((m) => m.fields.STOPPING === '1', 3000);
  });
});

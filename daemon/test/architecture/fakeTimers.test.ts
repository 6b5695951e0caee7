import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AlarmRegistry } from '../../src/alarms/alarmRegistry.js';
import { CameraService } from '../../src/camera/cameraService.js';
import type { FrameSink, FrameSource } from '../../src/camera/frameSource.js';
import { parseConfig } from '../../src/config/load.js';
import { DoorService } from '../../src/door/doorService.js';
import { SimulatedGpioDriver } from '../../src/door/gpio/simulatedDriver.js';
import { EventBus } from '../../src/events.js';
import { createLogger } from '../../src/logging.js';
import { WatchdogService, type HealthProbe, type Notifier } from '../../src/system/watchdog.js';

/** Timer logic on a fake clock: exact, instant, and independent of how loaded the machine is. */
const log = createLogger('silent');

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('door timers (fake clock)', () => {
  async function rig(door: Record<string, unknown> = {}) {
    const config = parseConfig(
      { door: { driver: 'simulated', contactPin: 22, debounceMs: 0, pulseMs: 3000, maxUnlockMs: 10_000, heldOpenAlarmMs: 30_000, ...door } },
      't',
    ).door;
    const gpio = new SimulatedGpioDriver();
    const bus = new EventBus();
    const alarms = new AlarmRegistry(bus, log);
    const d = new DoorService(config, bus, alarms, log, { driverFactory: () => gpio });
    gpio.setInput(22, 0);
    await d.start();
    return { d, gpio, alarms };
  }

  it('a grant keeps the relay on for exactly door.pulseMs', async () => {
    const { d, gpio } = await rig();
    d.grant('face:x');
    expect(gpio.outputLevel(17)).toBe(1);
    vi.advanceTimersByTime(2999);
    expect(gpio.outputLevel(17)).toBe(1);
    vi.advanceTimersByTime(1);
    expect(gpio.outputLevel(17)).toBe(0);
    expect(d.state()).toMatchObject({ relay: 'off', unlockReason: null });
    await d.stop();
  });

  it('a longer pulse is capped at door.maxUnlockMs, and a new grant restarts the pulse', async () => {
    const { d, gpio } = await rig();
    expect(d.pulse('command', 60_000)).toEqual({ ok: true, ms: 10_000 });
    vi.advanceTimersByTime(9_999);
    expect(gpio.outputLevel(17)).toBe(1);
    vi.advanceTimersByTime(1);
    expect(gpio.outputLevel(17)).toBe(0);
    d.grant('a');
    vi.advanceTimersByTime(2000);
    d.grant('b'); // a second person: the pulse starts again
    vi.advanceTimersByTime(2999);
    expect(gpio.outputLevel(17)).toBe(1);
    vi.advanceTimersByTime(1);
    expect(gpio.outputLevel(17)).toBe(0);
    await d.stop();
  });

  it('held open: the alarm is raised exactly door.heldOpenAlarmMs after the door opened, and cleared when it closes', async () => {
    const { d, gpio, alarms } = await rig();
    d.grant('face:x');
    gpio.setInput(22, 1); // opened during the unlock: authorised
    expect(alarms.isActive('forced_open')).toBe(false);
    vi.advanceTimersByTime(29_999);
    expect(alarms.isActive('held_open')).toBe(false);
    vi.advanceTimersByTime(1);
    expect(alarms.active()).toMatchObject([{ type: 'held_open' }]);
    gpio.setInput(22, 0);
    expect(alarms.active()).toEqual([]);
    await d.stop();
  });

  it('an opening 1.5 s after the pulse ended is late but authorised; later it is forced', async () => {
    const { d, gpio, alarms } = await rig();
    d.grant('face:x');
    vi.advanceTimersByTime(3000 + 1500);
    gpio.setInput(22, 1);
    expect(alarms.isActive('forced_open')).toBe(false);
    gpio.setInput(22, 0);
    vi.advanceTimersByTime(1);
    gpio.setInput(22, 1);
    expect(alarms.isActive('forced_open')).toBe(true);
    await d.stop();
  });
});

describe('camera restart backoff (fake clock)', () => {
  /** A source that dies as soon as it starts. */
  class DyingSource implements FrameSource {
    readonly description = 'dying';
    starts: number[] = [];
    async start(sink: FrameSink): Promise<void> {
      this.starts.push(Date.now());
      queueMicrotask(() => sink.ended('exit code 1', 'error'));
    }
    async stop(): Promise<void> {}
  }

  it('restarts a dead source after min, then doubling, capped at max; camera_lost raised once', async () => {
    const config = parseConfig({ camera: { source: 'images:/x', restartBackoffMinMs: 500, restartBackoffMaxMs: 4000 } }, 't').camera;
    const bus = new EventBus();
    const alarms = new AlarmRegistry(bus, log);
    const raised: string[] = [];
    bus.on(raised, 'alarm', (a) => void raised.push(`${a.type}:${a.active}`));
    const src = new DyingSource();
    const cam = new CameraService(config, bus, alarms, log, () => src);
    const t0 = Date.now();
    await cam.start();
    for (let i = 0; i < 60; i++) await vi.advanceTimersByTimeAsync(250);
    await cam.stop();
    const gaps = src.starts.slice(1).map((t, i) => t - src.starts[i]!);
    expect(src.starts[0]).toBe(t0);
    expect(gaps.slice(0, 5)).toEqual([500, 1000, 2000, 4000, 4000]);
    expect(raised).toEqual(['camera_lost:true']);
  });
});

describe('watchdog pings (fake clock)', () => {
  class RecordingNotifier implements Notifier {
    readonly enabled = true;
    sent: Array<Record<string, string | number>> = [];
    async notify(fields: Record<string, string | number>): Promise<boolean> {
      this.sent.push(fields);
      return true;
    }
    notifySync(fields: Record<string, string | number>): boolean {
      this.sent.push(fields);
      return true;
    }
  }

  it('READY once ready, a WATCHDOG ping every WatchdogSec/2 while healthy, none while the frame loop is unhealthy, STOPPING at stop', async () => {
    const n = new RecordingNotifier();
    const bus = new EventBus();
    let probe: HealthProbe = { ok: true };
    const w = new WatchdogService(
      { ready: async () => {}, frameLoop: () => probe, statusLine: () => 'ok' },
      bus,
      new AlarmRegistry(bus, log),
      log,
      { WATCHDOG_USEC: '2000000' }, // WatchdogSec=2 → ping every 1 s
      n,
    );
    await w.start();
    bus.emit('service.status', { name: 'http', status: 'running' });
    await vi.advanceTimersByTimeAsync(0);
    expect(n.sent[0]).toMatchObject({ READY: 1 });
    const pings = () => n.sent.filter((f) => f.WATCHDOG === 1).length;
    const afterReady = pings();
    await vi.advanceTimersByTimeAsync(5000);
    expect(pings() - afterReady).toBe(5);
    probe = { ok: false, cause: 'camera', reason: 'camera: no frame for 6000 ms' };
    await vi.advanceTimersByTimeAsync(5000);
    expect(pings() - afterReady).toBe(5);
    expect(n.sent.some((f) => String(f.STATUS ?? '').startsWith('unhealthy: camera'))).toBe(true);
    probe = { ok: true };
    await vi.advanceTimersByTimeAsync(3000);
    expect(pings() - afterReady).toBe(8);
    await w.stop();
    expect(n.sent.at(-1)).toMatchObject({ STOPPING: 1 });
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { join } from 'node:path';
import { AlarmRegistry } from '../../src/alarms/alarmRegistry.js';
import { parseConfig } from '../../src/config/load.js';
import { DoorService } from '../../src/door/doorService.js';
import { SimulatedGpioDriver } from '../../src/door/gpio/simulatedDriver.js';
import { EventBus } from '../../src/events.js';
import { createLogger } from '../../src/logging.js';
import { tempDir } from '../helpers/blinkd.js';

/** Hardening item 1: held-unlocked is bounded (a maximum, allowed windows) and never outlives a restart silently. */
const log = createLogger('silent');

function rig(door: Record<string, unknown>, dir: string, audit: Array<[string, Record<string, unknown>]> = [], timeZone = 'UTC') {
  const config = parseConfig({ door: { driver: 'simulated', ...door } }, 't').door;
  const gpio = new SimulatedGpioDriver();
  const bus = new EventBus();
  const d = new DoorService(config, bus, new AlarmRegistry(bus, log), log, {
    driverFactory: () => gpio,
    timeZone,
    modeFile: join(dir, 'door-mode.json'),
    audit: (a, x) => void audit.push([a, x]),
  });
  return { d, gpio };
}

describe('held unlocked is bounded', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] }));
  afterEach(() => vi.useRealTimers());

  it('ends by itself after door.heldUnlockedMaxMinutes: back to normal, relay off', async () => {
    const t = tempDir();
    const { d, gpio } = rig({ heldUnlockedMaxMinutes: 90 }, t.dir);
    await d.start();
    expect(d.setMode('held_unlocked')).toBeNull();
    expect(gpio.outputLevel(17)).toBe(1);
    vi.advanceTimersByTime(90 * 60_000 - 1);
    expect(d.state().mode).toBe('held_unlocked');
    vi.advanceTimersByTime(1);
    expect(d.state()).toMatchObject({ mode: 'normal', relay: 'off' });
    expect(gpio.outputLevel(17)).toBe(0);
    await d.stop();
    t.cleanup();
  });

  it('the default maximum is 12 hours', () => {
    expect(parseConfig({}, 't').door.heldUnlockedMaxMinutes).toBe(720);
  });

  it('outside door.heldUnlockedWindows it is refused; a hold started inside ends when its window ends', async () => {
    const t = tempDir();
    vi.setSystemTime(new Date('2026-03-02T08:00:00Z')); // a Monday, 08:00 UTC
    const { d, gpio } = rig({ heldUnlockedWindows: [{ days: ['mon'], start: '08:00', end: '09:00' }] }, t.dir);
    await d.start();
    expect(d.setMode('held_unlocked')).toBeNull();
    vi.advanceTimersByTime(59 * 60_000);
    expect(d.state().mode).toBe('held_unlocked');
    vi.advanceTimersByTime(2 * 60_000); // 09:01: the window ended (checked every 30 s)
    expect(d.state().mode).toBe('normal');
    expect(gpio.outputLevel(17)).toBe(0);
    expect(d.setMode('held_unlocked')).toMatch(/outside door\.heldUnlockedWindows/);
    expect(d.state().mode).toBe('normal');
    await d.stop();
    t.cleanup();
  });
});

describe('the door mode across a restart', () => {
  it('held unlocked never survives a restart, and its end is audited; a lockdown does survive', async () => {
    const t = tempDir();
    const audit: Array<[string, Record<string, unknown>]> = [];
    let r = rig({}, t.dir, audit);
    await r.d.start();
    r.d.setMode('held_unlocked');
    await r.d.stop(); // the daemon restarts (or crashed) while the door was held unlocked
    r = rig({}, t.dir, audit);
    await r.d.start();
    expect(r.d.state()).toMatchObject({ mode: 'normal', relay: 'off' });
    expect(r.gpio.outputLevel(17)).toBe(0);
    expect(audit).toEqual([['door.held_unlocked_ended', expect.objectContaining({ reason: 'restart' })]]);
    r.d.setMode('lockdown');
    await r.d.stop();
    r = rig({}, t.dir, audit);
    await r.d.start();
    expect(r.d.state().mode).toBe('lockdown');
    expect(r.d.grant('face:x').ok).toBe(false);
    await r.d.stop();
    t.cleanup();
  });
});

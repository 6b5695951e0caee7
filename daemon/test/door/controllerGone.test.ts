import { describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { AlarmRegistry } from '../../src/alarms/alarmRegistry.js';
import { parseConfig } from '../../src/config/load.js';
import { DoorService } from '../../src/door/doorService.js';
import { EventBus } from '../../src/events.js';
import { createLogger } from '../../src/logging.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Stopping the door while its controller process has just died (killed, crashed, or exiting on
 * its own): the 'stop' message cannot be written (EPIPE, reported asynchronously). Before, that
 * error had no listener and surfaced as an uncaught exception in the daemon.
 */
describe('the door controller gone when the daemon stops', () => {
  it('stops cleanly, with no uncaught EPIPE, when the controller was killed a moment before', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => void uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      for (let i = 0; i < 5; i++) {
        const config = parseConfig({ door: { driver: 'simulated' } }, 't').door;
        const bus = new EventBus();
        const door = new DoorService(config, bus, new AlarmRegistry(bus, createLogger('silent')), createLogger('silent'));
        await door.start();
        const child = (door as unknown as { child: ChildProcess }).child;
        expect(child.pid).toBeGreaterThan(0);
        child.kill('SIGKILL');
        await sleep(i * 5); // the stop lands before, at, or after the exit is noticed
        await door.stop();
        expect(door.state().relay).toBe('off');
        expect(() => door.pulse('after stop', 100)).toThrow(/not started/); // refused, never written to a dead pipe
        await sleep(50);
      }
      await sleep(200);
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});

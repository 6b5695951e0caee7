import { existsSync, readFileSync } from 'node:fs';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { selectGpioDriver } from '../door/gpio/selectDriver.js';
import { detectGpioOffset } from '../door/gpio/onoffDriver.js';
import { Relay } from '../door/relay.js';
import { parseCommandArgs, UsageError } from './args.js';

function describe(config: Config['door'], on: boolean | null, driver: string): string {
  const level = on === null ? 'unknown' : on === config.relayActiveLow ? 0 : 1;
  return JSON.stringify({
    driver,
    pin: config.relayPin,
    activeLow: config.relayActiveLow,
    level,
    relay: on === null ? 'unknown' : on ? 'on' : 'off',
  });
}

/** Reads the relay level without touching the pin's direction (opening it as an output would drive it). */
function readRelay(config: Config['door']): { driver: string; on: boolean | null } {
  const useOnoff = config.driver === 'onoff' || (config.driver === 'auto' && existsSync('/sys/class/gpio/export'));
  if (useOnoff) {
    const offset = config.gpioOffset === 'auto' ? detectGpioOffset() : config.gpioOffset;
    const file = `/sys/class/gpio/gpio${config.relayPin + offset}/value`;
    if (!existsSync(file)) return { driver: 'onoff', on: null };
    const level = Number(readFileSync(file, 'utf8').trim());
    return { driver: 'onoff', on: level === (config.relayActiveLow ? 0 : 1) };
  }
  if (!config.simulatedStateFile || !existsSync(config.simulatedStateFile)) return { driver: 'simulated', on: null };
  const state = JSON.parse(readFileSync(config.simulatedStateFile, 'utf8')) as { outputs?: Record<string, number> };
  const level = state.outputs?.[String(config.relayPin)];
  return { driver: 'simulated', on: level === undefined ? null : level === (config.relayActiveLow ? 0 : 1) };
}

/**
 * `blinkd relay off|status|pulse`: the relay without the daemon.
 *  - off: write the off level (systemd ExecStopPost runs this after every stop or
 *    crash, so the door never stays unlocked because blinkd died). The pin is left driven.
 *  - status: print the pin level (JSON), without changing it.
 *  - pulse [--ms N]: on for N ms (default door.pulseMs), then off. For wiring tests;
 *    do not run it while blinkd runs.
 */
export async function relayCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseCommandArgs(rest, { config: { type: 'string', short: 'c' }, ms: { type: 'string' } }, false);
  const { config } = loadConfig({ path: values.config });
  const door = config.door;
  switch (sub) {
    case 'off': {
      const driver = selectGpioDriver(door, (m) => process.stderr.write(`blinkd relay: ${m}\n`));
      const relay = new Relay(driver, door.relayPin, door.relayActiveLow);
      relay.off();
      process.stdout.write(describe(door, relay.isOn(), driver.name) + '\n');
      // Deliberately no close(): unexporting would release the pin; it must stay driven de-energized.
      return 0;
    }
    case 'status': {
      const r = readRelay(door);
      process.stdout.write(describe(door, r.on, r.driver) + '\n');
      return 0;
    }
    case 'pulse': {
      const ms = values.ms === undefined ? door.pulseMs : Number(values.ms);
      if (!Number.isInteger(ms) || ms < 1 || ms > door.maxUnlockMs)
        throw new UsageError(`--ms must be an integer from 1 to door.maxUnlockMs (${door.maxUnlockMs}), got "${values.ms}"`);
      const driver = selectGpioDriver(door, (m) => process.stderr.write(`blinkd relay: ${m}\n`));
      const relay = new Relay(driver, door.relayPin, door.relayActiveLow);
      const off = () => relay.off();
      process.once('SIGINT', off);
      process.once('SIGTERM', off);
      try {
        relay.on();
        process.stdout.write(describe(door, relay.isOn(), driver.name) + '\n');
        await new Promise((r) => setTimeout(r, ms));
      } finally {
        relay.off();
        process.off('SIGINT', off);
        process.off('SIGTERM', off);
      }
      process.stdout.write(describe(door, relay.isOn(), driver.name) + '\n');
      driver.close();
      return 0;
    }
    default:
      throw new UsageError(`unknown relay subcommand "${sub ?? ''}" (expected: relay off | status | pulse [--ms N])`);
  }
}

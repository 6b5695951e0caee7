import { existsSync } from 'node:fs';
import type { Config } from '../../config/schema.js';
import type { GpioDriver } from './driver.js';
import { SimulatedGpioDriver } from './simulatedDriver.js';
import { OnoffGpioDriver, detectGpioOffset } from './onoffDriver.js';

/** `auto` picks onoff where the GPIO sysfs exists and onoff loads, else the simulated driver. */
export function selectGpioDriver(door: Config['door'], log: (msg: string) => void = () => {}): GpioDriver {
  const offset = door.gpioOffset === 'auto' ? detectGpioOffset() : door.gpioOffset;
  if (door.driver === 'onoff') return new OnoffGpioDriver(offset);
  if (door.driver === 'auto' && existsSync('/sys/class/gpio/export')) {
    try {
      return new OnoffGpioDriver(offset);
    } catch (err) {
      log(`GPIO not usable (${(err as Error).message}); using the simulated driver`);
    }
  }
  return new SimulatedGpioDriver(door.simulatedStateFile, door.simulatedInputsFile, log);
}

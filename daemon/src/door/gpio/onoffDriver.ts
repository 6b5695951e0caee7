import { createRequire } from 'node:module';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { GpioDriver, GpioInput, GpioOutput, Level } from './driver.js';

interface OnoffGpio {
  writeSync(v: Level): void;
  readSync(): Level;
  watch(cb: (err: Error | null | undefined, value: Level) => void): void;
  unexport(): void;
}
type OnoffCtor = new (pin: number, direction: string, edge?: string, options?: { debounceTimeout?: number; activeLow?: boolean }) => OnoffGpio;

/**
 * The Linux sysfs GPIO numbers of a Pi's header pins are "gpiochip base + BCM number".
 * On a Pi 4 and earlier the base is 0; on a Pi 5 (RP1 south bridge, kernel 6.6+) the
 * header's chip has base 571 (older Pi 5 kernels: 399). We find the chip whose label is
 * the header's (pinctrl-rp1 on a Pi 5, pinctrl-bcm2711/bcm2835 before) and use its base.
 */
export function detectGpioOffset(sysfs = '/sys/class/gpio'): number {
  if (!existsSync(sysfs)) return 0;
  for (const entry of readdirSync(sysfs)) {
    if (!entry.startsWith('gpiochip')) continue;
    try {
      const label = readFileSync(`${sysfs}/${entry}/label`, 'utf8').trim();
      if (label === 'pinctrl-rp1') return Number(readFileSync(`${sysfs}/${entry}/base`, 'utf8').trim());
    } catch {
      /* not readable: skip */
    }
  }
  return 0;
}

/** Real GPIO through onoff (sysfs). Only loaded on hardware; `onoff` is an optional dependency. */
export class OnoffGpioDriver implements GpioDriver {
  readonly name = 'onoff' as const;
  private readonly opened: OnoffGpio[] = [];
  private readonly Gpio: OnoffCtor;

  constructor(private readonly offset: number) {
    const require = createRequire(import.meta.url);
    const mod = require('onoff') as { Gpio: OnoffCtor & { accessible: boolean } };
    if (!mod.Gpio.accessible) throw new Error('GPIO is not accessible (no /sys/class/gpio or no permission: is blinkd in the gpio group?)');
    this.Gpio = mod.Gpio;
  }

  output(pin: number, initial: Level): GpioOutput {
    const g = new this.Gpio(pin + this.offset, initial === 1 ? 'high' : 'low');
    this.opened.push(g);
    return { pin, write: (l) => g.writeSync(l), read: () => g.readSync(), close: () => g.unexport() };
  }

  input(pin: number, debounceMs: number): GpioInput {
    const g = new this.Gpio(pin + this.offset, 'in', 'both', { debounceTimeout: debounceMs });
    this.opened.push(g);
    return {
      pin,
      read: () => g.readSync(),
      watch: (listener) =>
        g.watch((err, value) => {
          if (!err) listener(value);
        }),
      close: () => g.unexport(),
    };
  }

  close(): void {
    for (const g of this.opened.splice(0)) {
      try {
        g.unexport();
      } catch {
        /* already released */
      }
    }
  }
}

import type { GpioDriver, GpioOutput } from './gpio/driver.js';

/**
 * The door strike/maglock relay. One vocabulary in blinkd: the relay is **on** (coil energised:
 * a fail-secure strike unlocks) or **off** (at rest). Active-low boards (most opto-isolated relay
 * HATs) are handled here, so nothing else thinks in pin levels. All writes are synchronous so
 * crash and exit handlers can call off().
 */
export class Relay {
  private readonly out: GpioOutput;

  constructor(
    driver: GpioDriver,
    pin: number,
    private readonly activeLow: boolean,
  ) {
    // Open the pin already at its off level: no glitch at start.
    this.out = driver.output(pin, activeLow ? 1 : 0);
  }

  on(): void {
    this.out.write(this.activeLow ? 0 : 1);
  }

  off(): void {
    this.out.write(this.activeLow ? 1 : 0);
  }

  isOn(): boolean {
    return this.out.read() === (this.activeLow ? 0 : 1);
  }

  close(): void {
    this.off();
    this.out.close();
  }
}

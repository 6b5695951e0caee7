import type { GpioDriver, GpioOutput } from './gpio/driver.js';

/**
 * The door strike/maglock relay. `energize()` unlocks (for a fail-secure strike) and
 * `deEnergize()` returns to the resting state. Active-low boards (most opto-isolated relay
 * HATs) are handled here, so the rest of blinkd thinks only in energized/de-energized.
 * All writes are synchronous so crash and exit handlers can call deEnergize().
 */
export class Relay {
  private readonly out: GpioOutput;

  constructor(
    driver: GpioDriver,
    pin: number,
    private readonly activeLow: boolean,
  ) {
    // Open the pin already at its de-energized level: no glitch at start.
    this.out = driver.output(pin, activeLow ? 1 : 0);
  }

  energize(): void {
    this.out.write(this.activeLow ? 0 : 1);
  }

  deEnergize(): void {
    this.out.write(this.activeLow ? 1 : 0);
  }

  isEnergized(): boolean {
    return this.out.read() === (this.activeLow ? 0 : 1);
  }

  close(): void {
    this.deEnergize();
    this.out.close();
  }
}

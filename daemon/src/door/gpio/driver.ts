/** Logic levels on a pin, as read or written on the wire (before any active-low mapping). */
export type Level = 0 | 1;

export interface GpioOutput {
  readonly pin: number;
  /** Synchronous, so it can run from exit and crash handlers. */
  write(level: Level): void;
  read(): Level;
  close(): void;
}

export interface GpioInput {
  readonly pin: number;
  read(): Level;
  /** Called on every debounced edge with the new level. */
  watch(listener: (level: Level) => void): void;
  close(): void;
}

/** Hardware access behind one interface: `onoff` on a Pi, `simulated` everywhere else and in tests. */
export interface GpioDriver {
  readonly name: 'onoff' | 'simulated';
  output(pin: number, initial: Level): GpioOutput;
  input(pin: number, debounceMs: number): GpioInput;
  close(): void;
}

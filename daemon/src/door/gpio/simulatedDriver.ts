import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import type { GpioDriver, GpioInput, GpioOutput, Level } from './driver.js';

export interface SimulatedPinState {
  driver: 'simulated';
  pid: number;
  updatedAt: string;
  outputs: Record<string, Level>;
  inputs: Record<string, Level>;
  /** Every output write, newest last (bounded), with a monotonic timestamp in ms. */
  writes: Array<{ pin: number; level: Level; t: number }>;
}

/**
 * GPIO without hardware. Pin levels live in memory; tests and the admin UI read them,
 * and tests drive inputs with setInput(). With a state file, every change is mirrored to
 * it synchronously (write + rename), so a test in another process can see the relay
 * level even after this process was killed.
 */
export class SimulatedGpioDriver implements GpioDriver {
  readonly name = 'simulated' as const;
  private readonly outputs = new Map<number, Level>();
  private readonly inputs = new Map<number, { level: Level; listeners: Array<(l: Level) => void>; debounceMs: number; timer: NodeJS.Timeout | null }>();
  private readonly writes: SimulatedPinState['writes'] = [];

  private inputsTimer: NodeJS.Timeout | null = null;
  private inputsMtime = 0;

  /**
   * @param stateFile  mirror of every pin level (JSON, written atomically), '' = none.
   * @param inputsFile another process (a test, the admin's simulate controls) drives inputs by
   *   writing `{"inputs": {"<pin>": 0|1}}` here; it is polled every 50 ms. '' = none.
   */
  constructor(
    private readonly stateFile: string = '',
    private readonly inputsFile: string = '',
    private readonly warn: (msg: string) => void = () => {},
  ) {
    // The write log continues the mirror's (a restarted daemon or door controller is the same door):
    // what happened before stays visible to whoever reads the file. Its times are another process's clock.
    if (stateFile) {
      try {
        const prev = JSON.parse(readFileSync(stateFile, 'utf8')) as Partial<SimulatedPinState>;
        if (Array.isArray(prev.writes)) this.writes.push(...prev.writes.filter((w) => Number.isInteger(w?.pin) && (w.level === 0 || w.level === 1)).slice(-50));
      } catch {
        /* no mirror yet */
      }
    }
    if (inputsFile) {
      this.inputsTimer = setInterval(() => this.pollInputsFile(), 50);
      this.inputsTimer.unref();
    }
  }

  output(pin: number, initial: Level): GpioOutput {
    this.setOutput(pin, initial);
    return {
      pin,
      write: (level) => this.setOutput(pin, level),
      read: () => this.outputs.get(pin) ?? 0,
      close: () => {},
    };
  }

  input(pin: number, debounceMs: number): GpioInput {
    if (!this.inputs.has(pin)) this.inputs.set(pin, { level: 0, listeners: [], debounceMs, timer: null });
    const entry = this.inputs.get(pin)!;
    entry.debounceMs = debounceMs;
    this.persist();
    return {
      pin,
      read: () => entry.level,
      watch: (listener) => void entry.listeners.push(listener),
      close: () => {
        if (entry.timer) clearTimeout(entry.timer);
        entry.listeners.length = 0;
      },
    };
  }

  /** Test and admin hook: set an input's level as if the wire changed. Debounced like hardware. */
  setInput(pin: number, level: Level): void {
    const entry = this.inputs.get(pin) ?? { level: 0 as Level, listeners: [], debounceMs: 0, timer: null };
    this.inputs.set(pin, entry);
    if (entry.timer) clearTimeout(entry.timer);
    const apply = () => {
      entry.timer = null;
      if (entry.level === level) return;
      entry.level = level;
      this.persist();
      for (const l of entry.listeners) l(level);
    };
    if (entry.debounceMs > 0) entry.timer = setTimeout(apply, entry.debounceMs);
    else apply();
  }

  /** Set an input to `level` for `ms`, then back to the other level (a button press). */
  pulseInput(pin: number, level: Level, ms: number): void {
    this.setInput(pin, level);
    setTimeout(() => this.setInput(pin, (1 - level) as Level), ms).unref();
  }

  outputLevel(pin: number): Level | undefined {
    return this.outputs.get(pin);
  }

  writeLog(): ReadonlyArray<{ pin: number; level: Level; t: number }> {
    return this.writes;
  }

  snapshot(): SimulatedPinState {
    return {
      driver: 'simulated',
      pid: process.pid,
      updatedAt: new Date().toISOString(),
      outputs: Object.fromEntries([...this.outputs].map(([p, l]) => [String(p), l])),
      inputs: Object.fromEntries([...this.inputs].map(([p, e]) => [String(p), e.level])),
      writes: this.writes.slice(-50),
    };
  }

  close(): void {
    if (this.inputsTimer) clearInterval(this.inputsTimer);
    this.inputsTimer = null;
    for (const e of this.inputs.values()) if (e.timer) clearTimeout(e.timer);
    this.persist();
  }

  private setOutput(pin: number, level: Level): void {
    this.outputs.set(pin, level);
    this.writes.push({ pin, level, t: performance.now() });
    if (this.writes.length > 1000) this.writes.splice(0, this.writes.length - 1000);
    this.persist();
  }

  private pollInputsFile(): void {
    let mtime: number;
    try {
      mtime = statSync(this.inputsFile).mtimeMs;
    } catch {
      return; // not written yet
    }
    if (mtime === this.inputsMtime) return;
    this.inputsMtime = mtime;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.inputsFile, 'utf8'));
    } catch (err) {
      this.warn(`simulated GPIO inputs file ${this.inputsFile} is not valid JSON (${(err as Error).message}); ignored`);
      return;
    }
    const inputs = (parsed as { inputs?: unknown } | null)?.inputs;
    if (!inputs || typeof inputs !== 'object' || Array.isArray(inputs)) {
      this.warn(`simulated GPIO inputs file ${this.inputsFile} needs {"inputs": {"<pin>": 0|1}}; ignored`);
      return;
    }
    for (const [pin, level] of Object.entries(inputs as Record<string, unknown>)) {
      const n = Number(pin);
      if (!Number.isInteger(n) || n < 0 || (level !== 0 && level !== 1)) {
        this.warn(`simulated GPIO inputs file: pin "${pin}" level ${JSON.stringify(level)} is not a pin number with 0 or 1; ignored`);
        continue;
      }
      this.setInput(n, level);
    }
  }

  private persist(): void {
    if (!this.stateFile) return;
    const tmp = `${this.stateFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.snapshot()));
    renameSync(tmp, this.stateFile);
  }
}

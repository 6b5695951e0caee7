import type { Config, WeeklyWindow } from '../config/schema.js';
import type { AlarmType, DoorMode, DoorState, ExitRequest } from '../events.js';
import { inSchedule } from '../access/policy.js';
import { localTime } from '../time/localTime.js';
import type { GpioDriver, GpioInput, Level } from './gpio/driver.js';
import { Relay } from './relay.js';

/** A door opening is "authorized" if it starts this long after an unlock ended (people are slow to push). */
const LATE_OPEN_GRACE_MS = 1500;
/** How often a held-unlocked door checks its allowed windows. */
const HOLD_CHECK_MS = 30_000;

/** Why the door may not be held unlocked at `at` (outside door.heldUnlockedWindows), or null. */
export function heldUnlockedRefusal(config: Config['door'], timeZone: string, at: Date = new Date()): string | null {
  const windows = config.heldUnlockedWindows;
  if (windows.length === 0) return null;
  return inSchedule(windows as WeeklyWindow[], localTime(at, timeZone)) ? null : 'outside door.heldUnlockedWindows: the door may not be held unlocked now';
}

export interface PulseResult {
  ok: boolean;
  error?: string;
  /** The pulse length actually used (capped at door.maxUnlockMs). */
  ms?: number;
}

/** What the state machine tells its owner. */
export interface DoorHooks {
  changed(state: DoorState): void;
  alarm(type: Extract<AlarmType, 'held_open' | 'forced_open'>, active: boolean, reason: string, details: Record<string, unknown> | null): void;
  exitRequest(req: ExitRequest): void;
  log(level: 'info' | 'warn', msg: string, details?: Record<string, unknown>): void;
}

export interface DoorMachineOptions {
  /** The unit's time zone, for the held-unlocked windows. */
  timeZone: string;
}

/**
 * The door's logic over a GPIO driver: the relay output, the door contact and the request-to-exit
 * button, and the mode (normal | lockdown | held_unlocked). It runs inside the door controller
 * process (door/controllerMain.ts), so no stall of the daemon's main thread — a busy database, a
 * flood of messages — lengthens an unlock or delays the exit button.
 *
 *  - grant(): one relay pulse (door.pulseMs, capped at door.maxUnlockMs); refused in lockdown.
 *  - exit button: a pulse in every mode (egress is never blocked by software), reported.
 *  - contact: opening while the relay is off and no unlock just ended → forced_open;
 *    open longer than door.heldOpenAlarmMs → held_open (not in held_unlocked mode); both clear
 *    when the door closes.
 *  - held_unlocked: bounded by door.heldUnlockedMaxMinutes and, when set, door.heldUnlockedWindows;
 *    it ends by itself (back to normal, relay off) when either runs out.
 */
export class DoorStateMachine {
  private relay: Relay | null = null;
  private contact: GpioInput | null = null;
  private exitButton: GpioInput | null = null;
  private pulseTimer: NodeJS.Timeout | null = null;
  private heldOpenTimer: NodeJS.Timeout | null = null;
  private holdTimer: NodeJS.Timeout | null = null;
  private holdCheck: NodeJS.Timeout | null = null;
  private lastUnlockEndedAt = -Infinity;
  private door: DoorState = { relay: 'off', contact: null, mode: 'normal', unlockReason: null, changedAt: new Date().toISOString() };
  pulses = 0;

  constructor(
    private readonly config: Config['door'],
    private readonly driver: GpioDriver,
    private readonly hooks: DoorHooks,
    private readonly options: DoorMachineOptions,
  ) {}

  get driverName(): string {
    return this.driver.name;
  }

  start(): void {
    this.relay = new Relay(this.driver, this.config.relayPin, this.config.relayActiveLow);
    this.relay.off();
    if (this.config.contactPin !== null) {
      this.contact = this.driver.input(this.config.contactPin, this.config.debounceMs);
      this.door.contact = this.contact.read() === this.config.contactOpenLevel ? 'open' : 'closed';
      this.contact.watch((level) => this.onContact(level));
    }
    if (this.config.exitButtonPin !== null) {
      this.exitButton = this.driver.input(this.config.exitButtonPin, this.config.debounceMs);
      this.exitButton.watch((level) => {
        if (level === this.config.exitButtonActiveLevel) this.onExitButton();
      });
    }
  }

  /** Unlock for an access grant: one pulse, unless in lockdown. Held-unlocked: already open, nothing changes. */
  grant(reason: string, ms: number = this.config.pulseMs): PulseResult {
    if (this.door.mode === 'lockdown') return { ok: false, error: 'the unit is in lockdown: unlock refused' };
    if (this.door.mode === 'held_unlocked') return { ok: true, ms: 0 };
    return this.pulse(reason, ms);
  }

  /** One relay pulse of `ms`, capped at the maximum unlock time. Mode is not checked. */
  pulse(reason: string, ms: number = this.config.pulseMs): PulseResult {
    if (!this.relay) throw new Error('door is not started');
    if (!Number.isFinite(ms) || ms <= 0) return { ok: false, error: `pulse length must be a positive number of ms (got ${ms})` };
    const length = Math.min(ms, this.config.maxUnlockMs);
    if (this.pulseTimer) clearTimeout(this.pulseTimer);
    // The pulse is timed from the moment the line is driven: whatever the driver and the state
    // report do after it (a GPIO write on a busy bus, the simulated driver's mirror file, the IPC
    // message) comes out of the pulse, not on top of it.
    const energisedAt = performance.now();
    this.relay.on();
    this.pulses++;
    this.setState({ relay: 'on', unlockReason: reason });
    // Node's timers count whole milliseconds on the event loop's clock, which lags the real one
    // (it is read when a loop turn begins): a timer can fire up to a couple of ms early (a 30 ms
    // pulse measured 28.4 ms). So the off-timer re-arms until the pulse has really lasted `length`.
    const endsAt = energisedAt + length;
    const end = (): void => {
      const left = endsAt - performance.now();
      if (left > 0) {
        this.pulseTimer = setTimeout(end, left);
        return;
      }
      this.pulseTimer = null;
      if (this.door.mode === 'held_unlocked') return;
      this.relay?.off();
      this.lastUnlockEndedAt = performance.now();
      this.setState({ relay: 'off', unlockReason: null });
    };
    this.pulseTimer = setTimeout(end, Math.max(0, endsAt - performance.now()));
    return { ok: true, ms: length };
  }

  holdRefusal(at: Date = new Date()): string | null {
    return heldUnlockedRefusal(this.config, this.options.timeZone, at);
  }

  /**
   * Lockdown: no grants, relay off. Held-unlocked: relay on until the mode is left, the maximum
   * runs out or its window ends. Normal: relay follows pulses. Returns a refusal, or null.
   */
  setMode(mode: DoorMode, why = 'command'): string | null {
    if (!this.relay) throw new Error('door is not started');
    if (mode === 'held_unlocked') {
      const refusal = this.holdRefusal();
      if (refusal) return refusal;
    }
    if (this.pulseTimer) clearTimeout(this.pulseTimer);
    this.pulseTimer = null;
    this.clearHold();
    const wasOn = this.door.relay === 'on';
    if (mode === 'held_unlocked') this.relay.on();
    else this.relay.off();
    if (wasOn && mode !== 'held_unlocked') this.lastUnlockEndedAt = performance.now();
    if (mode === 'held_unlocked') {
      this.hooks.alarm('held_open', false, 'the door is held unlocked', null);
      if (this.heldOpenTimer) clearTimeout(this.heldOpenTimer);
      this.heldOpenTimer = null;
      this.armHold();
    } else if (this.door.contact === 'open' && !this.heldOpenTimer) this.armHeldOpen();
    this.hooks.log('info', 'door mode', { mode, why });
    this.setState({ mode, relay: mode === 'held_unlocked' ? 'on' : 'off', unlockReason: mode === 'held_unlocked' ? 'held_unlocked' : null });
    return null;
  }

  /** Synchronous relay off, for shutdown and crash paths. Never throws. */
  emergencyOff(): boolean {
    try {
      if (this.pulseTimer) clearTimeout(this.pulseTimer);
      this.pulseTimer = null;
      this.relay?.off();
      this.door = { ...this.door, relay: 'off', unlockReason: null, changedAt: new Date().toISOString() };
      return true;
    } catch {
      return false;
    }
  }

  state(): DoorState {
    return { ...this.door };
  }

  stop(): void {
    this.emergencyOff();
    this.clearHold();
    if (this.heldOpenTimer) clearTimeout(this.heldOpenTimer);
    this.heldOpenTimer = null;
    this.contact?.close();
    this.exitButton?.close();
    this.relay?.close();
    this.driver.close();
    this.contact = null;
    this.exitButton = null;
    this.relay = null;
  }

  private armHold(): void {
    const maxMs = this.config.heldUnlockedMaxMinutes * 60_000;
    this.holdTimer = setTimeout(() => this.endHold(`door.heldUnlockedMaxMinutes (${this.config.heldUnlockedMaxMinutes} min) reached`), maxMs);
    if (this.config.heldUnlockedWindows.length > 0) {
      this.holdCheck = setInterval(() => {
        const refusal = this.holdRefusal();
        if (refusal) this.endHold('its door.heldUnlockedWindows window ended');
      }, HOLD_CHECK_MS);
    }
  }

  private clearHold(): void {
    if (this.holdTimer) clearTimeout(this.holdTimer);
    if (this.holdCheck) clearInterval(this.holdCheck);
    this.holdTimer = null;
    this.holdCheck = null;
  }

  private endHold(reason: string): void {
    if (this.door.mode !== 'held_unlocked') return;
    this.hooks.log('warn', 'held unlocked ended by itself: back to normal, relay off', { reason });
    this.setMode('normal', reason);
  }

  private onContact(level: Level): void {
    const contact = level === this.config.contactOpenLevel ? 'open' : 'closed';
    if (contact === this.door.contact) return;
    if (contact === 'open') {
      const authorized = this.door.relay === 'on' || this.door.mode === 'held_unlocked' || performance.now() - this.lastUnlockEndedAt <= LATE_OPEN_GRACE_MS;
      if (!authorized) this.hooks.alarm('forced_open', true, 'the door opened while locked', { mode: this.door.mode });
      if (this.door.mode !== 'held_unlocked') this.armHeldOpen();
    } else {
      if (this.heldOpenTimer) clearTimeout(this.heldOpenTimer);
      this.heldOpenTimer = null;
      this.hooks.alarm('held_open', false, 'the door closed', null);
      this.hooks.alarm('forced_open', false, 'the door closed', null);
    }
    this.setState({ contact });
  }

  private armHeldOpen(): void {
    if (this.heldOpenTimer) clearTimeout(this.heldOpenTimer);
    this.heldOpenTimer = setTimeout(() => {
      this.heldOpenTimer = null;
      if (this.door.contact === 'open' && this.door.mode !== 'held_unlocked') {
        this.hooks.alarm('held_open', true, `the door has been open for more than ${this.config.heldOpenAlarmMs} ms`, { afterMs: this.config.heldOpenAlarmMs });
      }
    }, this.config.heldOpenAlarmMs);
  }

  private onExitButton(): void {
    const mode = this.door.mode;
    let opened = true;
    if (mode !== 'held_unlocked') opened = this.pulse('exit_button').ok;
    this.hooks.log('info', 'exit request', { mode, opened });
    this.hooks.exitRequest({ ts: new Date().toISOString(), opened, mode });
  }

  private setState(patch: Partial<DoorState>): void {
    this.door = { ...this.door, ...patch, changedAt: new Date().toISOString() };
    this.hooks.changed(this.state());
  }
}

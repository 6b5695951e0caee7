import type { AlarmRegistry } from '../alarms/alarmRegistry.js';
import type { Config } from '../config/schema.js';
import type { DoorState, EventBus, ExitRequest } from '../events.js';
import type { Logger } from '../logging.js';
import { BaseService } from '../service.js';
import type { GpioDriver, GpioInput, Level } from './gpio/driver.js';
import { selectGpioDriver } from './gpio/selectDriver.js';
import { SimulatedGpioDriver, type SimulatedPinState } from './gpio/simulatedDriver.js';
import { Relay } from './relay.js';

/** A door opening is "authorized" if it starts this long after an unlock ended (people are slow to push). */
const LATE_OPEN_GRACE_MS = 1500;

export interface PulseResult {
  ok: boolean;
  error?: string;
  /** The pulse length actually used (capped at door.maxUnlockMs). */
  ms?: number;
}

/**
 * The door state machine. Owns the relay output, the door contact and the request-to-exit
 * button, and the mode (normal | lockdown | held_unlocked).
 *
 *  - grant(): one relay pulse (door.pulseMs, capped at door.maxUnlockMs); refused in lockdown.
 *  - exit button: a pulse in every mode (egress is never blocked by software), announced on the
 *    bus as 'door.exit_request' (the access service records it as an access event).
 *  - contact: opening while the relay is off and no unlock just ended → forced_open alarm;
 *    open longer than door.heldOpenAlarmMs → held_open alarm (not in held_unlocked mode); both
 *    clear when the door closes. Alarms live in the AlarmRegistry.
 *
 * The relay is off at start, at stop and from the crash handler (emergencyOff). It is the first
 * service started and the last stopped.
 */
export class DoorService extends BaseService {
  private driver: GpioDriver | null = null;
  private relay: Relay | null = null;
  private contact: GpioInput | null = null;
  private exitButton: GpioInput | null = null;
  private pulseTimer: NodeJS.Timeout | null = null;
  private heldOpenTimer: NodeJS.Timeout | null = null;
  private lastUnlockEndedAt = -Infinity;
  private door: DoorState = { relay: 'off', contact: null, mode: 'normal', unlockReason: null, changedAt: new Date().toISOString() };
  private pulses = 0;

  constructor(
    private readonly config: Config['door'],
    bus: EventBus,
    private readonly alarms: AlarmRegistry,
    private readonly log: Logger,
    private readonly driverFactory: (c: Config['door']) => GpioDriver = (c) => selectGpioDriver(c, (m) => log.warn(m)),
  ) {
    super('door', bus);
  }

  protected onStart(): void {
    this.driver = this.driverFactory(this.config);
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
    this.log.info(
      {
        driver: this.driver.name,
        relayPin: this.config.relayPin,
        activeLow: this.config.relayActiveLow,
        contactPin: this.config.contactPin,
        exitButtonPin: this.config.exitButtonPin,
      },
      'door relay ready (off)',
    );
  }

  /**
   * Unlock for an access grant: one pulse, unless the door is in lockdown. In held-unlocked
   * mode the door is already open and nothing changes.
   */
  grant(reason: string, ms: number = this.config.pulseMs): PulseResult {
    if (this.door.mode === 'lockdown') return { ok: false, error: 'the unit is in lockdown: unlock refused' };
    if (this.door.mode === 'held_unlocked') return { ok: true, ms: 0 };
    return this.pulse(reason, ms);
  }

  /** One relay pulse of `ms` (default: the configured pulse), capped at the maximum unlock time. Mode is not checked. */
  pulse(reason: string, ms: number = this.config.pulseMs): PulseResult {
    if (!this.relay) throw new Error('door service is not started');
    if (!Number.isFinite(ms) || ms <= 0) return { ok: false, error: `pulse length must be a positive number of ms (got ${ms})` };
    const length = Math.min(ms, this.config.maxUnlockMs);
    if (this.pulseTimer) clearTimeout(this.pulseTimer);
    this.relay.on();
    this.pulses++;
    this.setState({ relay: 'on', unlockReason: reason });
    this.pulseTimer = setTimeout(() => {
      this.pulseTimer = null;
      if (this.door.mode === 'held_unlocked') return;
      this.relay?.off();
      this.lastUnlockEndedAt = performance.now();
      this.setState({ relay: 'off', unlockReason: null });
    }, length);
    return { ok: true, ms: length };
  }

  /**
   * Lockdown: no grants, relay off. Held-unlocked: relay on until the mode is left.
   * Normal: relay follows pulses.
   */
  setMode(mode: DoorState['mode']): void {
    if (!this.relay) throw new Error('door service is not started');
    if (this.pulseTimer) clearTimeout(this.pulseTimer);
    this.pulseTimer = null;
    const wasOn = this.door.relay === 'on';
    if (mode === 'held_unlocked') this.relay.on();
    else this.relay.off();
    if (wasOn && mode !== 'held_unlocked') this.lastUnlockEndedAt = performance.now();
    if (mode === 'held_unlocked') {
      this.alarms.clear('held_open', 'the door is held unlocked');
      if (this.heldOpenTimer) clearTimeout(this.heldOpenTimer);
      this.heldOpenTimer = null;
    } else if (this.door.contact === 'open' && !this.heldOpenTimer) this.armHeldOpen();
    this.log.info({ mode }, 'door mode');
    this.setState({ mode, relay: mode === 'held_unlocked' ? 'on' : 'off', unlockReason: mode === 'held_unlocked' ? 'held_unlocked' : null });
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

  /** Pin levels of the simulated driver (admin UI), or null on real GPIO. */
  simulatedPins(): SimulatedPinState | null {
    return this.driver instanceof SimulatedGpioDriver ? this.driver.snapshot() : null;
  }

  /**
   * Simulated driver only: drive the contact or exit button as if the wire changed (admin
   * "simulate" controls). `press` = exit button active then released.
   */
  simulate(input: 'contact' | 'exit_button', value: 'open' | 'closed' | 'press'): { ok: boolean; error?: string } {
    if (!(this.driver instanceof SimulatedGpioDriver)) return { ok: false, error: 'simulation needs the simulated GPIO driver' };
    if (input === 'contact') {
      if (this.config.contactPin === null) return { ok: false, error: 'no door contact configured (door.contactPin)' };
      if (value !== 'open' && value !== 'closed') return { ok: false, error: 'contact takes open or closed' };
      const open = this.config.contactOpenLevel;
      this.driver.setInput(this.config.contactPin, (value === 'open' ? open : 1 - open) as Level);
      return { ok: true };
    }
    if (this.config.exitButtonPin === null) return { ok: false, error: 'no exit button configured (door.exitButtonPin)' };
    if (value !== 'press') return { ok: false, error: 'exit_button takes press' };
    const active = this.config.exitButtonActiveLevel;
    this.driver.pulseInput(this.config.exitButtonPin, active, Math.max(50, this.config.debounceMs * 3));
    return { ok: true };
  }

  protected override onStop(): void {
    this.emergencyOff();
    if (this.heldOpenTimer) clearTimeout(this.heldOpenTimer);
    this.heldOpenTimer = null;
    this.contact?.close();
    this.exitButton?.close();
    this.relay?.close();
    this.driver?.close();
    this.contact = null;
    this.exitButton = null;
    this.relay = null;
    this.driver = null;
  }

  health(): Record<string, unknown> {
    return { driver: this.driver?.name ?? null, ...this.door, pulses: this.pulses };
  }

  private onContact(level: Level): void {
    const contact = level === this.config.contactOpenLevel ? 'open' : 'closed';
    if (contact === this.door.contact) return;
    if (contact === 'open') {
      const authorized = this.door.relay === 'on' || this.door.mode === 'held_unlocked' || performance.now() - this.lastUnlockEndedAt <= LATE_OPEN_GRACE_MS;
      if (!authorized) this.alarms.raise('forced_open', 'the door opened while locked', { mode: this.door.mode });
      if (this.door.mode !== 'held_unlocked') this.armHeldOpen();
    } else {
      if (this.heldOpenTimer) clearTimeout(this.heldOpenTimer);
      this.heldOpenTimer = null;
      this.alarms.clear('held_open', 'the door closed');
      this.alarms.clear('forced_open', 'the door closed');
    }
    this.setState({ contact });
  }

  private armHeldOpen(): void {
    if (this.heldOpenTimer) clearTimeout(this.heldOpenTimer);
    this.heldOpenTimer = setTimeout(() => {
      this.heldOpenTimer = null;
      if (this.door.contact === 'open' && this.door.mode !== 'held_unlocked') {
        this.alarms.raise('held_open', `the door has been open for more than ${this.config.heldOpenAlarmMs} ms`, { afterMs: this.config.heldOpenAlarmMs });
      }
    }, this.config.heldOpenAlarmMs);
  }

  private onExitButton(): void {
    const mode = this.door.mode;
    let opened = true;
    if (mode !== 'held_unlocked') opened = this.pulse('exit_button').ok;
    this.log.info({ mode, opened }, 'exit request');
    const req: ExitRequest = { ts: new Date().toISOString(), opened, mode };
    this.bus.emit('door.exit_request', req);
  }

  private setState(patch: Partial<DoorState>): void {
    this.door = { ...this.door, ...patch, changedAt: new Date().toISOString() };
    this.bus.emit('door.changed', this.state());
  }
}

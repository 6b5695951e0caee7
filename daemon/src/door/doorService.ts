import type { Config } from '../config/schema.js';
import type { DoorState, EventBus, ServiceStatus } from '../events.js';
import type { Logger } from '../logging.js';
import type { Service } from '../service.js';
import type { GpioDriver } from './gpio/driver.js';
import { selectGpioDriver } from './gpio/selectDriver.js';
import { Relay } from './relay.js';

/**
 * Owns the relay. It is the first thing started and the last stopped, and the relay is
 * de-energized at start, at stop and from the crash handler (emergencyOff).
 */
export class DoorService implements Service {
  readonly name = 'door';
  private state_: ServiceStatus = 'stopped';
  private driver: GpioDriver | null = null;
  private relay: Relay | null = null;
  private pulseTimer: NodeJS.Timeout | null = null;
  private door: DoorState = { relay: 'off', contact: null, mode: 'normal', unlockReason: null, changedAt: new Date().toISOString() };

  constructor(
    private readonly config: Config['door'],
    private readonly bus: EventBus,
    private readonly log: Logger,
    private readonly driverFactory: (c: Config['door']) => GpioDriver = (c) => selectGpioDriver(c, (m) => log.warn(m)),
  ) {}

  async start(): Promise<void> {
    this.state_ = 'starting';
    this.driver = this.driverFactory(this.config);
    this.relay = new Relay(this.driver, this.config.relayPin, this.config.relayActiveLow);
    this.relay.deEnergize();
    this.log.info({ driver: this.driver.name, relayPin: this.config.relayPin, activeLow: this.config.relayActiveLow }, 'door relay ready (de-energized)');
    this.state_ = 'running';
  }

  /** One unlock pulse of `ms` (default: the configured pulse), capped at the maximum unlock time. */
  pulse(reason: string, ms: number = this.config.pulseMs): void {
    if (!this.relay) throw new Error('door service is not started');
    const length = Math.min(ms, this.config.maxUnlockMs);
    if (this.pulseTimer) clearTimeout(this.pulseTimer);
    this.relay.energize();
    this.setState({ relay: 'on', unlockReason: reason });
    this.pulseTimer = setTimeout(() => {
      this.pulseTimer = null;
      this.relay?.deEnergize();
      this.setState({ relay: 'off', unlockReason: null });
    }, length);
  }

  /**
   * Lockdown: no grants, relay off. Held-unlocked: relay on until the mode is left
   * (events, emergencies). Normal: relay follows pulses.
   */
  setMode(mode: DoorState['mode']): void {
    if (!this.relay) throw new Error('door service is not started');
    if (this.pulseTimer) clearTimeout(this.pulseTimer);
    this.pulseTimer = null;
    if (mode === 'held_unlocked') this.relay.energize();
    else this.relay.deEnergize();
    this.setState({ mode, relay: mode === 'held_unlocked' ? 'on' : 'off', unlockReason: mode === 'held_unlocked' ? 'held_unlocked' : null });
  }

  /** Synchronous relay off, for shutdown and crash paths. Never throws. */
  emergencyOff(): boolean {
    try {
      if (this.pulseTimer) clearTimeout(this.pulseTimer);
      this.pulseTimer = null;
      this.relay?.deEnergize();
      this.door = { ...this.door, relay: 'off', unlockReason: null, changedAt: new Date().toISOString() };
      return true;
    } catch {
      return false;
    }
  }

  state(): DoorState {
    return { ...this.door };
  }

  driverInstance(): GpioDriver | null {
    return this.driver;
  }

  async stop(): Promise<void> {
    this.state_ = 'stopping';
    this.emergencyOff();
    this.relay?.close();
    this.driver?.close();
    this.relay = null;
    this.driver = null;
    this.state_ = 'stopped';
  }

  status(): ServiceStatus {
    return this.state_;
  }

  health(): Record<string, unknown> {
    return { driver: this.driver?.name ?? null, ...this.door };
  }

  private setState(patch: Partial<DoorState>): void {
    this.door = { ...this.door, ...patch, changedAt: new Date().toISOString() };
    this.bus.emit('door.changed', this.state());
  }
}

import type { EventBus, BusEventName, BusEvents, ServiceStatus } from './events.js';

/**
 * A long-running part of blinkd. The constructor only stores collaborators; all I/O
 * happens in start(). stop() must be safe to call in any state and must not throw.
 */
export interface Service {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  status(): ServiceStatus;
  /** Service-specific health details for /health and MQTT. */
  health?(): Record<string, unknown>;
}

/**
 * The common shape of a service: it owns its bus listeners and timers, which are all removed
 * when it stops (as zigbee2mqtt's extensions do), and its status. Subclasses implement onStart()
 * and, when they hold more than listeners and timers, onStop().
 */
export abstract class BaseService implements Service {
  /** Where this service is in its life (what status() reports unless a subclass knows better). */
  protected lifecycle: ServiceStatus = 'stopped';
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly name: string,
    protected readonly bus: EventBus,
  ) {}

  async start(): Promise<void> {
    this.lifecycle = 'starting';
    await this.onStart();
    if (this.lifecycle === 'starting') this.lifecycle = 'running';
  }

  async stop(): Promise<void> {
    if (this.lifecycle === 'stopped' || this.lifecycle === 'disabled') return;
    this.lifecycle = 'stopping';
    this.bus.removeListeners(this);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    try {
      await this.onStop();
    } finally {
      this.lifecycle = 'stopped';
    }
  }

  status(): ServiceStatus {
    return this.lifecycle;
  }

  protected abstract onStart(): Promise<void> | void;

  protected onStop(): Promise<void> | void {}

  /** Subscribes on the bus for as long as this service runs. */
  protected listen<K extends BusEventName>(event: K, listener: (payload: BusEvents[K]) => void | Promise<void>): void {
    this.bus.on(this, event, listener);
  }

  /** Runs fn every ms until the service stops (the timer does not keep the process alive). */
  protected every(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.add(t);
    return t;
  }

  /** Runs fn once after ms unless the service stops first. */
  protected later(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
    return t;
  }

  protected cancel(t: NodeJS.Timeout | null): void {
    if (!t) return;
    clearTimeout(t);
    this.timers.delete(t);
  }
}

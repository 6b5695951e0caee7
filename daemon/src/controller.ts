import type { Unit } from './compositionRoot.js';
import type { ServiceStatus } from './events.js';
import type { Logger } from './logging.js';
import { withTimeout } from './util/timeout.js';

const STOP_TIMEOUT_MS = 2500;

/**
 * Runs a unit built by the composition root: starts its services in order and stops them in
 * reverse. The door starts first and stops last, and on any stop the relay is turned off before
 * anything else happens; the database closes after every service stopped.
 */
export class Controller {
  private stopping: Promise<void> | null = null;
  private started = 0;

  constructor(
    readonly unit: Unit,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const { store, bus } = this.unit;
    this.log.info({ db: store.file, schema: store.status().schemaVersion }, 'store open');
    for (const service of this.unit.services) {
      bus.emit('service.status', { name: service.name, status: 'starting' });
      this.started++;
      await service.start();
      bus.emit('service.status', { name: service.name, status: service.status() });
      this.log.debug({ service: service.name, status: service.status() }, 'service started');
    }
  }

  /** Relay off first, then every started service in reverse order (each bounded in time), then the database. */
  stop(reason = 'stop'): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      const relayOff = this.emergencyOff();
      this.log.info({ reason, relay: relayOff ? 'off' : 'unknown' }, 'stopping: relay off');
      for (const service of this.unit.services.slice(0, this.started).reverse()) {
        try {
          await withTimeout(service.stop(), STOP_TIMEOUT_MS, `stopping ${service.name}`);
        } catch (err) {
          this.log.error({ err, service: service.name }, 'service did not stop cleanly');
        }
      }
      this.unit.store.close();
      this.log.info({ relay: this.unit.door.state().relay }, 'stopped: relay off, database closed');
    })();
    return this.stopping;
  }

  /** Synchronous: turn the relay off. Safe from crash and exit handlers. */
  emergencyOff(): boolean {
    return this.unit.door.emergencyOff();
  }

  serviceStates(): Record<string, ServiceStatus> {
    return Object.fromEntries(this.unit.services.map((s) => [s.name, s.status()]));
  }
}

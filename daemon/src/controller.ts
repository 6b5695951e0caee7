import type { Config } from './config/schema.js';
import { EventBus, type ServiceStatus } from './events.js';
import type { Logger } from './logging.js';
import type { Service } from './service.js';
import { Store } from './store/store.js';
import { DoorService } from './door/doorService.js';
import { registerDoorCommands } from './door/doorCommands.js';
import { HttpServer } from './admin/httpServer.js';
import { CommandDispatcher } from './commands.js';
import { systemHealth } from './system/health.js';
import { packageVersion } from './system/paths.js';
import { withTimeout } from './util/timeout.js';

/** What every service may be handed: built once by the controller, never reached through globals. */
export interface ServiceContext {
  config: Config;
  log: Logger;
  bus: EventBus;
  store: Store;
  door: DoorService;
  http: HttpServer;
  commands: CommandDispatcher;
  /** The unit's health report (the body of GET /health), built on demand. */
  health: () => Record<string, unknown>;
}

/** Builds the services that follow the door and the store; each later feature adds its factory here. */
export type ServiceFactory = (ctx: ServiceContext) => Service | null;

const STOP_TIMEOUT_MS = 2500;

/**
 * Wires blinkd together: opens the store, builds every service from the config, starts
 * them in order and stops them in reverse. The door starts first and stops last, and on
 * any stop the relay is turned off before anything else happens.
 */
export class Controller {
  readonly bus = new EventBus();
  private readonly services: Service[] = [];
  private ctx: ServiceContext | null = null;
  private stopping: Promise<void> | null = null;
  private readonly startedAt = Date.now();

  constructor(
    readonly config: Config,
    private readonly log: Logger,
    private readonly factories: ServiceFactory[] = [],
  ) {
    this.bus.onListenerError((err, event) => this.log.error({ err, event }, 'event listener failed'));
  }

  context(): ServiceContext {
    if (!this.ctx) throw new Error('controller not started');
    return this.ctx;
  }

  async start(): Promise<void> {
    const store = Store.fromConfig(this.config);
    this.log.info({ db: store.file, schema: store.status().schemaVersion }, 'store open');
    const door = new DoorService(this.config.door, this.bus, this.log.child({ component: 'door' }));
    const http = new HttpServer(this.config.admin, this.log, () => this.healthReport());
    const commands = new CommandDispatcher(store.audit, this.bus);
    this.ctx = { config: this.config, log: this.log, bus: this.bus, store, door, http, commands, health: () => this.healthReport().body };
    registerDoorCommands(commands, door, this.config);
    this.services.push(door);
    for (const factory of this.factories) {
      const service = factory(this.ctx);
      if (service) this.services.push(service);
    }
    // HTTP last: /health answers only once everything it reports on exists.
    this.services.push(http);
    for (const service of this.services) {
      this.bus.emit('service.status', { name: service.name, status: 'starting' });
      await service.start();
      this.bus.emit('service.status', { name: service.name, status: service.status() });
      this.log.debug({ service: service.name, status: service.status() }, 'service started');
    }
  }

  /** Relay off first, then every service in reverse order (each bounded in time), then the database. */
  stop(reason = 'stop'): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      const relayOff = this.emergencyOff();
      this.log.info({ reason, relay: relayOff ? 'off' : 'unknown' }, 'stopping: relay off');
      for (const service of [...this.services].reverse()) {
        try {
          await withTimeout(service.stop(), STOP_TIMEOUT_MS, `stopping ${service.name}`);
        } catch (err) {
          this.log.error({ err, service: service.name }, 'service did not stop cleanly');
        }
      }
      this.ctx?.store.close();
      this.log.info({ relay: this.ctx?.door.state().relay ?? 'off' }, 'stopped: relay off, database closed');
    })();
    return this.stopping;
  }

  /** Synchronous: de-energize the relay. Safe from crash and exit handlers. */
  emergencyOff(): boolean {
    return this.ctx ? this.ctx.door.emergencyOff() : true;
  }

  serviceStates(): Record<string, ServiceStatus> {
    return Object.fromEntries(this.services.map((s) => [s.name, s.status()]));
  }

  /** The relay API's /health shape ({status: "healthy", engine, …}) plus each service's state. */
  healthReport(): { httpStatus: number; body: Record<string, unknown> } {
    const states = this.serviceStates();
    const values = Object.values(states);
    const status = values.some((s) => s === 'failed') ? 'unhealthy' : values.some((s) => s === 'degraded' || s === 'starting') ? 'degraded' : 'healthy';
    const details: Record<string, unknown> = {};
    for (const s of this.services) {
      try {
        details[s.name] = { status: s.status(), ...(s.health?.() ?? {}) };
      } catch (err) {
        details[s.name] = { status: s.status(), error: (err as Error).message };
      }
    }
    const vision = details.vision as { engine?: unknown } | undefined;
    return {
      httpStatus: status === 'unhealthy' ? 503 : 200,
      body: {
        status,
        engine: vision?.engine ?? {
          runtime: 'onnxruntime-node',
          recognitionModel: this.config.vision.recognitionModel,
          precision: this.config.vision.precision,
          loaded: false,
        },
        version: packageVersion(),
        unit: { id: this.config.unit.id, name: this.config.unit.name },
        uptimeSec: Math.round((Date.now() - this.startedAt) / 1000),
        timestamp: new Date().toISOString(),
        services: details,
        system: systemHealth(),
      },
    };
  }
}

import { hostname } from 'node:os';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Config } from '../config/schema.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logging.js';
import { BaseService } from '../service.js';
import { HostCheck } from './hostCheck.js';

export type RoutePlugin = (app: FastifyInstance) => Promise<void> | void;

/**
 * The admin HTTP server (Fastify). Features add routes through plugins registered
 * before start(); /health is always there. Bound to localhost unless configured otherwise.
 */
export class HttpServer extends BaseService {
  private readonly plugins: RoutePlugin[] = [];
  private app: FastifyInstance | null = null;
  private address_: string | null = null;

  constructor(
    private readonly config: Config['admin'],
    bus: EventBus,
    private readonly log: Logger,
    private readonly healthReport: () => { httpStatus: number; body: Record<string, unknown> },
    private appOptions: () => Promise<Record<string, unknown>> | Record<string, unknown> = () => ({}),
  ) {
    super('http', bus);
  }

  use(plugin: RoutePlugin): void {
    this.plugins.push(plugin);
  }

  /** Extra Fastify options resolved at start (the admin sets `https` here when TLS is on). */
  useOptions(options: () => Promise<Record<string, unknown>> | Record<string, unknown>): void {
    this.appOptions = options;
  }

  protected async onStart(): Promise<void> {
    if (!this.config.enabled) {
      this.lifecycle = 'disabled';
      return;
    }
    const app = Fastify({
      // Request lines only at warn and above: the journal on an SD card is not an access log.
      loggerInstance: this.log.child({ component: 'http' }, { level: 'warn' }) as unknown as FastifyBaseLogger,
      bodyLimit: Math.ceil(this.config.maxUploadMb * 1024 * 1024) + 64 * 1024,
      trustProxy: false,
      ...(await this.appOptions()),
    }) as unknown as FastifyInstance;
    this.app = app;
    const hosts = new HostCheck(this.config.allowedHosts, hostname());
    // First hook of all: a rebinding page gets nothing, not even /health or the login page.
    app.addHook('onRequest', async (req, reply) => {
      if (hosts.allows(req.headers.host)) return;
      return reply.code(421).send({
        error: 'unknown_host',
        message: `this unit does not answer to the name "${HostCheck.hostnameOf(req.headers.host ?? '').slice(0, 100)}": use its address, or add the name to admin.allowedHosts`,
      });
    });
    app.get('/health', async (_req, reply) => {
      const { httpStatus, body } = this.healthReport();
      return reply.code(httpStatus).send(body);
    });
    for (const plugin of this.plugins) await app.register(async (scope) => plugin(scope));
    this.address_ = await app.listen({ host: this.config.host, port: this.config.port });
    this.log.info({ url: this.address_ }, 'admin listening');
  }

  address(): string | null {
    return this.address_;
  }

  instance(): FastifyInstance | null {
    return this.app;
  }

  protected override async onStop(): Promise<void> {
    if (!this.app) return;
    await this.app.close();
    this.app = null;
  }
}

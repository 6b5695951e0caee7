import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Config } from '../config/schema.js';
import type { ServiceStatus } from '../events.js';
import type { Logger } from '../logging.js';
import type { Service } from '../service.js';

export type RoutePlugin = (app: FastifyInstance) => Promise<void> | void;

/**
 * The admin HTTP server (Fastify). Features add routes through plugins registered
 * before start(); /health is always there. Bound to localhost unless configured otherwise.
 */
export class HttpServer implements Service {
  readonly name = 'http';
  private state_: ServiceStatus = 'stopped';
  private readonly plugins: RoutePlugin[] = [];
  private app: FastifyInstance | null = null;
  private address_: string | null = null;

  constructor(
    private readonly config: Config['admin'],
    private readonly log: Logger,
    private readonly healthReport: () => { httpStatus: number; body: Record<string, unknown> },
    private appOptions: () => Promise<Record<string, unknown>> | Record<string, unknown> = () => ({}),
  ) {}

  use(plugin: RoutePlugin): void {
    this.plugins.push(plugin);
  }

  /** Extra Fastify options resolved at start (the admin sets `https` here when TLS is on). */
  useOptions(options: () => Promise<Record<string, unknown>> | Record<string, unknown>): void {
    this.appOptions = options;
  }

  /** The controller's health report, as /health serves it. */
  report(): { httpStatus: number; body: Record<string, unknown> } {
    return this.healthReport();
  }

  async start(): Promise<void> {
    if (!this.config.enabled) {
      this.state_ = 'disabled';
      return;
    }
    this.state_ = 'starting';
    const app = Fastify({
      // Request lines only at warn and above: the journal on an SD card is not an access log.
      loggerInstance: this.log.child({ component: 'http' }, { level: 'warn' }) as unknown as FastifyBaseLogger,
      bodyLimit: Math.ceil(this.config.maxUploadMb * 1024 * 1024) + 64 * 1024,
      trustProxy: false,
      ...(await this.appOptions()),
    }) as unknown as FastifyInstance;
    this.app = app;
    app.get('/health', async (_req, reply) => {
      const { httpStatus, body } = this.healthReport();
      return reply.code(httpStatus).send(body);
    });
    for (const plugin of this.plugins) await app.register(async (scope) => plugin(scope));
    this.address_ = await app.listen({ host: this.config.host, port: this.config.port });
    this.log.info({ url: this.address_ }, 'admin listening');
    this.state_ = 'running';
  }

  address(): string | null {
    return this.address_;
  }

  instance(): FastifyInstance | null {
    return this.app;
  }

  async stop(): Promise<void> {
    if (!this.app) return;
    this.state_ = 'stopping';
    await this.app.close();
    this.app = null;
    this.state_ = 'stopped';
  }

  status(): ServiceStatus {
    return this.state_;
  }
}

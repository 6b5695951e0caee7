import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { FastifyError, FastifyInstance } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyMultipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import { BaseService } from '../service.js';
import type { Prunable } from '../store/retention.js';
import { packageVersion, repoRoot } from '../system/paths.js';
import { actorOf, SESSION_COOKIE, type AdminContext, type AdminDeps } from './adminContext.js';
import type { FaceServices } from './faceServices.js';
import type { HttpServer } from './httpServer.js';
import { installGuard, markPublic } from './guard.js';
import { HttpError } from './httpErrors.js';
import { LoginThrottle } from './loginThrottle.js';
import { PasswordBusyError, dummyPasswordHash } from './password.js';
import { AdminSessionsRepo } from './sessionsRepo.js';
import { SetupToken } from './setupToken.js';
import { loadTls } from './tls.js';
import { AdminUsersRepo } from './usersRepo.js';
import { authRoutes } from './routes/authRoutes.js';
import { peopleRoutes } from './routes/peopleRoutes.js';
import { reportRoutes } from './routes/reportRoutes.js';
import { activityRoutes } from './routes/activityRoutes.js';
import { systemRoutes } from './routes/systemRoutes.js';
import { visionRoutes } from './routes/visionRoutes.js';

export interface AdminApiOptions {
  /** The clock (tests move it to end a lock-out or a session). */
  now?: () => Date;
  /** Where the built UI is (default: web-admin/dist in the installation). */
  uiDir?: string;
}

/** JSON bodies are small (settings, edits, ids); photos come as multipart with their own per-file limit. */
export const JSON_BODY_LIMIT = 256 * 1024;
const CSP =
  "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/** Login attempts are kept this long (for the audit of a guessing attack), then pruned by the retention service. */
const LOGIN_ATTEMPT_DAYS = 30;

/**
 * The web admin: JSON API under /api/v1 (OpenAPI at /docs) and the UI from web-admin/dist,
 * registered on the shared HttpServer before it starts. Owns the admin accounts, sessions and
 * login attempts and the first-run setup token; everything else it asks the unit's owners for
 * (people registry, settings, door, commands, alarms, health), handed to it by the composition root.
 */
export class AdminApi extends BaseService {
  private tlsOn = false;
  readonly admin: AdminContext;

  constructor(deps: AdminDeps, http: HttpServer, faces: FaceServices, options: AdminApiOptions = {}) {
    super('admin', deps.bus);
    const db = deps.store.db;
    const cfg = () => deps.config.admin;
    const now = options.now ?? (() => new Date());
    const users = new AdminUsersRepo(db);
    this.admin = {
      ...deps,
      users,
      sessions: new AdminSessionsRepo(db, users),
      throttle: new LoginThrottle(db, () => ({ maxFailures: cfg().loginMaxFailures, lockoutMinutes: cfg().lockoutMinutes })),
      setup: new SetupToken(resolve(deps.config.store.dataDir)),
      faces,
      now,
      secure: () => this.tlsOn,
      audit: (req, action, target = null, details = null) => deps.store.audit.record(actorOf(req), action, target, details),
      setSessionCookie: (reply, token) =>
        reply.setCookie(SESSION_COOKIE, token, {
          path: '/',
          httpOnly: true,
          sameSite: 'strict',
          secure: this.tlsOn,
          maxAge: cfg().sessionAbsoluteHours * 3600,
        }),
      clearSessionCookie: (reply) => reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: this.tlsOn }),
    };
    const uiDir = options.uiDir ?? join(repoRoot(), 'web-admin', 'dist');
    http.useOptions(() => {
      const tls = loadTls(deps.config, deps.log);
      this.tlsOn = tls !== null;
      return tls ? { https: { key: tls.key, cert: tls.cert } } : {};
    });
    http.use((app) => this.plugin(app, uiDir));
  }

  protected onStart(): void {
    if (this.admin.users.count() === 0) {
      const token = this.admin.setup.ensure();
      const { host, port } = this.admin.config.admin;
      this.admin.log.warn(
        { setupToken: token, tokenFile: this.admin.setup.file, admin: `${host}:${port}` },
        `first run: no admin account yet. Open the web admin and enter the one-time setup token ${token}`,
      );
    }
    // Computed now, not at the first unknown user name (whose sign-in would otherwise take two hashes: a timing tell).
    void dummyPasswordHash().catch((err: unknown) => this.admin.log.warn({ err }, 'could not prepare the dummy password hash'));
    this.admin.faces.start();
    this.every(60_000, () => this.flushThrottle());
  }

  protected override async onStop(): Promise<void> {
    this.flushThrottle();
    await this.admin.faces.stop();
  }

  /** Writes the sign-in refusals counted in memory (each minute and at stop). */
  flushThrottle(): void {
    try {
      this.admin.throttle.flush();
    } catch (err) {
      this.admin.log.warn({ err }, 'sign-in refusals not written');
    }
  }

  /** What the retention service prunes for the admin, each with the admin's own rule. */
  prunables(): Prunable[] {
    return [
      { name: 'admin_sessions', prune: (now) => this.admin.sessions.pruneExpired(now, this.admin.config.admin.sessionIdleMinutes) },
      { name: 'auth_attempts', prune: (now) => this.admin.throttle.prune(new Date(now.getTime() - LOGIN_ATTEMPT_DAYS * 86_400_000)) },
    ];
  }

  health(): Record<string, unknown> {
    // /health is public (fleet monitoring, the original API's shape): no account or session counts here.
    return { setupPending: this.admin.setup.active(), tls: this.tlsOn, enrollment: this.admin.faces.unavailableReason() ?? 'ready' };
  }

  private async plugin(app: FastifyInstance, uiDir: string): Promise<void> {
    const maxBytes = Math.ceil(this.admin.config.admin.maxUploadMb * 1024 * 1024);
    // Only JSON bodies (and multipart): a cross-site form can send text/plain without a preflight.
    app.removeContentTypeParser('text/plain');
    // A JSON body is parsed on the main thread (the door's event loop): keep it small, not maxUploadMb.
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: JSON_BODY_LIMIT }, app.getDefaultJsonParser('error', 'error'));
    await app.register(fastifyCookie);
    // Before any route or plugin: the guard must see every route of the admin (docs included).
    installGuard(app, this.admin);

    app.addHook('onSend', async (req, reply, payload) => {
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      reply.header('x-frame-options', 'DENY');
      reply.header('permissions-policy', 'camera=(), microphone=(), geolocation=()');
      if (this.tlsOn) reply.header('strict-transport-security', 'max-age=31536000');
      const path = req.routeOptions.url ?? req.url; // the matched route: "/%61pi/…" is an API route too
      if (!path.startsWith('/docs')) reply.header('content-security-policy', CSP);
      if (path.startsWith('/api/') && !reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
      return payload;
    });

    app.setErrorHandler((err: FastifyError | HttpError, req, reply) => {
      if (err instanceof HttpError) return reply.code(err.statusCode).send({ error: err.code, message: err.message, ...err.extra });
      if (err instanceof PasswordBusyError) return reply.code(503).header('retry-after', '5').send({ error: 'busy', message: err.message });
      const e = err as FastifyError;
      if (e.validation)
        return reply
          .code(400)
          .send({ error: 'invalid_request', message: `${e.validationContext ?? 'request'}${e.message.replace(/^(body|querystring|params)/, '')}` });
      if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' && !req.isMultipart()) {
        return reply.code(413).send({ error: 'too_large', message: `request body larger than ${JSON_BODY_LIMIT / 1024} KiB` });
      }
      if (e.code === 'FST_REQ_FILE_TOO_LARGE' || e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || e.statusCode === 413) {
        return reply.code(413).send({
          error: 'too_large',
          message: `upload larger than the ${this.admin.config.admin.maxUploadMb} MB limit (admin.maxUploadMb): use a smaller photo`,
        });
      }
      if (e.code === 'FST_FILES_LIMIT') return reply.code(413).send({ error: 'too_many_files', message: 'at most 10 photos per request' });
      if (e.statusCode && e.statusCode < 500) return reply.code(e.statusCode).send({ error: e.code ?? 'bad_request', message: e.message });
      req.log.error({ err }, 'admin request failed');
      return reply.code(500).send({ error: 'internal', message: 'internal error (see the blinkd log)' });
    });
    app.setNotFoundHandler((req, reply) =>
      reply.code(404).send({ error: 'not_found', message: `no such page or API: ${req.method} ${req.url.split('?')[0]}` }),
    );

    // Plugins with routes (docs) come after the guard, the headers and the error handler, so those apply to them too.
    await app.register(fastifyMultipart, { limits: { fileSize: maxBytes, files: 10, fields: 20, fieldSize: 10_000, parts: 40 } });
    await app.register(fastifySwagger, {
      openapi: {
        info: {
          title: 'BLINK Edge admin API',
          version: packageVersion(),
          description:
            'Sign in with POST /api/v1/auth/login (session cookie). Every state-changing request needs the X-CSRF-Token header from GET /api/v1/auth/state.',
        },
        components: { securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE } } },
        security: [{ session: [] }],
      },
    });
    await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true });

    authRoutes(app, this.admin);
    peopleRoutes(app, this.admin);
    activityRoutes(app, this.admin);
    reportRoutes(app, this.admin);
    systemRoutes(app, this.admin);
    visionRoutes(app, this.admin);

    // The UI's files are public (the sign-in page is one of them); everything else needs a session.
    await app.register(async (ui) => {
      markPublic(ui);
      if (existsSync(join(uiDir, 'index.html'))) {
        await ui.register(fastifyStatic, { root: uiDir, prefix: '/', index: 'index.html', cacheControl: true, maxAge: 0, wildcard: false });
      } else {
        ui.get('/', async (_req, reply) =>
          reply
            .type('text/plain')
            .send('The web admin is not built: run `npm run build` (it bundles web-admin/ into web-admin/dist). The API is at /api/v1, docs at /docs.'),
        );
      }
    });
  }
}

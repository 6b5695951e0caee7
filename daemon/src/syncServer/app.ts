/**
 * The sync server's Fastify application: JSON bodies kept raw for the signature, the guard,
 * overload shedding (503 with Retry-After when this instance or its database is saturated,
 * 429 per device), errors in the original's FastAPI shape, OpenAPI docs behind a token, and
 * the routes. It holds no state of its own between requests (nonces, counters and everything
 * else live in the database), so any number of instances can serve one PostgreSQL.
 */
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyUnderPressure from '@fastify/under-pressure';
import { readFileSync } from 'node:fs';
import type { ErrorObject } from 'ajv';
import { packageVersion } from '../system/paths.js';
import { AUTH_SCHEME } from '../sync/requestSigning.js';
import { installAuth, principalKey } from './auth.js';
import type { ServerContext } from './context.js';
import { DbUnavailableError, isTransientDbError } from './db/sql.js';
import { fastApiItems, HttpError, ValidationFailed } from './errors.js';
import { attendanceRoutes } from './routes/attendanceRoutes.js';
import { deviceRoutes } from './routes/deviceRoutes.js';
import { healthRoutes } from './routes/healthRoutes.js';
import { keyRingRoutes } from './routes/keyRingRoutes.js';
import { legacyRoutes } from './routes/legacyRoutes.js';
import { peopleRoutes } from './routes/peopleRoutes.js';

export async function buildSyncApp(ctx: ServerContext): Promise<FastifyInstance> {
  const { config } = ctx;
  const { limits } = config;
  const tls = config.tls.cert && config.tls.key ? { https: { cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) } } : {};
  const app = Fastify({
    // Request lines only at warn and above (or quieter when the server's log is quieter).
    loggerInstance: ctx.log.child({ component: 'sync-server-http' }, { level: ctx.log.levelVal > 40 ? ctx.log.level : 'warn' }) as unknown as FastifyBaseLogger,
    bodyLimit: limits.bodyBytes,
    trustProxy: config.trustProxy,
    // No type coercion: a number where a string belongs is an error, as Pydantic v2 says it is.
    ajv: { customOptions: { coerceTypes: false, allErrors: true } },
    ...tls,
  }) as unknown as FastifyInstance;

  const retryAfter = () => String(limits.retryAfterSec + Math.floor(Math.random() * (limits.retryAfterSec + 1)));

  // Shed load before doing any work for it: requests in progress on this instance, and waiting for a database connection.
  let inFlight = 0;
  app.addHook('onRequest', async (req, reply) => {
    inFlight++;
    reply.raw.once('close', () => inFlight--);
    if (inFlight > limits.maxInFlight || ctx.sql.waiting() > config.database.maxWaiting) {
      return reply.code(503).header('retry-after', retryAfter()).send({ detail: 'server busy: retry later (Retry-After)' });
    }
  });
  await app.register(fastifyUnderPressure, {
    maxEventLoopDelay: limits.maxEventLoopDelayMs,
    retryAfter: limits.retryAfterSec,
    pressureHandler: (_req, reply, type) => {
      void reply
        .code(503)
        .header('retry-after', retryAfter())
        .send({ detail: `server overloaded (${type}): retry later (Retry-After)` });
    },
  });

  app.removeContentTypeParser('text/plain');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const buf = body as Buffer;
    req.rawBody = buf;
    if (buf.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(buf.toString('utf8')));
    } catch (err) {
      const m = /position (\d+)/.exec((err as Error).message);
      done(
        new ValidationFailed([
          { type: 'json_invalid', loc: ['body', m ? Number(m[1]) : 0], msg: 'JSON decode error', input: {}, ctx: { error: (err as Error).message } },
        ]),
      );
    }
  });

  installAuth(app, {
    devices: ctx.devices,
    tokens: ctx.tokens,
    orgs: ctx.orgs,
    clockSkewMs: config.auth.clockSkewSec * 1000,
    legacyOrg: config.legacyOrg,
    now: () => ctx.now().getTime(),
  });

  await app.register(fastifyRateLimit, {
    hook: 'preHandler',
    max: limits.rateLimitPerMinute,
    timeWindow: 60_000,
    keyGenerator: principalKey,
    allowList: (req) => req.routeOptions.config?.auth === 'public',
    errorResponseBuilder: (_req, c) =>
      new HttpError(429, `too many requests from this device: at most ${c.max} a minute; retry in ${Math.ceil(c.ttl / 1000)} s`, {
        'retry-after': String(Math.ceil(c.ttl / 1000)),
      }),
  });

  app.setErrorHandler((err: FastifyError | Error, req, reply) => {
    if (err instanceof ValidationFailed) return reply.code(422).send({ detail: err.items });
    const fe = err as FastifyError;
    if (fe.validation) {
      const context = fe.validationContext ?? 'body';
      const input = context === 'querystring' ? req.query : context === 'params' ? req.params : context === 'headers' ? req.headers : req.body;
      return reply.code(422).send({ detail: fastApiItems(fe.validation as ErrorObject[], context, input) });
    }
    if (err instanceof HttpError) return reply.code(err.statusCode).headers(err.headers).send({ detail: err.message });
    if (err instanceof DbUnavailableError || isTransientDbError(err)) {
      req.log.warn({ err: err.message }, 'database unavailable');
      return reply.code(503).header('retry-after', retryAfter()).send({ detail: 'database unavailable: retry later (Retry-After)' });
    }
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return reply.code(413).send({ detail: `request body larger than ${limits.bodyBytes} bytes (limits.bodyBytes)` });
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return reply.code(415).send({ detail: 'send JSON (Content-Type: application/json)' });
    if (fe.statusCode && fe.statusCode < 500) return reply.code(fe.statusCode).send({ detail: err.message });
    req.log.error({ err }, 'sync server request failed');
    return reply.code(500).send({ detail: 'internal server error (see the sync server log)' });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ detail: `Not Found: ${req.method} ${req.url.split('?')[0]}` }));

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'BLINK sync server',
        version: packageVersion(),
        description:
          'Store-and-forward sync of people (templates as AES-256-GCM envelopes) and attendance between door units, and head-office export. ' +
          `Units sign every request (Authorization: ${AUTH_SCHEME} …, see docs/SYNC.md); head office uses a reader token (Bearer).`,
      },
      components: {
        securitySchemes: {
          device: { type: 'apiKey', in: 'header', name: 'Authorization', description: `${AUTH_SCHEME} device="<org>/<device>", ts, nonce, sig` },
          reader: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ device: [] }, { reader: [] }],
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: true });

  healthRoutes(app, ctx);
  deviceRoutes(app, ctx);
  keyRingRoutes(app, ctx);
  peopleRoutes(app, ctx);
  attendanceRoutes(app, ctx);
  legacyRoutes(app, ctx);
  return app;
}

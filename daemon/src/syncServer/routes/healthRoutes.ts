import type { FastifyInstance } from 'fastify';
import { packageVersion } from '../../system/paths.js';
import type { ServerContext } from '../context.js';

const healthSchema = {
  type: 'object',
  required: ['status', 'engine', 'ai_engines_available', 'simulated_fallback'],
  properties: {
    status: { enum: ['healthy', 'unhealthy'] },
    engine: { type: 'string' },
    ai_engines_available: { type: 'boolean' },
    simulated_fallback: { type: ['boolean', 'null'] },
    version: { type: 'string' },
    database: {
      type: 'object',
      properties: { engine: { type: 'string' }, state: { enum: ['up', 'down'] }, latency_ms: { type: 'number' }, error: { type: 'string' } },
    },
  },
} as const;

/**
 * GET /health in the original relay's shape ({"status":"healthy","engine":"BLINK Core",…}) plus
 * the database's state; 503 "unhealthy" when the database does not answer, so a load balancer
 * takes the instance out. The sync server computes no embeddings: ai_engines_available is false.
 */
export function healthRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const version = packageVersion();
  const handler = async (_req: unknown, reply: { code(n: number): { send(b: unknown): unknown } }) => {
    const db = await ctx.sql.ping();
    return reply.code(db.up ? 200 : 503).send({
      status: db.up ? 'healthy' : 'unhealthy',
      engine: 'BLINK Core',
      ai_engines_available: false,
      simulated_fallback: null,
      version,
      database: { engine: ctx.sql.engine, state: db.up ? 'up' : 'down', latency_ms: db.latencyMs, ...(db.error ? { error: db.error.slice(0, 200) } : {}) },
    });
  };
  const opts = { config: { auth: 'public' as const }, schema: { tags: ['health'], response: { 200: healthSchema, 503: healthSchema } } };
  app.get('/health', opts, handler);
  app.get('/o/:org/health', { ...opts, schema: { ...opts.schema, params: { type: 'object', properties: { org: { type: 'string' } } } } }, handler);
}

import type { FastifyInstance } from 'fastify';
import { keyRingResponseSchema, putKeyRingRequestSchema, type PutKeyRingRequest } from '../../sync/protocol.js';
import type { ServerContext } from '../context.js';
import { orgParams } from './deviceRoutes.js';

/** The organisation's wrapped key ring: read by every unit at start, written (compare-and-set) by the one that creates or rotates it. */
export function keyRingRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(
    '/api/v2/orgs/:org/keyring',
    {
      config: { auth: 'device' },
      schema: {
        tags: ['keys'],
        summary: 'The wrapped key ring (null before the first unit creates it) and the envelopes received under each key id',
        params: orgParams,
        response: { 200: keyRingResponseSchema },
      },
    },
    async (req) => {
      const { version, doc, usage } = await ctx.keyRings.get(req.principal!.org);
      return { version, keyring: doc as unknown as Record<string, unknown> | null, usage };
    },
  );

  app.put(
    '/api/v2/orgs/:org/keyring',
    {
      config: { auth: 'device' },
      schema: {
        tags: ['keys'],
        summary: 'Store a new version of the key ring if the stored one is still if_version (409 otherwise); keys are never dropped',
        params: orgParams,
        body: putKeyRingRequestSchema,
        response: { 200: { type: 'object', required: ['version'], properties: { version: { type: 'integer' } } } },
      },
    },
    async (req) => {
      const p = req.principal!;
      const b = req.body as PutKeyRingRequest;
      const version = await ctx.keyRings.put(p.org, b.if_version, b.keyring, p.kind === 'device' ? p.deviceId : 'unknown');
      ctx.log.info({ org: p.org, version }, 'key ring stored');
      return { version };
    },
  );
}

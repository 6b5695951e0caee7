import type { FastifyInstance } from 'fastify';
import {
  digestResponseSchema,
  pullPeopleQuerySchema,
  pullPeopleResponseSchema,
  pushPeopleRequestSchema,
  pushPeopleResponseSchema,
  type PullPeopleResponse,
  type PushPeopleRequest,
  type PushPeopleResponse,
} from '../../sync/protocol.js';
import type { ServerContext } from '../context.js';
import { invalid } from '../errors.js';
import { orgParams } from './deviceRoutes.js';

/** v2 people: push whole records (last writer wins), pull changes after a cursor in pages, and the reconciliation digest. */
export function peopleRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { limits } = ctx.config;

  app.post(
    '/api/v2/orgs/:org/people',
    {
      config: { auth: 'device' },
      schema: {
        tags: ['people'],
        summary: `Push up to ${limits.pushPeopleMax} person records; each is applied, a duplicate, or stale (all acknowledged)`,
        params: orgParams,
        body: pushPeopleRequestSchema(limits.pushPeopleMax),
        response: { 200: pushPeopleResponseSchema },
      },
    },
    async (req): Promise<PushPeopleResponse> => {
      const p = req.principal!;
      const b = req.body as PushPeopleRequest;
      const out = await ctx.people.push(p.org, p.kind === 'device' ? p.deviceId : '', b.people, b.since === undefined ? undefined : Number(b.since));
      return { results: out.results, head: String(out.head) };
    },
  );

  app.get(
    '/api/v2/orgs/:org/people',
    {
      config: { auth: 'device' },
      schema: {
        tags: ['people'],
        summary: `Changes after the cursor "since", oldest first, at most "limit" (default ${limits.pageDefault}; more than ${limits.pageMax} is served as ${limits.pageMax})`,
        params: orgParams,
        querystring: pullPeopleQuerySchema,
        response: { 200: pullPeopleResponseSchema },
      },
      // The schema documents the answer; rowToWire builds exactly it, and JSON.stringify is ~30× faster
      // than a schema serializer on nested anyOf (11 ms → 0.3 ms for a page of 200 people).
      serializerCompiler: () => (data) => JSON.stringify(data),
    },
    async (req): Promise<PullPeopleResponse> => {
      const q = req.query as { since?: string; limit?: string; snapshot?: string };
      // A unit asking for more than this server serves gets pageMax (units and servers are configured apart).
      const limit = Math.min(q.limit === undefined ? limits.pageDefault : Number(q.limit), limits.pageMax);
      if (limit < 1) throw invalid(['query', 'limit'], 'Input should be greater than or equal to 1', q.limit, 'greater_than_equal');
      const page = await ctx.people.pull(req.principal!.org, Number(q.since ?? 0), limit, q.snapshot === '1');
      return {
        changes: page.changes,
        next_since: String(page.nextSince),
        has_more: page.hasMore,
        snapshot: page.snapshot,
        snapshot_reason: page.snapshotReason,
        head: String(page.head),
      };
    },
  );

  app.get(
    '/api/v2/orgs/:org/people/digest',
    {
      config: { auth: 'device' },
      schema: {
        tags: ['people'],
        summary: 'Count and SHA-256 of the live people (id, version): drift detection',
        params: orgParams,
        response: { 200: digestResponseSchema },
      },
    },
    async (req) => {
      const d = await ctx.people.digest(req.principal!.org);
      return { count: d.count, sha256: d.sha256, head: String(d.head) };
    },
  );
}

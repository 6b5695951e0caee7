import type { FastifyInstance } from 'fastify';
import { envelopeV1Schema } from '../../sync/protocol.js';
import type { ServerContext } from '../context.js';
import { LEGACY_UNIT, type LegacyUser } from '../peopleStore.js';
import type { AttendanceIn } from '../attendanceStore.js';

const s = (max: number) => ({ type: 'string', maxLength: max }) as const;

/** The original relay's request bodies, as its Pydantic models read them (all strings but the envelope; extra fields ignored). */
const legacyUsersBody = (max: number) =>
  ({
    type: 'array',
    maxItems: max,
    items: {
      type: 'object',
      required: ['id', 'name', 'model_mode', 'enrolled_at', 'status'],
      properties: {
        id: { type: 'string', minLength: 1, maxLength: 160 },
        name: s(200),
        encrypted_envelope_json: { anyOf: [{ ...envelopeV1Schema, additionalProperties: true }, { type: 'null' }] },
        model_mode: s(128),
        enrolled_at: s(64),
        status: s(64),
      },
    },
  }) as const;

const legacyAttendanceBody = (max: number) =>
  ({
    type: 'array',
    maxItems: max,
    items: {
      type: 'object',
      required: ['id', 'person_id', 'timestamp', 'status', 'punctuality'],
      properties: {
        id: { type: 'string', minLength: 1, maxLength: 160 },
        person_id: s(160),
        timestamp: s(64),
        status: s(32),
        punctuality: { type: ['string', 'null'], maxLength: 32 },
      },
    },
  }) as const;

const syncedResponse = {
  type: 'object',
  required: ['success', 'synced_count', 'synced_ids'],
  properties: { success: { type: 'boolean' }, synced_count: { type: 'integer' }, synced_ids: { type: 'array', items: { type: 'string' } } },
} as const;

const usersResponse = {
  type: 'object',
  required: ['success', 'users'],
  properties: {
    success: { type: 'boolean' },
    users: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'name', 'encrypted_envelope_json', 'model_mode', 'enrolled_at', 'status'],
        properties: {
          id: { type: 'string' },
          name: { type: 'string' },
          encrypted_envelope_json: { anyOf: [{ type: 'object', additionalProperties: true }, { type: 'null' }] },
          model_mode: { type: 'string' },
          enrolled_at: { type: 'string' },
          status: { type: 'string' },
        },
      },
    },
  },
} as const;

/**
 * The original relay's routes, unchanged in paths and JSON: POST/GET /api/v1/sync/users and
 * POST /api/v1/sync/attendance. A signed device uses them for its own organisation; with the
 * organisation's legacy mode on, so can the original's unauthenticated clients, at the
 * unprefixed paths (the organisation set as legacyOrg) or under /o/<org>/.
 */
export function legacyRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const max = ctx.config.limits.legacyArrayMax;
  const unitOf = (p: NonNullable<import('fastify').FastifyRequest['principal']>) => (p.kind === 'device' ? p.deviceId : LEGACY_UNIT);

  for (const prefix of ['', '/o/:org']) {
    const params = prefix ? { params: { type: 'object', properties: { org: { type: 'string', maxLength: 64 } } } } : {};
    app.post(
      `${prefix}/api/v1/sync/users`,
      {
        config: { auth: 'legacy' },
        schema: {
          tags: ['original (legacy)'],
          summary: 'Upsert users by id (last writer wins; enrolled_at keeps its first value)',
          ...params,
          body: legacyUsersBody(max),
          response: { 200: syncedResponse },
        },
      },
      async (req) => {
        const p = req.principal!;
        const users = (req.body as LegacyUser[]).map((u) => ({ ...u, encrypted_envelope_json: u.encrypted_envelope_json ?? null }));
        const ids = await ctx.people.legacyUpsert(p.org, unitOf(p), users);
        return { success: true, synced_count: ids.length, synced_ids: ids };
      },
    );
    app.get(
      `${prefix}/api/v1/sync/users`,
      {
        config: { auth: 'legacy' },
        schema: { tags: ['original (legacy)'], summary: 'Every user, DEACTIVATED included', ...params, response: { 200: usersResponse } },
        // rowToLegacy builds exactly the documented shape; the envelope is a free-form object, which a schema serializer handles slowly.
        serializerCompiler: () => (data) => JSON.stringify(data),
      },
      async (req) => ({ success: true, users: await ctx.people.legacyList(req.principal!.org) }),
    );
    app.post(
      `${prefix}/api/v1/sync/attendance`,
      {
        config: { auth: 'legacy' },
        schema: {
          tags: ['original (legacy)'],
          summary: 'Insert attendance rows if absent (a repeated id is acknowledged)',
          ...params,
          body: legacyAttendanceBody(max),
          response: { 200: syncedResponse },
        },
      },
      async (req) => {
        const p = req.principal!;
        const rows = req.body as AttendanceIn[];
        await ctx.attendance.push(p.org, unitOf(p), rows);
        return { success: true, synced_count: rows.length, synced_ids: rows.map((r) => r.id) };
      },
    );
  }
}

import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { csvCell } from '../../admin/csv.js';
import { pushAttendanceRequestSchema, pushAttendanceResponseSchema, type PushAttendanceRequest, type PushAttendanceResponse } from '../../sync/protocol.js';
import { ID_PATTERN } from '../../sync/requestSigning.js';
import type { AttendanceOut, AttendanceQuery } from '../attendanceStore.js';
import type { ServerContext } from '../context.js';
import { invalid } from '../errors.js';
import { orgParams } from './deviceRoutes.js';

type AttendancePage = { rows: AttendanceOut[]; next: string | null; has_more: boolean };

const ISO = '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:?\\d{2})?)?$';
const CSV_COLUMNS = ['id', 'person_id', 'person_name', 'timestamp', 'status', 'punctuality', 'unit_id', 'received_at', 'seq'] as const;

const rowSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    person_id: { type: 'string' },
    person_name: { type: ['string', 'null'] },
    timestamp: { type: 'string' },
    status: { type: 'string' },
    punctuality: { type: ['string', 'null'] },
    unit_id: { type: 'string' },
    received_at: { type: 'string' },
    seq: { type: 'integer' },
  },
} as const;

/** v2 attendance push (units) and the head-office export: GET /api/v1/attendance?from&to&unit, JSON pages or CSV. */
export function attendanceRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { limits } = ctx.config;

  app.post(
    '/api/v2/orgs/:org/attendance',
    {
      config: { auth: 'device' },
      schema: {
        tags: ['attendance'],
        summary: `Push up to ${limits.pushAttendanceMax} attendance rows; insert-if-absent by id (a repeated id is acknowledged as a duplicate)`,
        params: orgParams,
        body: pushAttendanceRequestSchema(limits.pushAttendanceMax),
        response: { 200: pushAttendanceResponseSchema },
      },
    },
    async (req): Promise<PushAttendanceResponse> => {
      const p = req.principal!;
      const rows = (req.body as PushAttendanceRequest).rows;
      const inserted = await ctx.attendance.push(p.org, p.kind === 'device' ? p.deviceId : '', rows);
      return { results: rows.map((r) => ({ id: r.id, outcome: inserted.delete(r.id) ? 'inserted' : 'duplicate' })) };
    },
  );

  app.get(
    '/api/v1/attendance',
    {
      config: { auth: 'reader' },
      schema: {
        tags: ['head office'],
        summary:
          'Attendance of the organisation: from/to (ISO, to exclusive), unit, person; JSON pages (has_more; next → after=) or format=csv (every matching row). since=0 (then since=<next>) lists rows in arrival order instead: an incremental export that never misses a row arriving late.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            from: { type: 'string', pattern: ISO },
            to: { type: 'string', pattern: ISO },
            unit: { type: 'string', pattern: ID_PATTERN },
            person: { type: 'string', maxLength: 160 },
            since: { type: 'string', maxLength: 200, pattern: '^\\d{1,20}(:.+)?$' },
            after: { type: 'string', maxLength: 240, pattern: '\\|' },
            limit: { type: 'string', pattern: '^\\d{1,5}$' },
            format: { enum: ['json', 'csv'] },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { rows: { type: 'array', items: rowSchema }, next: { type: ['string', 'null'] }, has_more: { type: 'boolean' } },
          },
        },
      },
    },
    async (req, reply) => {
      const q = req.query as Record<string, string | undefined>;
      const org = req.principal!.org;
      const limit = q.limit === undefined ? 1000 : Number(q.limit);
      if (limit < 1 || limit > 10_000) throw invalid(['query', 'limit'], 'Input should be between 1 and 10000', q.limit, 'less_than_equal');
      if (q.since !== undefined && q.after !== undefined)
        throw invalid(['query', 'after'], 'use since (arrival order) or after (time order), not both', q.after);
      const base: AttendanceQuery = {
        from: q.from,
        to: q.to,
        unit: q.unit,
        person: q.person,
        since: q.since,
        after: q.after,
        limit,
      };
      const csv = q.format === 'csv' || (q.format === undefined && /text\/csv/.test(req.headers.accept ?? ''));
      if (!csv) return ctx.attendance.query(org, base);
      return streamCsv(reply, (after, since) => ctx.attendance.query(org, { ...base, after, since, limit: 5000 }), base);
    },
  );
}

/** Every matching row as CSV, streamed a page at a time (a year of a large site never sits in memory). */
function streamCsv(
  reply: FastifyReply,
  page: (after: string | undefined, since: string | undefined) => Promise<AttendancePage>,
  base: AttendanceQuery,
): FastifyReply {
  async function* lines(): AsyncGenerator<string> {
    yield CSV_COLUMNS.join(',') + '\r\n';
    let after = base.after;
    let since = base.since;
    for (;;) {
      const { rows, next, has_more } = await page(after, since);
      yield rows.map((r) => CSV_COLUMNS.map((c) => csvCell(r[c])).join(',') + '\r\n').join('');
      if (!has_more || !next) return;
      if (since !== undefined) since = next;
      else after = next;
    }
  }
  return reply
    .header('content-type', 'text/csv; charset=utf-8')
    .header('content-disposition', 'attachment; filename="attendance.csv"')
    .send(Readable.from(lines()));
}

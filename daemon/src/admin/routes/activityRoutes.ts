import type { FastifyInstance } from 'fastify';
import type { AccessEvent, EventQuery } from '../../store/eventsRepo.js';
import type { AdminContext } from '../adminContext.js';
import type { AttendanceDayJson, DashboardJson } from '../apiTypes.js';
import { toCsv } from '../csv.js';
import { badRequest, errorSchema } from '../httpErrors.js';
import { DAY_PATTERN, dayStartIso, isRealDay, localDay, nextDay } from '../../time/localTime.js';

/** The calendar days a date filter may name. */
const FIRST_DAY = '1970-01-01';
const LAST_DAY = '9998-12-31';

/** The events filter of the API is the repository's query, validated by the route schemas. */
type EventFilter = EventQuery;

const eventSchema = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    id: { type: 'string' },
    ts: { type: 'string' },
    result: { type: 'string' },
    reason: { type: 'string' },
    personId: { type: ['string', 'null'] },
    personName: { type: ['string', 'null'] },
    score: { type: ['number', 'null'] },
    margin: { type: ['number', 'null'] },
    liveness: { type: ['object', 'null'], additionalProperties: true },
    trackId: { type: ['integer', 'null'] },
    source: { type: 'string' },
    door: { type: 'string' },
    details: { type: ['object', 'null'], additionalProperties: true },
  },
} as const;

const attendanceSchema = {
  type: 'object',
  properties: {
    day: { type: 'string' },
    personId: { type: 'string' },
    personName: { type: 'string' },
    checkIn: { type: ['string', 'null'] },
    checkOut: { type: ['string', 'null'] },
    status: { type: ['string', 'null'] },
    late: { type: 'boolean' },
  },
} as const;

const eventQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    personId: { type: 'string', maxLength: 64 },
    result: { type: 'string', enum: ['GRANTED', 'DENIED'] },
    reason: { type: 'string', pattern: '^[a-z_]{1,40}$', description: 'reason code, e.g. liveness_failed (docs/ADMIN.md)' },
    from: { type: 'string', pattern: DAY_PATTERN, description: 'first local day (YYYY-MM-DD)' },
    to: { type: 'string', pattern: DAY_PATTERN, description: 'last local day (YYYY-MM-DD), inclusive' },
    limit: { type: 'integer', minimum: 1, maximum: 10000, default: 100 },
    beforeSeq: { type: 'integer', minimum: 1 },
  },
} as const;

export function activityRoutes(app: FastifyInstance, admin: AdminContext): void {
  const { store, config, registry } = admin;
  const tz = () => config.unit.timezone;

  const checkRange = (q: { from?: string; to?: string }) => {
    for (const k of ['from', 'to'] as const) {
      const day = q[k];
      if (!day) continue;
      if (!isRealDay(day)) throw badRequest(`${k}: ${day} is not a calendar date (YYYY-MM-DD)`);
      // A day whose next day has a five-digit year cannot be a bound of an ISO-instant range.
      if (day < FIRST_DAY || day > LAST_DAY) throw badRequest(`${k}: ${day} is outside the dates this unit records (${FIRST_DAY} to ${LAST_DAY})`);
    }
    if (q.from && q.to && q.from > q.to) throw badRequest('from: must be on or before to');
  };

  const queryEvents = (q: EventFilter): AccessEvent[] => {
    checkRange(q);
    return store.events.query({
      personId: q.personId,
      result: q.result,
      reason: q.reason,
      limit: q.limit,
      beforeSeq: q.beforeSeq,
      from: q.from ? dayStartIso(tz(), q.from) : undefined,
      to: q.to ? dayStartIso(tz(), nextDay(q.to)) : undefined,
    });
  };

  /** One row per person and day: first check-in (on time or late) and the check-out. */
  const attendanceDays = (q: { from?: string; to?: string; personId?: string }): AttendanceDayJson[] => {
    checkRange(q);
    const rows = store.attendance.query({ ...q, limit: 100_000 });
    const names = registry.names(rows.map((r) => r.personId));
    const byKey = new Map<string, AttendanceDayJson>();
    for (const r of rows) {
      const key = `${r.day}|${r.personId}`;
      const d = byKey.get(key) ?? {
        day: r.day,
        personId: r.personId,
        personName: names.get(r.personId) ?? '',
        checkIn: null,
        checkOut: null,
        status: null,
        late: false,
      };
      if (r.kind === 'CHECK_IN') Object.assign(d, { checkIn: r.ts, status: r.status, late: r.status === 'LATE' });
      else if (!d.checkOut || r.ts > d.checkOut) d.checkOut = r.ts;
      byKey.set(key, d);
    }
    return [...byKey.values()].sort((a, b) => (a.day === b.day ? (a.checkIn ?? '').localeCompare(b.checkIn ?? '') : b.day.localeCompare(a.day)));
  };

  app.get(
    '/api/v1/dashboard',
    {
      schema: {
        tags: ['activity'],
        summary: "Door state, today's counts, attendance and recent decisions",
        response: {
          200: {
            type: 'object',
            additionalProperties: true,
            properties: { recent: { type: 'array', items: eventSchema }, attendance: { type: 'array', items: attendanceSchema } },
          },
        },
      },
    },
    async (): Promise<DashboardJson> => {
      const today = localDay(tz(), admin.now());
      const from = dayStartIso(tz(), today);
      const to = dayStartIso(tz(), nextDay(today));
      const attendance = attendanceDays({ from: today, to: today });
      return {
        unit: { id: config.unit.id, name: config.unit.name },
        today,
        door: admin.door.state(),
        counts: {
          granted: store.events.count({ result: 'GRANTED', from, to }),
          denied: store.events.count({ result: 'DENIED', from, to }),
          present: attendance.length,
          late: attendance.filter((a) => a.late).length,
          people: registry.count('ACTIVE'),
        },
        attendance,
        recent: store.events.query({ limit: 10 }),
        camera: { available: (await admin.faces.liveFrame()) !== null },
      };
    },
  );

  app.get<{ Querystring: EventFilter }>(
    '/api/v1/events',
    {
      schema: {
        tags: ['activity'],
        summary: 'Access decisions with reason and scores (newest first; page with beforeSeq)',
        querystring: eventQuery,
        response: { 200: { type: 'object', properties: { events: { type: 'array', items: eventSchema } } }, 400: errorSchema },
      },
    },
    async (req) => ({ events: queryEvents(req.query) }),
  );

  app.get<{ Querystring: EventFilter }>(
    '/api/v1/events.csv',
    {
      schema: { tags: ['activity'], summary: 'The same, as CSV (up to 10 000 rows)', querystring: eventQuery },
    },
    async (req, reply) => {
      const events = queryEvents({ ...req.query, limit: req.query.limit && req.query.limit !== 100 ? req.query.limit : 10_000 });
      admin.audit(req, 'export.events', null, { rows: events.length, ...req.query });
      const csv = toCsv(
        ['time', 'result', 'reason', 'person_id', 'person_name', 'score', 'margin', 'source', 'door', 'event_id'],
        events.map((e) => [e.ts, e.result, e.reason, e.personId, e.personName, e.score, e.margin, e.source, e.door, e.id]),
      );
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="events-${localDay(tz(), admin.now())}.csv"`)
        .send(csv);
    },
  );

  const attendanceQuery = {
    type: 'object',
    additionalProperties: false,
    properties: { from: { type: 'string', pattern: DAY_PATTERN }, to: { type: 'string', pattern: DAY_PATTERN }, personId: { type: 'string', maxLength: 64 } },
  } as const;

  app.get<{ Querystring: { from?: string; to?: string; personId?: string } }>(
    '/api/v1/attendance',
    {
      schema: {
        tags: ['activity'],
        summary: 'Attendance per person and day, with late arrivals',
        querystring: attendanceQuery,
        response: {
          200: {
            type: 'object',
            properties: { shiftStart: { type: 'string' }, graceMinutes: { type: 'integer' }, days: { type: 'array', items: attendanceSchema } },
          },
        },
      },
    },
    async (req) => ({ shiftStart: config.access.attendance.shiftStart, graceMinutes: config.access.attendance.graceMinutes, days: attendanceDays(req.query) }),
  );

  app.get<{ Querystring: { from?: string; to?: string; personId?: string } }>(
    '/api/v1/attendance.csv',
    {
      schema: { tags: ['activity'], summary: 'Attendance as CSV', querystring: attendanceQuery },
    },
    async (req, reply) => {
      const days = attendanceDays(req.query);
      admin.audit(req, 'export.attendance', null, { rows: days.length, ...req.query });
      const csv = toCsv(
        ['day', 'person_id', 'person_name', 'check_in', 'check_out', 'status'],
        days.map((d) => [d.day, d.personId, d.personName, d.checkIn, d.checkOut, d.status]),
      );
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="attendance-${localDay(tz(), admin.now())}.csv"`)
        .send(csv);
    },
  );
}

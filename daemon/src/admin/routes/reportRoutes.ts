import { PassThrough, Readable } from 'node:stream';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { FastifyInstance } from 'fastify';
import { AttendanceReports, addTo, type DaySummary, type TimesheetDay } from '../../reports/attendanceReports.js';
import { DAY_PATTERN, daysBetween, isRealDay, localTime, periodOf, weekdayOf } from '../../time/localTime.js';
import type { AdminContext } from '../adminContext.js';
import { csvCell } from '../csv.js';
import { badRequest, errorSchema } from '../httpErrors.js';

/** The longest period a report or export covers (a year, leap years included). */
const MAX_DAYS = 366;

interface PeriodQuery {
  period?: 'day' | 'week' | 'month' | 'custom';
  day?: string;
  from?: string;
  to?: string;
  personId?: string;
}

const periodQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    period: {
      type: 'string',
      enum: ['day', 'week', 'month', 'custom'],
      default: 'month',
      description: 'day, ISO week (Monday first), calendar month, or custom (from/to)',
    },
    day: { type: 'string', pattern: DAY_PATTERN, description: 'a local day inside the period (default today)' },
    from: { type: 'string', pattern: DAY_PATTERN, description: 'custom: first local day' },
    to: { type: 'string', pattern: DAY_PATTERN, description: 'custom: last local day, inclusive' },
    personId: { type: 'string', minLength: 1, maxLength: 64 },
  },
} as const;

const daysQuery = (def: number, max: number) =>
  ({ type: 'object', additionalProperties: false, properties: { days: { type: 'integer', minimum: 1, maximum: max, default: def } } }) as const;

const open = { type: 'object', additionalProperties: true } as const;

const COLUMNS = [
  'day',
  'weekday',
  'person_id',
  'person_name',
  'scheduled',
  'first_in',
  'last_out',
  'hours_present',
  'no_check_out',
  'still_in',
  'late',
  'late_minutes',
  'absent',
] as const;

/** The timesheet and dashboard endpoints (GET: the viewer role may read them). */
export function reportRoutes(app: FastifyInstance, admin: AdminContext): void {
  const reports = new AttendanceReports({ store: admin.store, people: () => admin.registry.list(), config: admin.config, now: () => admin.now() });
  const tz = () => admin.config.unit.timezone;

  const resolvePeriod = (q: PeriodQuery): { from: string; to: string } => {
    for (const k of ['day', 'from', 'to'] as const) if (q[k] && !isRealDay(q[k]!)) throw badRequest(`${k}: ${q[k]} is not a calendar date (YYYY-MM-DD)`);
    const kind = q.period ?? 'month';
    let r: { from: string; to: string };
    if (kind === 'custom') {
      if (!q.from || !q.to) throw badRequest('period custom needs from and to (YYYY-MM-DD)');
      r = { from: q.from, to: q.to };
    } else r = periodOf(kind, q.day ?? reports.today());
    if (r.from > r.to) throw badRequest('from: must be on or before to');
    if (daysBetween(r.from, r.to).length > MAX_DAYS) throw badRequest(`the period may cover at most ${MAX_DAYS} days`);
    if (q.personId && !admin.registry.get(q.personId)) throw badRequest(`personId: no such person: ${q.personId}`);
    return r;
  };

  const clock = (iso: string | null) => {
    if (!iso) return '';
    const t = localTime(new Date(iso), tz());
    return `${t.date} ${String(Math.floor(t.minutes / 60)).padStart(2, '0')}:${String(t.minutes % 60).padStart(2, '0')}`;
  };
  const cells = (d: TimesheetDay): Array<string | number> => [
    d.day,
    d.weekday,
    d.personId,
    d.personName,
    d.scheduled ? 'yes' : 'no',
    clock(d.firstIn),
    clock(d.lastOut),
    Math.round((d.minutesPresent / 60) * 100) / 100,
    d.missingCheckOut ? 'yes' : 'no',
    d.stillIn ? 'yes' : 'no',
    d.late ? 'yes' : 'no',
    d.lateMinutes,
    d.absent ? 'yes' : 'no',
  ];

  app.get(
    '/api/v1/reports/rules',
    { schema: { tags: ['reports'], summary: 'The punctuality rules reports apply (recomputed for past days)', response: { 200: open } } },
    async () => reports.rules(),
  );

  app.get(
    '/api/v1/reports/checkins-per-hour',
    {
      schema: { tags: ['reports'], summary: "Check-ins per local hour today against the same weekday's average of the last 4 weeks", response: { 200: open } },
    },
    async () => reports.checkInsPerHour(),
  );

  app.get<{ Querystring: { days: number } }>(
    '/api/v1/reports/late-by-day',
    {
      schema: {
        tags: ['reports'],
        summary: 'Late arrivals per local day (current rules)',
        querystring: daysQuery(30, 92),
        response: { 200: open, 400: errorSchema },
      },
    },
    async (req) => ({ rules: reports.rules(), days: reports.lateByDay(req.query.days) }),
  );

  app.get(
    '/api/v1/reports/present',
    { schema: { tags: ['reports'], summary: 'Who is in now: checked in today, not out', response: { 200: open } } },
    async () => {
      const people = reports.presentNow();
      return { day: reports.today(), count: people.length, people };
    },
  );

  app.get<{ Querystring: { days: number } }>(
    '/api/v1/reports/denied-by-reason',
    {
      schema: {
        tags: ['reports'],
        summary: 'Denied attempts by reason per local day',
        querystring: daysQuery(7, 31),
        response: { 200: open, 400: errorSchema },
      },
    },
    async (req) => reports.deniedByReason(req.query.days),
  );

  app.get(
    '/api/v1/reports/recognition-health',
    { schema: { tags: ['reports'], summary: 'Grants and denials per local hour today, median unlock latency', response: { 200: open } } },
    async () => reports.recognitionHealth(),
  );

  app.get<{ Querystring: PeriodQuery }>(
    '/api/v1/reports/timesheet',
    {
      schema: {
        tags: ['reports'],
        summary: 'Timesheet of one person (personId) or everyone for a period, with totals and the per-day summary',
        querystring: periodQuery,
        response: { 200: open, 400: errorSchema },
      },
    },
    async (req) => {
      const period = resolvePeriod(req.query);
      const rules = reports.rules();
      if (req.query.personId) {
        const t = reports.timesheet({ ...period, personId: req.query.personId });
        return { period, rules, person: { id: req.query.personId, name: admin.registry.get(req.query.personId)?.name ?? '' }, ...t };
      }
      return { period, rules, summary: reports.daySummary(period) };
    },
  );

  /** Rows of the export, a batch at a time, yielding to the event loop between batches (the door shares it). */
  async function* batches(
    period: { from: string; to: string },
    personId: string | undefined,
    summary: Map<string, DaySummary>,
    size: number,
  ): AsyncGenerator<TimesheetDay[]> {
    let batch: TimesheetDay[] = [];
    for (const r of reports.timesheetRows({ ...period, personId })) {
      addTo(summary.get(r.day)!, r);
      batch.push(r);
      if (batch.length >= size) {
        yield batch;
        batch = [];
        await yieldToLoop();
      }
    }
    if (batch.length) yield batch;
  }
  const emptySummary = (p: { from: string; to: string }) =>
    new Map<string, DaySummary>(
      daysBetween(p.from, p.to).map((d) => [
        d,
        { day: d, weekday: weekdayOf(d), scheduled: 0, present: 0, late: 0, lateMinutes: 0, absent: 0, missingCheckOuts: 0, minutesPresent: 0 },
      ]),
    );
  const fileName = (p: { from: string; to: string }, ext: string) => `timesheet-${p.from}_${p.to}.${ext}`;

  app.get<{ Querystring: PeriodQuery }>(
    '/api/v1/reports/timesheet.csv',
    { schema: { tags: ['reports'], summary: 'The timesheet as CSV (streamed; each row names the time zone and period)', querystring: periodQuery } },
    async (req, reply) => {
      const period = resolvePeriod(req.query);
      const rules = reports.rules();
      admin.audit(req, 'export.timesheet', null, { format: 'csv', ...period, personId: req.query.personId ?? null });
      const tail = [rules.timeZone, `${period.from}..${period.to}`].map(csvCell).join(',');
      const line = (cols: ReadonlyArray<unknown>) => cols.map(csvCell).join(',');
      async function* csv(): AsyncGenerator<string> {
        yield `${line([...COLUMNS, 'time_zone', 'period'])}\r\n`;
        for await (const b of batches(period, req.query.personId, emptySummary(period), 1000)) yield b.map((d) => `${line(cells(d))},${tail}\r\n`).join('');
      }
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${fileName(period, 'csv')}"`)
        .header('x-export-days', String(daysBetween(period.from, period.to).length))
        .send(Readable.from(csv()));
    },
  );

  app.get<{ Querystring: PeriodQuery }>(
    '/api/v1/reports/timesheet.xlsx',
    {
      schema: {
        tags: ['reports'],
        summary: 'The timesheet as an XLSX workbook (streamed): Timesheet, Summary per day and Rules sheets, with time zone and period',
        querystring: periodQuery,
      },
    },
    async (req, reply) => {
      const period = resolvePeriod(req.query);
      const rules = reports.rules();
      admin.audit(req, 'export.timesheet', null, { format: 'xlsx', ...period, personId: req.query.personId ?? null });
      // Loaded on first use: importing exceljs costs ~0.5 s, on every start otherwise.
      const { default: ExcelJS } = await import('exceljs');
      const out = new PassThrough();
      const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useSharedStrings: false, useStyles: true });
      wb.creator = 'BLINK Edge';
      const heading = [[`Timesheet: ${admin.config.unit.name}`], ['Period', period.from, period.to], ['Time zone', rules.timeZone], []];
      const write = async () => {
        const sheet = wb.addWorksheet('Timesheet');
        for (const r of heading) sheet.addRow(r).commit();
        const head = sheet.addRow([...COLUMNS]);
        head.font = { bold: true };
        head.commit();
        const summary = emptySummary(period);
        // exceljs writes each row synchronously: small batches keep the event loop responsive.
        for await (const b of batches(period, req.query.personId, summary, 100)) for (const d of b) sheet.addRow(cells(d)).commit();
        sheet.commit();
        const sum = wb.addWorksheet('Summary');
        for (const r of heading) sum.addRow(r).commit();
        const sh = sum.addRow(['day', 'weekday', 'scheduled', 'present', 'late', 'late_minutes', 'absent', 'no_check_out', 'hours_present']);
        sh.font = { bold: true };
        sh.commit();
        for (const d of summary.values())
          sum
            .addRow([
              d.day,
              d.weekday,
              d.scheduled,
              d.present,
              d.late,
              d.lateMinutes,
              d.absent,
              d.missingCheckOuts,
              Math.round((d.minutesPresent / 60) * 100) / 100,
            ])
            .commit();
        sum.commit();
        const rs = wb.addWorksheet('Rules');
        for (const r of [
          ['Shift start', rules.shiftStart],
          ['Grace minutes', rules.graceMinutes],
          ['Work days (people without a schedule)', rules.workDays.join(',')],
          ['Punctuality', 'recomputed with the rules above for every day of the report'],
          ['Missing check-out', rules.missingCheckOut],
          ['Time zone', rules.timeZone],
        ])
          rs.addRow(r).commit();
        rs.commit();
        await wb.commit();
      };
      write().catch((err: unknown) => {
        req.log.error({ err }, 'timesheet export failed');
        out.destroy(err as Error);
      });
      return reply
        .type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
        .header('content-disposition', `attachment; filename="${fileName(period, 'xlsx')}"`)
        .header('x-export-days', String(daysBetween(period.from, period.to).length))
        .send(out);
    },
  );
}

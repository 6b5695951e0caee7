import type { Config, WeeklyWindow } from '../config/schema.js';
import type { Person } from '../registry/peopleTable.js';
import type { Store } from '../store/store.js';
import type { AttendanceDaySummary } from '../store/attendanceRepo.js';
import {
  dayRange,
  dayStartIso,
  daysBefore,
  daysBetween,
  hhmmToMinutes,
  localDay,
  localHours,
  localInstantIso,
  nextDay,
  weekdayOf,
  type LocalHour,
  type Weekday,
} from '../time/localTime.js';

/**
 * The attendance dashboard and timesheets, computed from the decisions and attendance rows the
 * store owns, with every local day and hour taken from time/localTime (the unit's zone, DST-correct).
 *
 * Punctuality is recomputed: every report judges a check-in against the rules in force NOW
 * (access.attendance.shiftStart, graceMinutes, workDays), so changing them changes past reports.
 * The status the door stored with the check-in (attendance.status, sent to MQTT and sync) is what
 * it decided at that moment and is not rewritten.
 *
 * Hours present pair the day's first CHECK_IN with its last CHECK_OUT (the attendance model is
 * first in, last out). A day with a check-in and no check-out counts 0 hours and is flagged
 * "no check-out" (nothing is guessed); today, before a check-out, the person is "in".
 */

/** The punctuality rules a report used (shown with every report). */
export interface PunctualityRules {
  shiftStart: string;
  graceMinutes: number;
  workDays: Weekday[];
  /** Always 'recomputed': reports apply the rules above to past days too. */
  mode: 'recomputed';
  missingCheckOut: string;
  timeZone: string;
}

export const MISSING_CHECKOUT_RULE = 'A day with a check-in but no check-out counts 0 hours present and is marked "no check-out"; hours are never guessed.';

export interface HourBucket {
  hour: number;
  label: string;
  today: number;
  usual: number;
}

export interface TimesheetDay {
  day: string;
  weekday: Weekday;
  personId: string;
  personName: string;
  scheduled: boolean;
  firstIn: string | null;
  lastOut: string | null;
  minutesPresent: number;
  missingCheckOut: boolean;
  /** Checked in today and not out yet (hours are counted at check-out). */
  stillIn: boolean;
  late: boolean;
  lateMinutes: number;
  absent: boolean;
}

export interface TimesheetTotals {
  daysPresent: number;
  minutesPresent: number;
  lateCount: number;
  lateMinutes: number;
  absences: number;
  missingCheckOuts: number;
  scheduledDays: number;
}

export interface DaySummary {
  day: string;
  weekday: Weekday;
  scheduled: number;
  present: number;
  late: number;
  lateMinutes: number;
  absent: number;
  missingCheckOuts: number;
  minutesPresent: number;
}

const WEEKDAYS: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Index of the bucket holding `ts` (ISO strings compare as instants), or -1. */
function bucketOf(hours: readonly LocalHour[], ts: string): number {
  let lo = 0;
  let hi = hours.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const h = hours[mid]!;
    if (ts < h.from) hi = mid - 1;
    else if (ts >= h.to) lo = mid + 1;
    else return mid;
  }
  return -1;
}

function hourLabel(hours: readonly LocalHour[], i: number): string {
  const h = hours[i]!;
  const repeated = hours.some((o, j) => j !== i && o.hour === h.hour);
  const base = `${String(h.hour).padStart(2, '0')}:00`;
  return repeated ? `${base} (${hours.findIndex((o) => o.hour === h.hour) === i ? '1st' : '2nd'})` : base;
}

export class AttendanceReports {
  constructor(
    private readonly deps: {
      store: Store;
      /** Everyone the reports cover, with status, schedule and validity (only ACTIVE people are expected at work). */
      people: () => Person[];
      config: Config;
      now: () => Date;
    },
  ) {}

  private get tz(): string {
    return this.deps.config.unit.timezone;
  }

  rules(): PunctualityRules {
    const a = this.deps.config.access.attendance;
    return {
      shiftStart: a.shiftStart,
      graceMinutes: a.graceMinutes,
      workDays: a.workDays.split(',') as Weekday[],
      mode: 'recomputed',
      missingCheckOut: MISSING_CHECKOUT_RULE,
      timeZone: this.tz || Intl.DateTimeFormat().resolvedOptions().timeZone,
    };
  }

  today(): string {
    return localDay(this.tz, this.deps.now());
  }

  /** The instants that decide punctuality on `day`: work start and the first late instant (a minute past start + grace). */
  private dayLimits(day: string): { day: string; start: string; lateFrom: string } {
    const a = this.deps.config.access.attendance;
    const start = hhmmToMinutes(a.shiftStart);
    return { day, start: localInstantIso(this.tz, day, start), lateFrom: localInstantIso(this.tz, day, start + a.graceMinutes + 1) };
  }

  /** Check-ins per local hour today against the same weekday's average over the previous 4 weeks. */
  checkInsPerHour(): { day: string; comparedWith: string[]; hours: HourBucket[] } {
    const day = this.today();
    const past = [7, 14, 21, 28].map((n) => daysBefore(day, n));
    const hours = localHours(this.tz, day);
    const rows = this.deps.store.attendance.checkInTimes([day, ...past]);
    const todayCounts = new Array<number>(hours.length).fill(0);
    const usual = new Map<number, number>(); // by clock hour
    const pastHours = new Map(past.map((d) => [d, localHours(this.tz, d)]));
    for (const r of rows) {
      if (r.day === day) {
        const i = bucketOf(hours, r.ts);
        if (i >= 0) todayCounts[i]!++;
      } else {
        const ph = pastHours.get(r.day);
        const i = ph ? bucketOf(ph, r.ts) : -1;
        if (i >= 0) usual.set(ph![i]!.hour, (usual.get(ph![i]!.hour) ?? 0) + 1);
      }
    }
    const seen = new Set<number>();
    return {
      day,
      comparedWith: past,
      hours: hours.map((h, i) => {
        // A repeated clock hour (DST fall-back) shows the usual count once.
        const u = seen.has(h.hour) ? 0 : (usual.get(h.hour) ?? 0) / past.length;
        seen.add(h.hour);
        return { hour: h.hour, label: hourLabel(hours, i), today: todayCounts[i]!, usual: Math.round(u * 100) / 100 };
      }),
    };
  }

  /** Late arrivals per local day over the last `days` days (today included), judged by the current rules. */
  lateByDay(days = 30): Array<{ day: string; checkIns: number; late: number; lateMinutes: number }> {
    const last = this.today();
    const list = daysBetween(daysBefore(last, days - 1), last).map((d) => this.dayLimits(d));
    return this.deps.store.attendance.lateByDay(list);
  }

  /** Who is in now: checked in today, not checked out. */
  presentNow(): Array<{ personId: string; personName: string; checkIn: string }> {
    const rows = this.deps.store.attendance.checkedInNotOut(this.today());
    const names = new Map(this.deps.people().map((p) => [p.id, p.name]));
    return rows.map((r) => ({ ...r, personName: names.get(r.personId) ?? '' }));
  }

  /** Denied attempts by reason for each of the last `days` local days. */
  deniedByReason(days = 7): { days: string[]; reasons: Array<{ reason: string; perDay: number[]; total: number }> } {
    const last = this.today();
    const list = daysBetween(daysBefore(last, days - 1), last);
    const starts = list.map((d) => dayStartIso(this.tz, d));
    const end = dayStartIso(this.tz, nextDay(last));
    const byReason = new Map<string, number[]>();
    for (const r of this.deps.store.events.deniedBetween(starts[0]!, end)) {
      let i = starts.length - 1;
      while (i > 0 && r.ts < starts[i]!) i--;
      const a = byReason.get(r.reason) ?? new Array<number>(list.length).fill(0);
      a[i]!++;
      byReason.set(r.reason, a);
    }
    const reasons = [...byReason.entries()]
      .map(([reason, perDay]) => ({ reason, perDay, total: perDay.reduce((s, n) => s + n, 0) }))
      .sort((a, b) => b.total - a.total || a.reason.localeCompare(b.reason));
    return { days: list, reasons };
  }

  /** Grants and denials per local hour today, and the median unlock latency (camera grants) per hour and for the day. */
  recognitionHealth(): {
    day: string;
    hours: Array<{ hour: number; label: string; granted: number; denied: number; medianLatencyMs: number | null }>;
    medianLatencyMs: number | null;
    granted: number;
    denied: number;
  } {
    const day = this.today();
    const hours = localHours(this.tz, day);
    const { from, to } = dayRange(this.tz, day);
    const granted = new Array<number>(hours.length).fill(0);
    const denied = new Array<number>(hours.length).fill(0);
    const lat: number[][] = hours.map(() => []);
    const all: number[] = [];
    for (const e of this.deps.store.events.decisionsBetween(from, to)) {
      const i = bucketOf(hours, e.ts);
      if (i < 0) continue;
      if (e.result === 'GRANTED') granted[i]!++;
      else denied[i]!++;
      if (e.result === 'GRANTED' && e.source === 'camera' && typeof e.latencyMs === 'number') {
        lat[i]!.push(e.latencyMs);
        all.push(e.latencyMs);
      }
    }
    return {
      day,
      hours: hours.map((h, i) => ({ hour: h.hour, label: hourLabel(hours, i), granted: granted[i]!, denied: denied[i]!, medianLatencyMs: median(lat[i]!) })),
      medianLatencyMs: median(all),
      granted: granted.reduce((s, n) => s + n, 0),
      denied: denied.reduce((s, n) => s + n, 0),
    };
  }

  private scheduledOn(p: Person, day: string, wd: Weekday, workDays: ReadonlySet<Weekday>): boolean {
    if (p.status !== 'ACTIVE') return false;
    if (p.validFrom && day < p.validFrom) return false;
    if (p.validUntil && day > p.validUntil) return false;
    const s: WeeklyWindow[] | null = p.schedule;
    return s && s.length > 0 ? s.some((w) => w.days.includes(wd)) : workDays.has(wd);
  }

  /**
   * Timesheet rows for [from, to], in day then person order: every day a person has attendance
   * or was scheduled (an absence when they did not come; days after today are never absences,
   * and today only once it is over). Iterated a week of days at a time, so an export of a year
   * at a large site streams. `personId` narrows it to one person.
   */
  *timesheetRows(q: { from: string; to: string; personId?: string }): Generator<TimesheetDay> {
    const people = this.deps.people().filter((p) => !q.personId || p.id === q.personId);
    const byId = new Map(people.map((p) => [p.id, p]));
    const rules = this.rules();
    const workDays = new Set(rules.workDays);
    const today = this.today();
    const days = daysBetween(q.from, q.to);
    for (let c = 0; c < days.length; c += 7) {
      const chunk = days.slice(c, c + 7);
      const limits = new Map(chunk.map((d) => [d, this.dayLimits(d)]));
      const byDay = new Map<string, Map<string, AttendanceDaySummary>>(chunk.map((d) => [d, new Map()]));
      for (const s of this.deps.store.attendance.daySummaries({ from: chunk[0]!, to: chunk.at(-1)!, personId: q.personId })) {
        byDay.get(s.day)?.set(s.personId, s);
      }
      for (const day of chunk) {
        const wd = weekdayOf(day);
        const lim = limits.get(day)!;
        const summaries = byDay.get(day)!;
        for (const p of people) {
          const s = summaries.get(p.id);
          const scheduled = this.scheduledOn(p, day, wd, workDays);
          if (!s && !scheduled) continue;
          yield this.row(day, wd, p, s, scheduled, lim, today);
        }
        // Attendance of someone no longer in the people list (erased since): still on the timesheet.
        for (const s of summaries.values()) if (!byId.has(s.personId)) yield this.row(day, wd, { id: s.personId, name: '' }, s, false, lim, today);
      }
    }
  }

  private row(
    day: string,
    wd: Weekday,
    p: Pick<Person, 'id' | 'name'>,
    s: AttendanceDaySummary | undefined,
    scheduled: boolean,
    lim: { start: string; lateFrom: string },
    today: string,
  ): TimesheetDay {
    const firstIn = s?.checkIn ?? null;
    const lastOut = s?.checkOut && firstIn && s.checkOut > firstIn ? s.checkOut : null;
    const late = firstIn !== null && firstIn >= lim.lateFrom;
    return {
      day,
      weekday: wd,
      personId: p.id,
      personName: p.name,
      scheduled,
      firstIn,
      lastOut,
      minutesPresent: firstIn && lastOut ? Math.floor((Date.parse(lastOut) - Date.parse(firstIn)) / 60_000) : 0,
      missingCheckOut: firstIn !== null && lastOut === null && day < today,
      stillIn: firstIn !== null && lastOut === null && day === today,
      late,
      lateMinutes: late ? Math.floor((Date.parse(firstIn) - Date.parse(lim.start)) / 60_000) : 0,
      absent: scheduled && firstIn === null && day < today,
    };
  }

  /** One person's timesheet for a period, with totals. */
  timesheet(q: { from: string; to: string; personId: string }): { days: TimesheetDay[]; totals: TimesheetTotals } {
    const days = [...this.timesheetRows(q)];
    return { days, totals: totalsOf(days) };
  }

  /** Per-day summary for everyone over a period. */
  daySummary(q: { from: string; to: string }): DaySummary[] {
    const out = new Map<string, DaySummary>(
      daysBetween(q.from, q.to).map((d) => [
        d,
        { day: d, weekday: weekdayOf(d), scheduled: 0, present: 0, late: 0, lateMinutes: 0, absent: 0, missingCheckOuts: 0, minutesPresent: 0 },
      ]),
    );
    for (const r of this.timesheetRows(q)) addTo(out.get(r.day)!, r);
    return [...out.values()];
  }
}

export function addTo(d: DaySummary, r: TimesheetDay): void {
  if (r.scheduled) d.scheduled++;
  if (r.firstIn) d.present++;
  if (r.late) d.late++;
  d.lateMinutes += r.lateMinutes;
  if (r.absent) d.absent++;
  if (r.missingCheckOut) d.missingCheckOuts++;
  d.minutesPresent += r.minutesPresent;
}

export function totalsOf(days: readonly TimesheetDay[]): TimesheetTotals {
  const t: TimesheetTotals = { daysPresent: 0, minutesPresent: 0, lateCount: 0, lateMinutes: 0, absences: 0, missingCheckOuts: 0, scheduledDays: 0 };
  for (const d of days) {
    if (d.firstIn) t.daysPresent++;
    t.minutesPresent += d.minutesPresent;
    if (d.late) t.lateCount++;
    t.lateMinutes += d.lateMinutes;
    if (d.absent) t.absences++;
    if (d.missingCheckOut) t.missingCheckOuts++;
    if (d.scheduled) t.scheduledDays++;
  }
  return t;
}

export { WEEKDAYS };

import { DateTime, IANAZone } from 'luxon';

/**
 * The unit's local calendar, in its IANA zone (config unit.timezone; '' = the system zone).
 * The one owner of "which local day is this instant in" and "when did that day begin": the door's
 * schedules and attendance, the admin's "today" and date filters, and MQTT's retained stats all
 * ask this module, so a DST day has one answer everywhere. Zone arithmetic is luxon's.
 */

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

/** Local calendar date and time of day. */
export interface LocalTime {
  /** YYYY-MM-DD */
  date: string;
  weekday: Weekday;
  /** Minutes since local midnight. */
  minutes: number;
}

const WEEKDAYS: readonly Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/** A YYYY-MM-DD local day as a string pattern (for request schemas). */
export const DAY_PATTERN = '^\\d{4}-\\d{2}-\\d{2}$';

function zone(timeZone: string): string {
  return timeZone || 'system';
}

/** Is `timeZone` a zone this unit can compute in ('' = the system zone)? */
export function isValidTimeZone(timeZone: string): boolean {
  return timeZone === '' || IANAZone.isValidZone(timeZone);
}

/** The instant as a luxon DateTime in the zone. */
function inZone(at: Date, timeZone: string): DateTime {
  return DateTime.fromJSDate(at, { zone: zone(timeZone) });
}

export function localTime(at: Date, timeZone: string): LocalTime {
  const t = inZone(at, timeZone);
  return { date: t.toISODate() as string, weekday: WEEKDAYS[t.weekday - 1]!, minutes: t.hour * 60 + t.minute };
}

/** YYYY-MM-DD of the instant in the zone. */
export function localDay(timeZone: string, at: Date = new Date()): string {
  return inZone(at, timeZone).toISODate() as string;
}

/** The UTC instant (ISO) at which the local day begins (23:00Z the day before for Berlin in winter, 22:00Z in summer). */
export function dayStartIso(timeZone: string, day: string): string {
  const t = DateTime.fromISO(day, { zone: zone(timeZone) }).startOf('day');
  if (!t.isValid) throw new Error(`not a calendar day: ${day}`);
  return t.toUTC().toISO() as string;
}

/** [start, end) of a local day as UTC ISO instants; a DST day is 23 or 25 hours long. */
export function dayRange(timeZone: string, day: string): { from: string; to: string } {
  return { from: dayStartIso(timeZone, day), to: dayStartIso(timeZone, nextDay(day)) };
}

/** The local day of `now` and the instant it began. */
export function today(timeZone: string, now: Date = new Date()): { day: string; startIso: string } {
  const day = localDay(timeZone, now);
  return { day, startIso: dayStartIso(timeZone, day) };
}

/** The calendar day after `day` (YYYY-MM-DD; calendar arithmetic, no zone involved). */
export function nextDay(day: string): string {
  return DateTime.fromISO(day, { zone: 'utc' }).plus({ days: 1 }).toISODate() as string;
}

/** True when the YYYY-MM-DD string is a real calendar day (2026-02-30 is not). */
export function isRealDay(day: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(day) && DateTime.fromISO(day, { zone: 'utc' }).isValid;
}

/** "HH:MM" → minutes since midnight. */
export function hhmmToMinutes(hhmm: string): number {
  const [h, m] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

/** The weekday before `d` (for schedule windows that run past midnight). */
export function previousWeekday(d: Weekday): Weekday {
  return WEEKDAYS[(WEEKDAYS.indexOf(d) + 6) % 7]!;
}

/** The UTC instant (ISO) of local wall-clock time `minutes` after midnight on `day` (a time skipped by DST moves forward, as luxon does). */
export function localInstantIso(timeZone: string, day: string, minutes: number): string {
  const t = DateTime.fromISO(day, { zone: zone(timeZone) })
    .startOf('day')
    .set({ hour: Math.floor(minutes / 60), minute: minutes % 60 });
  if (!t.isValid) throw new Error(`not a calendar day: ${day}`);
  return t.toUTC().toISO() as string;
}

/** A local hour of a day: the clock hour (0-23) and the UTC instants [from, to) it covers. */
export interface LocalHour {
  hour: number;
  from: string;
  to: string;
}

/**
 * The real hours of a local day, in order: 24, or 23 on the spring-forward day (the skipped clock
 * hour is absent) and 25 on the fall-back day (the repeated clock hour appears twice).
 */
export function localHours(timeZone: string, day: string): LocalHour[] {
  const end = DateTime.fromISO(dayStartIso(timeZone, nextDay(day)), { zone: zone(timeZone) });
  const out: LocalHour[] = [];
  for (let t = DateTime.fromISO(dayStartIso(timeZone, day), { zone: zone(timeZone) }); t < end;) {
    const next = t.plus({ hours: 1 });
    out.push({ hour: t.hour, from: t.toUTC().toISO() as string, to: (next < end ? next : end).toUTC().toISO() as string });
    t = next;
  }
  return out;
}

/** The calendar day `n` days before `day` (negative n: after). */
export function daysBefore(day: string, n: number): string {
  return DateTime.fromISO(day, { zone: 'utc' }).minus({ days: n }).toISODate() as string;
}

/** The weekday of a calendar day. */
export function weekdayOf(day: string): Weekday {
  return WEEKDAYS[DateTime.fromISO(day, { zone: 'utc' }).weekday - 1]!;
}

/** Every calendar day from `from` to `to`, both included. */
export function daysBetween(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to; d = nextDay(d)) out.push(d);
  return out;
}

/** The local day period containing `day`: the ISO week (Monday first) or the calendar month. */
export function periodOf(kind: 'day' | 'week' | 'month', day: string): { from: string; to: string } {
  const t = DateTime.fromISO(day, { zone: 'utc' });
  if (kind === 'day') return { from: day, to: day };
  const unit = kind === 'week' ? 'week' : 'month';
  return { from: t.startOf(unit).toISODate() as string, to: t.endOf(unit).toISODate() as string };
}

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

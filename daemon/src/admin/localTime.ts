/** Local-day arithmetic in the unit's time zone (empty = the system zone), for "today" and date filters. */

function zoneOf(tz: string): string | undefined {
  return tz || undefined;
}

/** YYYY-MM-DD of the instant in the zone. */
export function localDay(tz: string, at: Date = new Date()): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: zoneOf(tz), year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(at);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** Offset of the zone from UTC at the instant, in minutes (east positive). */
function offsetMinutes(tz: string, at: Date): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zoneOf(tz),
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(at);
  const n = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  const asUtc = Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second'));
  return Math.round((asUtc - Math.floor(at.getTime() / 1000) * 1000) / 60_000);
}

/** The UTC instant (ISO) at which the local day starts. */
export function dayStartIso(tz: string, day: string): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const guess = new Date(Date.UTC(y, m - 1, d));
  const first = new Date(guess.getTime() - offsetMinutes(tz, guess) * 60_000);
  // Re-check at the candidate (the offset may differ across a DST change).
  return new Date(guess.getTime() - offsetMinutes(tz, first) * 60_000).toISOString();
}

export function nextDay(day: string): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

export const DAY_PATTERN = '^\\d{4}-\\d{2}-\\d{2}$';

/** True when the YYYY-MM-DD string is a real calendar day (2026-02-30 is not). */
export function isRealDay(day: string): boolean {
  const t = Date.parse(`${day}T00:00:00Z`);
  return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === day;
}

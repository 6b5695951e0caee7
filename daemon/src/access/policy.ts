import type { WeeklyWindow } from '../config/schema.js';
import type { Person } from '../registry/peopleRegistry.js';
import { hhmmToMinutes, localTime, previousWeekday, type LocalTime } from '../time/localTime.js';
import type { DenyReason } from './reasons.js';

/**
 * Is `t` inside one of the weekly windows? A window whose end is before its start runs
 * past midnight (e.g. fri 22:00–06:00 covers Friday night and Saturday morning).
 * The end minute is exclusive.
 */
export function inSchedule(windows: readonly WeeklyWindow[], t: LocalTime): boolean {
  for (const w of windows) {
    const start = hhmmToMinutes(w.start);
    const end = hhmmToMinutes(w.end);
    if (start <= end) {
      if (w.days.includes(t.weekday) && t.minutes >= start && t.minutes < end) return true;
    } else {
      if (w.days.includes(t.weekday) && t.minutes >= start) return true;
      const yesterday = previousWeekday(t.weekday);
      if (w.days.includes(yesterday) && t.minutes < end) return true;
    }
  }
  return false;
}

/** valid_from / valid_until are inclusive local dates (YYYY-MM-DD); a full ISO timestamp is cut to its date. */
export function inValidity(person: Pick<Person, 'validFrom' | 'validUntil'>, t: LocalTime): boolean {
  const from = person.validFrom?.slice(0, 10);
  const until = person.validUntil?.slice(0, 10);
  if (from && t.date < from) return false;
  if (until && t.date > until) return false;
  return true;
}

/**
 * The access policy for a recognised, live person: null = allowed, else the deny reason.
 * Order: lockdown, deactivated, validity, schedule (the first that applies is reported).
 */
export function evaluatePolicy(person: Person | undefined, at: Date, o: { timeZone: string; lockdown: boolean }): DenyReason | null {
  if (o.lockdown) return 'lockdown';
  if (!person) return 'unknown'; // removed between the gallery load and now
  if (person.status !== 'ACTIVE') return 'deactivated';
  const t = localTime(at, o.timeZone);
  if (!inValidity(person, t)) return 'outside_validity';
  if (person.schedule && person.schedule.length > 0 && !inSchedule(person.schedule, t)) return 'outside_schedule';
  return null;
}

import type { Config } from '../config/schema.js';
import type { AttendanceKind, AttendanceRecord, AttendanceStatus } from '../store/attendanceRepo.js';
import { hhmmToMinutes, localTime } from '../time/localTime.js';

export interface AttendanceEntry {
  day: string;
  kind: AttendanceKind;
  status: AttendanceStatus | null;
}

/**
 * Attendance from grants, as the original Python system recorded it: the first grant of a
 * person's local day is CHECK_IN, ON_TIME up to shiftStart + graceMinutes and LATE after;
 * a later grant at least minCheckoutGapMinutes after that person's previous attendance row
 * is a CHECK_OUT (the day's last CHECK_OUT is the time they left). Grants closer together
 * record nothing (walking in and out for coffee is not attendance).
 */
export function attendanceFor(
  at: Date,
  earlierToday: readonly Pick<AttendanceRecord, 'kind' | 'ts'>[],
  o: { timeZone: string; attendance: Config['access']['attendance'] },
): AttendanceEntry | null {
  if (!o.attendance.enabled) return null;
  const t = localTime(at, o.timeZone);
  if (earlierToday.length === 0) {
    const limit = hhmmToMinutes(o.attendance.shiftStart) + o.attendance.graceMinutes;
    return { day: t.date, kind: 'CHECK_IN', status: t.minutes <= limit ? 'ON_TIME' : 'LATE' };
  }
  const last = earlierToday.reduce((a, b) => (a.ts > b.ts ? a : b));
  const gapMin = (at.getTime() - Date.parse(last.ts)) / 60_000;
  if (gapMin < o.attendance.minCheckoutGapMinutes) return null;
  return { day: t.date, kind: 'CHECK_OUT', status: null };
}

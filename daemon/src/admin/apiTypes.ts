/**
 * The JSON the admin API answers with, as TypeScript types: the routes build these and the web
 * admin (web-admin/src) imports them (type-only, nothing reaches the browser bundle), so the two
 * sides cannot drift apart.
 */
import type { DoorState } from '../events.js';
import type { SettingView } from '../config/unitSettings.js';
import type { PersonRow } from '../registry/peopleRegistry.js';
import type { AccessEvent } from '../store/eventsRepo.js';
import type { LiveFace } from './faceServices.js';
import type { AdminRole } from './usersRepo.js';
export type { PunctualityRules };
import type { AttendanceReports, DaySummary, PunctualityRules, TimesheetDay, TimesheetTotals } from '../reports/attendanceReports.js';

/** GET /api/v1/auth/state and the answers of setup and login. */
export interface MeJson {
  setupRequired: boolean;
  user: { id: number; username: string; role: AdminRole } | null;
  csrfToken: string | null;
  unit: { id: string; name: string };
  idleMinutes: number;
}

/** A person as the people pages show them. */
export type PersonJson = PersonRow;

/** GET /api/v1/people: one page in name order. */
export interface PeoplePageJson {
  items: PersonJson[];
  total: number;
  offset: number;
  limit: number;
  nextCursor: string | null;
  prevCursor: string | null;
}

/** One access decision (GET /api/v1/events, the dashboard's recent list). */
export type AccessEventJson = AccessEvent;

/** One row per person and day: the first check-in (on time or late) and the last check-out. */
export interface AttendanceDayJson {
  day: string;
  personId: string;
  personName: string;
  checkIn: string | null;
  checkOut: string | null;
  status: string | null;
  late: boolean;
}

/** GET /api/v1/dashboard. */
export interface DashboardJson {
  unit: { id: string; name: string };
  today: string;
  door: DoorState;
  counts: { granted: number; denied: number; present: number; late: number; people: number };
  attendance: AttendanceDayJson[];
  recent: AccessEventJson[];
  camera: { available: boolean };
}

/** GET /api/v1/settings: one editable setting (secrets only as set / not set). */
export type SettingJson = SettingView;

/** The X-Frame-Meta header of /api/v1/live/frame and /live/assess. */
export interface FrameMetaJson {
  seq: number;
  capturedAt: number;
  width: number;
  height: number;
  /** False when the frame came without face analysis (no boxes). */
  analysed: boolean;
  faces: LiveFace[];
}

/** GET /api/v1/reports/checkins-per-hour. */
export type CheckInsPerHourJson = ReturnType<AttendanceReports['checkInsPerHour']>;
/** GET /api/v1/reports/late-by-day. */
export interface LateByDayJson {
  rules: PunctualityRules;
  days: ReturnType<AttendanceReports['lateByDay']>;
}
/** GET /api/v1/reports/present. */
export interface PresentJson {
  day: string;
  count: number;
  people: ReturnType<AttendanceReports['presentNow']>;
}
/** GET /api/v1/reports/denied-by-reason. */
export type DeniedByReasonJson = ReturnType<AttendanceReports['deniedByReason']>;
/** GET /api/v1/reports/recognition-health. */
export type RecognitionHealthJson = ReturnType<AttendanceReports['recognitionHealth']>;
/** GET /api/v1/reports/timesheet: one person (days, totals) or everyone (summary). */
export interface TimesheetJson {
  period: { from: string; to: string };
  rules: PunctualityRules;
  person?: { id: string; name: string };
  days?: TimesheetDay[];
  totals?: TimesheetTotals;
  summary?: DaySummary[];
}

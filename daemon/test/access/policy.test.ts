import { describe, expect, it } from 'vitest';
import { evaluatePolicy, inSchedule, inValidity } from '../../src/access/policy.js';
import { attendanceFor } from '../../src/access/attendance.js';
import { localTime } from '../../src/time/localTime.js';
import { parseConfig } from '../../src/config/load.js';
import type { Person } from '../../src/registry/peopleRegistry.js';

const person = (p: Partial<Person> = {}): Person => ({
  id: 'p1',
  externalId: null,
  name: 'Ada',
  status: 'ACTIVE',
  validFrom: null,
  validUntil: null,
  schedule: null,
  notes: null,
  createdAt: '2026-01-01T00:00:00Z',
  updatedAt: '2026-01-01T00:00:00Z',
  ...p,
});

describe('schedules and validity', () => {
  it('local time follows unit.timezone', () => {
    const at = new Date('2026-03-02T23:30:00Z'); // Monday 23:30 UTC
    expect(localTime(at, 'UTC')).toEqual({ date: '2026-03-02', weekday: 'mon', minutes: 23 * 60 + 30 });
    expect(localTime(at, 'Europe/Berlin')).toEqual({ date: '2026-03-03', weekday: 'tue', minutes: 30 });
    expect(localTime(at, 'America/New_York')).toEqual({ date: '2026-03-02', weekday: 'mon', minutes: 18 * 60 + 30 });
  });

  it('weekly windows, end exclusive, and windows past midnight', () => {
    const office = [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'] as const, start: '08:00', end: '18:00' }].map((w) => ({ ...w, days: [...w.days] }));
    expect(inSchedule(office, { date: '2026-03-02', weekday: 'mon', minutes: 8 * 60 })).toBe(true);
    expect(inSchedule(office, { date: '2026-03-02', weekday: 'mon', minutes: 18 * 60 })).toBe(false);
    expect(inSchedule(office, { date: '2026-03-07', weekday: 'sat', minutes: 10 * 60 })).toBe(false);
    const night = [{ days: ['fri' as const], start: '22:00', end: '06:00' }];
    expect(inSchedule(night, { date: '2026-03-06', weekday: 'fri', minutes: 23 * 60 })).toBe(true);
    expect(inSchedule(night, { date: '2026-03-07', weekday: 'sat', minutes: 5 * 60 })).toBe(true);
    expect(inSchedule(night, { date: '2026-03-07', weekday: 'sat', minutes: 6 * 60 })).toBe(false);
    expect(inSchedule(night, { date: '2026-03-06', weekday: 'fri', minutes: 5 * 60 })).toBe(false);
  });

  it('validity dates are inclusive local dates', () => {
    const p = person({ validFrom: '2026-03-01', validUntil: '2026-03-31' });
    expect(inValidity(p, { date: '2026-03-01', weekday: 'sun', minutes: 0 })).toBe(true);
    expect(inValidity(p, { date: '2026-03-31', weekday: 'tue', minutes: 1439 })).toBe(true);
    expect(inValidity(p, { date: '2026-02-28', weekday: 'sat', minutes: 0 })).toBe(false);
    expect(inValidity(p, { date: '2026-04-01', weekday: 'wed', minutes: 0 })).toBe(false);
  });

  it('policy order: lockdown, deactivated, validity, schedule; null = allowed', () => {
    const at = new Date('2026-03-07T10:00:00Z'); // Saturday
    const o = { timeZone: 'UTC', lockdown: false };
    expect(evaluatePolicy(person(), at, o)).toBeNull();
    expect(evaluatePolicy(person(), at, { ...o, lockdown: true })).toBe('lockdown');
    expect(evaluatePolicy(person({ status: 'DEACTIVATED', validUntil: '2020-01-01' }), at, o)).toBe('deactivated');
    expect(evaluatePolicy(person({ validUntil: '2026-03-06' }), at, o)).toBe('outside_validity');
    expect(evaluatePolicy(person({ validFrom: '2026-03-08' }), at, o)).toBe('outside_validity');
    expect(evaluatePolicy(person({ schedule: [{ days: ['mon'], start: '00:00', end: '23:59' }] }), at, o)).toBe('outside_schedule');
    expect(evaluatePolicy(person({ schedule: [{ days: ['sat'], start: '09:00', end: '11:00' }] }), at, o)).toBeNull();
    expect(evaluatePolicy(undefined, at, o)).toBe('unknown');
  });
});

describe('attendance from grants', () => {
  const attendance = parseConfig({ access: { attendance: { shiftStart: '09:00', graceMinutes: 10, minCheckoutGapMinutes: 60 } } }, 't').access.attendance;
  const o = { timeZone: 'Europe/Berlin', attendance };

  it('first grant of the local day is CHECK_IN, ON_TIME up to shiftStart + grace, LATE after', () => {
    expect(attendanceFor(new Date('2026-03-02T08:10:00Z'), [], o)).toEqual({ day: '2026-03-02', kind: 'CHECK_IN', status: 'ON_TIME' }); // 09:10 Berlin
    expect(attendanceFor(new Date('2026-03-02T08:11:00Z'), [], o)).toEqual({ day: '2026-03-02', kind: 'CHECK_IN', status: 'LATE' });
    // 23:30 UTC on the 2nd is already the 3rd in Berlin
    expect(attendanceFor(new Date('2026-03-02T23:30:00Z'), [], o)).toMatchObject({ day: '2026-03-03', kind: 'CHECK_IN', status: 'ON_TIME' });
  });

  it('a later grant is CHECK_OUT only after the minimum gap; disabled attendance records nothing', () => {
    const checkIn = [{ kind: 'CHECK_IN' as const, ts: '2026-03-02T08:00:00.000Z' }];
    expect(attendanceFor(new Date('2026-03-02T08:30:00Z'), checkIn, o)).toBeNull();
    expect(attendanceFor(new Date('2026-03-02T16:00:00Z'), checkIn, o)).toEqual({ day: '2026-03-02', kind: 'CHECK_OUT', status: null });
    const withOut = [...checkIn, { kind: 'CHECK_OUT' as const, ts: '2026-03-02T16:00:00.000Z' }];
    expect(attendanceFor(new Date('2026-03-02T16:20:00Z'), withOut, o)).toBeNull();
    expect(attendanceFor(new Date('2026-03-02T08:00:00Z'), [], { ...o, attendance: { ...attendance, enabled: false } })).toBeNull();
  });
});

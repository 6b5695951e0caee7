import type { ActiveAlarm } from '../alarms/alarmRegistry.js';
import type { AlarmEvent, DoorState } from '../events.js';
import type { AccessEvent } from '../store/eventsRepo.js';

/**
 * The JSON published on each topic (documented with examples in docs/MQTT.md). Field
 * names are stable: fleet tools and Home Assistant templates depend on them.
 */

/** `<base>/access`: one decision. `id` is the event's uuid, the key for de-duplication. */
export function accessPayload(e: AccessEvent, unit: string): string {
  return JSON.stringify({
    event_type: e.result === 'GRANTED' ? 'granted' : 'denied',
    id: e.id,
    seq: e.seq,
    ts: e.ts,
    unit,
    door: e.door,
    result: e.result,
    reason: e.reason,
    personId: e.personId,
    personName: e.personName,
    score: e.score,
    margin: e.margin,
    liveness: e.liveness,
    source: e.source,
    trackId: e.trackId,
  });
}

/** `<base>/door/state` (retained). */
export function doorStatePayload(s: DoorState): string {
  return JSON.stringify({
    contact: s.contact,
    open: s.contact === null ? null : s.contact === 'open',
    relay: s.relay,
    mode: s.mode,
    unlockReason: s.unlockReason,
    changedAt: s.changedAt,
  });
}

/** `<base>/lock/state` (retained): the relay as a Home Assistant lock sees it. */
export function lockStatePayload(s: DoorState): string {
  return s.relay === 'on' ? 'UNLOCKED' : 'LOCKED';
}

/** `<base>/alarm`: one alarm raised (`active: true`) or cleared. */
export function alarmPayload(a: AlarmEvent, unit: string): string {
  return JSON.stringify({ type: a.type, active: a.active, ts: a.ts, since: a.since, reason: a.reason, unit, details: a.details ?? null });
}

/** `<base>/alarm/state` (retained): which alarms are active now, since when and why. */
export function alarmStatePayload(active: readonly ActiveAlarm[], ts: string): string {
  const alarms = [...active].sort((a, b) => a.type.localeCompare(b.type));
  return JSON.stringify({ active: alarms.map((a) => a.type), alarms: alarms.map((a) => ({ type: a.type, since: a.since, reason: a.reason })), ts });
}

export interface StatsSnapshot {
  day: string;
  granted: number;
  denied: number;
  lastPerson: { id: string | null; name: string | null; ts: string } | null;
  last: { id: string; result: string; reason: string; personName: string | null; ts: string } | null;
}

/** `<base>/stats` (retained): today's counts and the last person granted. */
export function statsPayload(s: StatsSnapshot, ts: string): string {
  return JSON.stringify({ ts, today: { day: s.day, granted: s.granted, denied: s.denied }, lastPerson: s.lastPerson, last: s.last });
}

import type { Config } from '../config/schema.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logging.js';
import type { AttendanceRecord } from '../store/attendanceRepo.js';
import type { AccessEvent, NewAccessEvent } from '../store/eventsRepo.js';
import type { Store } from '../store/store.js';
import { attendanceFor } from './attendance.js';
import { localTime } from '../time/localTime.js';

export interface RecordedDecision {
  event: AccessEvent;
  attendance: AttendanceRecord | null;
}

/**
 * The one function that records a decision: the access_events row and, for a granted
 * person, its attendance row, in ONE transaction (synchronous=FULL: durable when this
 * returns). Only then are 'access.decided' and 'attendance.recorded' emitted, so nothing
 * downstream (MQTT, sync, UI) ever reports an event the database does not hold.
 */
export class AccessRecorder {
  constructor(
    private readonly store: Store,
    private readonly bus: EventBus,
    private readonly config: Pick<Config, 'access' | 'unit'>,
    private readonly log: Logger,
  ) {}

  record(e: NewAccessEvent, at: Date = new Date()): RecordedDecision {
    const ts = at.toISOString();
    const result = this.store.transaction(() => {
      const event = this.store.events.insert({ ...e, ts });
      let attendance: AttendanceRecord | null = null;
      if (event.result === 'GRANTED' && event.personId && event.source === 'camera') {
        const day = localTime(at, this.config.unit.timezone).date;
        const earlier = this.store.attendance.forPersonDay(event.personId, day);
        const entry = attendanceFor(at, earlier, { timeZone: this.config.unit.timezone, attendance: this.config.access.attendance });
        if (entry)
          attendance = {
            ...this.store.attendance.add({ personId: event.personId, day: entry.day, kind: entry.kind, status: entry.status, ts, eventId: event.id }),
            personName: event.personName ?? undefined,
          };
      }
      return { event, attendance };
    });
    this.log.info(
      {
        event: result.event.id,
        result: result.event.result,
        reason: result.event.reason,
        person: result.event.personName,
        score: result.event.score,
        source: result.event.source,
        track: result.event.trackId,
      },
      'access decided',
    );
    this.bus.emit('access.decided', result.event);
    if (result.attendance) this.bus.emit('attendance.recorded', result.attendance);
    return result;
  }
}

import type { Store } from '../store/store.js';
import type { StatsSnapshot } from './payloads.js';
import { today } from '../time/localTime.js';

/** Today's granted/denied counts and the last decisions, read from the events table. */
export function statsSnapshot(store: Store, timeZone: string, now = new Date()): StatsSnapshot {
  const { day, startIso } = today(timeZone, now);
  const granted = store.events.count({ result: 'GRANTED', from: startIso });
  const denied = store.events.count({ result: 'DENIED', from: startIso });
  const [lastGranted] = store.events.query({ result: 'GRANTED', limit: 1 });
  const [last] = store.events.query({ limit: 1 });
  return {
    day,
    granted,
    denied,
    lastPerson: lastGranted ? { id: lastGranted.personId, name: lastGranted.personName, ts: lastGranted.ts } : null,
    last: last ? { id: last.id, result: last.result, reason: last.reason, personName: last.personName, ts: last.ts } : null,
  };
}

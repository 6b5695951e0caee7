import type { Store } from '../store/store.js';
import type { StatsSnapshot } from './payloads.js';

/** The local calendar day of `now` in `timeZone` ('' = the system zone) and the UTC instant it began. */
export function localDayStart(now: Date, timeZone: string): { day: string; startIso: string } {
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-CA', {
      timeZone: timeZone || undefined,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
  } catch {
    fmt = new Intl.DateTimeFormat('en-CA', {
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
  }
  const p = Object.fromEntries(fmt.formatToParts(now).map((x) => [x.type, x.value])) as Record<string, string>;
  const y = Number(p.year),
    m = Number(p.month),
    d = Number(p.day);
  const wallAsUtc = Date.UTC(y, m - 1, d, Number(p.hour), Number(p.minute), Number(p.second));
  const offsetMs = wallAsUtc - Math.floor(now.getTime() / 1000) * 1000;
  const start = Date.UTC(y, m - 1, d) - offsetMs;
  return { day: `${p.year}-${p.month}-${p.day}`, startIso: new Date(start).toISOString() };
}

/** Today's granted/denied counts and the last decisions, read from the events table. */
export function statsSnapshot(store: Store, timeZone: string, now = new Date()): StatsSnapshot {
  const { day, startIso } = localDayStart(now, timeZone);
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

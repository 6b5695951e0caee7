import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import { statsSnapshot } from '../../src/mqtt/stats.js';
import { Store } from '../../src/store/store.js';
import { dayRange, dayStartIso, localDay, localTime, nextDay, today } from '../../src/time/localTime.js';
import { tempDir } from '../helpers/blinkd.js';

/** Bug 3 of the ownership review: "today" in the unit's zone was computed three ways and disagreed on DST days. */
describe('one local day for the whole unit', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => cleanups.splice(0).forEach((c) => c()));

  it('Europe/Berlin on the spring DST day (2026-03-29) began at 23:00Z the day before, and lasted 23 hours', () => {
    expect(dayStartIso('Europe/Berlin', '2026-03-29')).toBe('2026-03-28T23:00:00.000Z');
    const r = dayRange('Europe/Berlin', '2026-03-29');
    expect(r).toEqual({ from: '2026-03-28T23:00:00.000Z', to: '2026-03-29T22:00:00.000Z' });
    expect(Date.parse(r.to) - Date.parse(r.from)).toBe(23 * 3600_000);
    // At noon that day (already UTC+2) "today" still began at 23:00Z: not now minus the current offset.
    expect(today('Europe/Berlin', new Date('2026-03-29T12:00:00Z'))).toEqual({ day: '2026-03-29', startIso: '2026-03-28T23:00:00.000Z' });
    // The autumn day is 25 hours long.
    const autumn = dayRange('Europe/Berlin', '2026-10-25');
    expect(Date.parse(autumn.to) - Date.parse(autumn.from)).toBe(25 * 3600_000);
  });

  it('the retained MQTT stats count only the local day (an event at 23:30 the evening before is not today)', () => {
    const tmp = tempDir('blink-localday-');
    cleanups.push(tmp.cleanup);
    const store = Store.open(join(tmp.dir, 'blink.db'));
    cleanups.push(() => store.close());
    store.events.insert({ result: 'GRANTED', reason: 'match', ts: '2026-03-28T22:30:00.000Z' }); // 23:30 Berlin, Mar 28
    store.events.insert({ result: 'GRANTED', reason: 'match', ts: '2026-03-28T23:30:00.000Z' }); // 00:30 Berlin, Mar 29
    store.events.insert({ result: 'DENIED', reason: 'unknown', ts: '2026-03-29T10:00:00.000Z' });
    const s = statsSnapshot(store, 'Europe/Berlin', new Date('2026-03-29T12:00:00Z'));
    expect(s.day).toBe('2026-03-29');
    expect(s.granted).toBe(1);
    expect(s.denied).toBe(1);
  });

  it('local time, day and next day agree across zones', () => {
    const at = new Date('2026-03-02T23:30:00Z');
    expect(localTime(at, 'Europe/Berlin')).toEqual({ date: '2026-03-03', weekday: 'tue', minutes: 30 });
    expect(localDay('America/New_York', at)).toBe('2026-03-02');
    expect(nextDay('2026-02-28')).toBe('2026-03-01');
    expect(nextDay('2028-02-28')).toBe('2028-02-29');
  });

  it('an unknown unit.timezone is refused when the configuration is loaded, naming the key', () => {
    let err: unknown;
    try {
      parseConfig({ unit: { timezone: 'Mars/Olympus_Mons' } }, 'test');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.join('\n')).toMatch(/^unit\.timezone: got "Mars\/Olympus_Mons" \(string\), expected an IANA time zone/m);
    expect(parseConfig({ unit: { timezone: 'Europe/Berlin' } }, 'test').unit.timezone).toBe('Europe/Berlin');
    expect(parseConfig({}, 'test').unit.timezone).toBe('');
  });
});

import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/mqtt/commandParser.js';
import { Topics } from '../../src/mqtt/topics.js';
import { today } from '../../src/time/localTime.js';
import { backoffDelay } from '../../src/util/backoff.js';

const p = (name: string, text: string) => parseCommand(name, Buffer.from(text));

describe('MQTT command payloads', () => {
  it('maps the documented words to dispatcher commands', () => {
    expect(p('lock', 'UNLOCK')).toMatchObject({ ok: true, command: { type: 'unlock' } });
    expect(p('lock', 'open')).toMatchObject({ ok: true, command: { type: 'unlock' } });
    expect(p('lock', 'LOCK')).toMatchObject({ ok: true, command: { type: 'held_unlocked', on: false } });
    expect(p('unlock', '')).toMatchObject({ ok: true, command: { type: 'unlock' } });
    expect(p('lockdown', 'ON')).toMatchObject({ ok: true, command: { type: 'lockdown', on: true } });
    expect(p('lockdown', 'false')).toMatchObject({ ok: true, command: { type: 'lockdown', on: false } });
    expect(p('held_unlocked', ' 1 ')).toMatchObject({ ok: true, command: { type: 'held_unlocked', on: true } });
    expect(p('reload_people', 'PRESS')).toMatchObject({ ok: true, command: { type: 'reload_people' } });
    expect(p('request_health', '')).toMatchObject({ ok: true, command: { type: 'request_health' } });
  });

  it('accepts the JSON envelope with value, ts and id', () => {
    const r = p('lockdown', JSON.stringify({ value: true, ts: '2030-01-01T00:00:00Z', id: 'abc' }));
    expect(r).toMatchObject({ ok: true, command: { type: 'lockdown', on: true }, ts: Date.parse('2030-01-01T00:00:00Z'), id: 'abc' });
  });

  it('names what is wrong with a bad payload', () => {
    expect(p('lockdown', 'maybe')).toMatchObject({ ok: false, error: expect.stringContaining('expected ON or OFF') });
    expect(p('teleport', 'ON')).toMatchObject({ ok: false, error: expect.stringContaining('unknown command "teleport"') });
    expect(p('lockdown', '{"value": "ON", "force": true}')).toMatchObject({ ok: false, error: expect.stringContaining('unknown key(s) "force"') });
    expect(p('lockdown', '{"value": "ON"')).toMatchObject({ ok: false, error: expect.stringContaining('does not parse') });
    expect(p('lockdown', '{"value": "ON", "ts": "yesterday"}')).toMatchObject({ ok: false, error: expect.stringContaining('"ts" must be') });
    expect(p('unlock', 'x'.repeat(2000))).toMatchObject({ ok: false, error: expect.stringContaining('larger than 1024') });
    expect(p('unlock', 'now please')).toMatchObject({ ok: false, error: expect.stringContaining('expected PRESS, UNLOCK') });
  });
});

describe('MQTT topics', () => {
  it('builds and recognises command topics under <prefix>/<unit>', () => {
    const t = new Topics('fleet/site-a/', 'door-1');
    expect(t.command('lockdown')).toBe('fleet/site-a/door-1/lockdown/set');
    expect(t.commandOf('fleet/site-a/door-1/lockdown/set')).toBe('lockdown');
    expect(t.commandOf('fleet/site-a/door-1/a/b/set')).toBeNull();
    expect(t.commandOf('fleet/site-a/door-2/lockdown/set')).toBeNull();
    expect(t.commandOf('fleet/site-a/door-1/access')).toBeNull();
  });
});

describe('daily counts and backoff', () => {
  it('finds the start of the local day in the unit time zone', () => {
    const now = new Date('2025-06-15T02:30:00Z');
    expect(today('Europe/Berlin', now)).toEqual({ day: '2025-06-15', startIso: '2025-06-14T22:00:00.000Z' });
    expect(today('America/New_York', now)).toEqual({ day: '2025-06-14', startIso: '2025-06-14T04:00:00.000Z' });
    expect(today('UTC', now)).toEqual({ day: '2025-06-15', startIso: '2025-06-15T00:00:00.000Z' });
  });

  it('backs off exponentially between the bounds', () => {
    // attempt n waits min·2^n, capped; proportional jitter is ±20 % (clamped to the bounds)
    expect(backoffDelay(1, 1000, 60_000, 'proportional', () => 0.5)).toBe(2000);
    expect(backoffDelay(6, 1000, 60_000, 'proportional', () => 0.5)).toBe(60_000);
    expect(backoffDelay(0, 1000, 60_000, 'proportional', () => 0)).toBe(1000);
    expect(backoffDelay(3, 1000, 60_000, 'proportional', () => 0)).toBe(6400);
    expect(backoffDelay(3, 500, 30_000)).toBe(4000);
    expect(backoffDelay(10, 500, 30_000)).toBe(30_000);
    // full jitter: uniform in [0, value]
    expect(backoffDelay(2, 1000, 120_000, 'full', () => 0.25)).toBe(1000);
  });
});

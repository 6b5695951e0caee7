import type { Command } from '../commands/command.js';
import type { SignedEnvelope } from './commandSignature.js';
import { COMMAND_NAMES, type CommandName } from './topics.js';

/**
 * Turns a message on `<base>/<name>/set` into a dispatcher command, or names what is
 * wrong with it. Payloads are plain words (what Home Assistant and Node-RED send) or a
 * JSON object `{"value": …, "ts": …, "id": …}`:
 *
 *   lock            UNLOCK | OPEN (one unlock pulse), LOCK (leave held-unlocked)
 *   unlock          PRESS | UNLOCK | empty (one unlock pulse)
 *   lockdown        ON | OFF (also true/false, 1/0)
 *   held_unlocked   ON | OFF
 *   reload_people   PRESS | empty
 *   request_health  PRESS | empty
 *
 * `ts` (ISO-8601 or epoch milliseconds) lets the sender bound the command's age; `id`
 * is echoed in an error reply so the sender can match it.
 */
export type ParsedCommand =
  | { ok: true; name: CommandName; command: Command; ts: number | null; id: string | null; signed: SignedEnvelope }
  | { ok: false; name: string; error: string; id: string | null };

export const MAX_COMMAND_PAYLOAD_BYTES = 1024;

const ON = new Set(['on', 'true', '1']);
const OFF = new Set(['off', 'false', '0']);

interface Envelope {
  value: string;
  ts: number | null;
  id: string | null;
  signed: SignedEnvelope;
}

const ENVELOPE_KEYS = ['value', 'ts', 'id', 'unit', 'nonce', 'alg', 'sig'];
const unsigned = (value: string): SignedEnvelope => ({ value, unit: null, tsText: null, ts: null, nonce: null, alg: null, sig: null });

function readEnvelope(text: string): Envelope | string {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return { value: trimmed, ts: null, id: null, signed: unsigned(trimmed) };
  let obj: unknown;
  try {
    obj = JSON.parse(trimmed);
  } catch (err) {
    return `payload looks like JSON but does not parse: ${(err as Error).message}`;
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return 'a JSON payload must be an object';
  const o = obj as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !ENVELOPE_KEYS.includes(k));
  if (unknown.length) return `unknown key(s) ${unknown.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}; expected ${ENVELOPE_KEYS.join(', ')}`;
  for (const k of ['unit', 'nonce', 'alg', 'sig']) {
    if (o[k] !== undefined && (typeof o[k] !== 'string' || (o[k] as string).length > 200)) return `"${k}" must be a string of at most 200 characters`;
  }
  let id: string | null = null;
  if (o.id !== undefined) {
    if (typeof o.id !== 'string' || o.id.length > 100) return '"id" must be a string of at most 100 characters';
    id = o.id;
  }
  let value = '';
  if (o.value !== undefined) {
    if (typeof o.value === 'boolean') value = o.value ? 'on' : 'off';
    else if (typeof o.value === 'string') value = o.value.trim();
    else return `"value" must be a string or a boolean, got ${o.value === null ? 'null' : typeof o.value}`;
  }
  let ts: number | null = null;
  if (o.ts !== undefined) {
    const t = typeof o.ts === 'number' ? o.ts : typeof o.ts === 'string' ? Date.parse(o.ts) : NaN;
    if (!Number.isFinite(t)) return '"ts" must be an ISO-8601 time or epoch milliseconds';
    ts = t;
  }
  const signed: SignedEnvelope = {
    value: o.value === undefined ? '' : String(o.value),
    unit: (o.unit as string | undefined) ?? null,
    tsText: o.ts === undefined ? null : String(o.ts),
    ts,
    nonce: (o.nonce as string | undefined) ?? null,
    alg: (o.alg as string | undefined) ?? null,
    sig: (o.sig as string | undefined) ?? null,
  };
  return { value, ts, id, signed };
}

export function parseCommand(name: string, payload: Buffer): ParsedCommand {
  if (!(COMMAND_NAMES as readonly string[]).includes(name)) {
    return { ok: false, name, id: null, error: `unknown command "${name}"; expected one of ${COMMAND_NAMES.join(', ')}` };
  }
  const cmd = name as CommandName;
  if (payload.length > MAX_COMMAND_PAYLOAD_BYTES) {
    return { ok: false, name, id: null, error: `payload of ${payload.length} bytes is larger than ${MAX_COMMAND_PAYLOAD_BYTES}` };
  }
  const env = readEnvelope(payload.toString('utf8'));
  if (typeof env === 'string') return { ok: false, name, id: null, error: env };
  const v = env.value.toLowerCase();
  const done = (command: Command): ParsedCommand => ({ ok: true, name: cmd, command, ts: env.ts, id: env.id, signed: env.signed });
  const bad = (expected: string): ParsedCommand => ({
    ok: false,
    name,
    id: env.id,
    error: `payload ${JSON.stringify(env.value.slice(0, 50))} is not valid for ${name}; expected ${expected}`,
  });
  switch (cmd) {
    case 'lock':
      if (v === 'unlock' || v === 'open') return done({ type: 'unlock' });
      if (v === 'lock') return done({ type: 'held_unlocked', on: false });
      return bad('UNLOCK, OPEN or LOCK');
    case 'unlock':
      return v === '' || v === 'press' || v === 'unlock' ? done({ type: 'unlock' }) : bad('PRESS, UNLOCK or an empty payload');
    case 'lockdown':
    case 'held_unlocked':
      if (ON.has(v)) return done({ type: cmd, on: true });
      if (OFF.has(v)) return done({ type: cmd, on: false });
      return bad('ON or OFF');
    case 'reload_people':
    case 'request_health':
      return v === '' || v === 'press' ? done({ type: cmd }) : bad('PRESS or an empty payload');
  }
}

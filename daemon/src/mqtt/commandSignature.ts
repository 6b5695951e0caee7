import { createHmac, createPublicKey, randomBytes, sign as signBytes, timingSafeEqual, verify as verifySignature, type KeyObject } from 'node:crypto';

/**
 * Signed MQTT commands. A sender (a fleet manager, a script, an access-control server) publishes a
 * JSON envelope on `<base>/<name>/set`:
 *
 *   {"value":"UNLOCK","unit":"door-7","ts":"2026-03-04T08:00:00.000Z","nonce":"q3R…","alg":"hmac-sha256","sig":"…"}
 *
 * `sig` is base64 over the canonical text (one field per line, in this order):
 *
 *   blink-command-v1 \n <unit> \n <name> \n <value> \n <ts> \n <nonce>
 *
 * with HMAC-SHA256 under the unit's (or fleet's) command key (mqtt.commands.hmacKey), or Ed25519
 * under a private key whose public half is in mqtt.commands.ed25519PublicKeys (a unit then holds
 * nothing that could sign: a stolen unit cannot command the others). The unit refuses an envelope
 * for another unit, one older (or that far newer) than mqtt.commandMaxAgeSec, one signed before the
 * unit started (its replay memory is empty after a restart), and a nonce it has already seen.
 */
export interface SignedEnvelope {
  value: string;
  unit: string | null;
  /** ts exactly as sent (string or number), part of the signed text. */
  tsText: string | null;
  ts: number | null;
  nonce: string | null;
  alg: string | null;
  sig: string | null;
}

export interface CommandKeys {
  hmac: Buffer | null;
  ed25519: KeyObject[];
}

export function canonicalCommand(unit: string, name: string, value: string, tsText: string, nonce: string): string {
  return ['blink-command-v1', unit, name, value, tsText, nonce].join('\n');
}

/** A sender's side: the base64 HMAC-SHA256 signature. */
export function hmacSign(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text, 'utf8').digest('base64');
}

/**
 * The sender's side: a signed envelope for `name` (the topic's command segment) and `value`, as
 * JSON text to publish. HMAC with `hmacKey`, or Ed25519 with a private key.
 */
export function signCommand(o: {
  unit: string;
  name: string;
  value: string;
  hmacKey?: Buffer;
  ed25519PrivateKey?: KeyObject;
  ts?: number;
  nonce?: string;
  id?: string;
}): string {
  const tsText = new Date(o.ts ?? Date.now()).toISOString();
  const nonce = o.nonce ?? randomBytes(16).toString('base64url');
  const text = canonicalCommand(o.unit, o.name, o.value, tsText, nonce);
  let alg: string;
  let sig: string;
  if (o.ed25519PrivateKey) {
    alg = 'ed25519';
    sig = signBytes(null, Buffer.from(text, 'utf8'), o.ed25519PrivateKey).toString('base64');
  } else if (o.hmacKey) {
    alg = 'hmac-sha256';
    sig = hmacSign(o.hmacKey, text);
  } else throw new Error('signCommand needs hmacKey or ed25519PrivateKey');
  return JSON.stringify({ value: o.value, unit: o.unit, ts: tsText, nonce, alg, sig, ...(o.id ? { id: o.id } : {}) });
}

/** Reads a key written as base64 or hex (at least 32 bytes); null for ''. Throws naming the problem. */
export function decodeHmacKey(text: string): Buffer | null {
  if (!text) return null;
  const t = text.trim();
  const buf = /^[0-9a-fA-F]+$/.test(t) && t.length % 2 === 0 ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (buf.length < 32) throw new Error(`a command key of at least 32 bytes (256 bits), base64 or hex; this one has ${buf.length}`);
  return buf;
}

/** An Ed25519 public key as PEM, or base64 of the 32 raw bytes. Throws naming the problem. */
export function decodeEd25519PublicKey(text: string): KeyObject {
  const t = text.trim();
  if (t.startsWith('-----BEGIN')) return createPublicKey(t);
  const raw = Buffer.from(t, 'base64');
  if (raw.length !== 32) throw new Error(`an Ed25519 public key as PEM or base64 of 32 bytes; this one has ${raw.length} bytes`);
  // SubjectPublicKeyInfo for Ed25519: a fixed 12-byte prefix before the raw key.
  return createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]), format: 'der', type: 'spki' });
}

/** The nonces seen within the replay window (bounded: the oldest go first when full). */
export class NonceMemory {
  private readonly seen = new Map<string, number>();

  constructor(private readonly max = 10_000) {}

  /** Remembers `nonce` until `expiresAt`; false when it was already there (a replay). */
  remember(nonce: string, expiresAt: number, now: number): boolean {
    for (const [n, exp] of this.seen) {
      if (exp > now && this.seen.size < this.max) break;
      this.seen.delete(n);
    }
    if (this.seen.has(nonce)) return false;
    this.seen.set(nonce, expiresAt);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}

export interface VerifyContext {
  unitId: string;
  /** The command segment of the topic (what was signed). */
  name: string;
  keys: CommandKeys;
  now: number;
  maxAgeSec: number;
  /** When this unit started: envelopes signed before are refused. */
  startedAt: number;
  nonces: NonceMemory;
}

/** Checks a signed envelope; the refusal in words, or null when it carries the sender's authority. */
export function verifyEnvelope(e: SignedEnvelope, c: VerifyContext): string | null {
  if (!e.sig) return 'not signed';
  if (!e.unit || !e.tsText || e.ts === null || !e.nonce) return 'a signed command needs unit, ts and nonce';
  if (e.unit !== c.unitId) return `signed for unit "${e.unit.slice(0, 64)}", not this one`;
  if (!/^[A-Za-z0-9+/=_-]{16,128}$/.test(e.nonce)) return 'nonce must be 16-128 base64 characters';
  const text = canonicalCommand(e.unit, c.name, e.value, e.tsText, e.nonce);
  const sig = Buffer.from(e.sig, 'base64');
  const alg = e.alg ?? 'hmac-sha256';
  let valid = false;
  if (alg === 'hmac-sha256') {
    if (!c.keys.hmac) return 'hmac-sha256 signatures are not accepted: no mqtt.commands.hmacKey is set';
    const want = createHmac('sha256', c.keys.hmac).update(text, 'utf8').digest();
    valid = sig.length === want.length && timingSafeEqual(sig, want);
  } else if (alg === 'ed25519') {
    if (c.keys.ed25519.length === 0) return 'ed25519 signatures are not accepted: no mqtt.commands.ed25519PublicKeys are set';
    valid = c.keys.ed25519.some((k) => verifySignature(null, Buffer.from(text, 'utf8'), k, sig));
  } else return `unknown signature algorithm "${alg.slice(0, 32)}" (hmac-sha256 or ed25519)`;
  if (!valid) return 'bad signature';
  const ageSec = (c.now - e.ts) / 1000;
  if (ageSec > c.maxAgeSec) return `signed command is ${Math.round(ageSec)} s old, older than mqtt.commandMaxAgeSec (${c.maxAgeSec} s)`;
  if (ageSec < -c.maxAgeSec) return `signed command's ts is ${Math.round(-ageSec)} s in the future; check the sender's clock`;
  if (e.ts < c.startedAt) return 'signed before this unit started: a replay is not ruled out, so it is refused (send a new one)';
  if (!c.nonces.remember(e.nonce, e.ts + c.maxAgeSec * 1000, c.now)) return 'replayed: this nonce was already used';
  return null;
}

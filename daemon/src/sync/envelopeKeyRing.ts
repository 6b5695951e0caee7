/**
 * The organisation's key ring: random 256-bit data keys that seal envelopes (envelopeV2.ts),
 * each wrapped (AES-256-GCM) by a key-encryption key derived from the organisation passphrase
 * with scrypt (memory-hard; OWASP's parameters N=2^17, r=8, p=1: 128 MiB) and a random
 * per-organisation salt.
 *
 * The wrapped ring is safe to keep on the sync server (it holds no key in clear; an attacker
 * with a copy must guess the passphrase at ~1 s and 128 MiB per guess). Units download it and
 * open it with the passphrase once at start.
 *
 * Rotation never re-enrolls anyone:
 *  - passphrase change: changePassphrase() re-wraps the same data keys under a new salt;
 *  - data key rotation: rotate() adds a new key and makes it current; old envelopes keep
 *    opening with the key id they name, new ones use the new key.
 * Each key's use is counted (by the server, across units, plus this unit's seals since) and
 * needsRotation() turns true at rotateAt (default 2^31), well before the 2^32 random-IV limit
 * of NIST SP 800-38D, at which seal() refuses.
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb, type ScryptOptions } from 'node:crypto';
import { EnvelopeError, fromBase64, GCM_IV_BYTES, GCM_TAG_BYTES, KEY_BYTES } from './envelope.js';
import { openV2, parseEnvelopeV2, sealV2, type EnvelopeContext, type EnvelopeV2 } from './envelopeV2.js';

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** OWASP Password Storage Cheat Sheet: scrypt N=2^17, r=8, p=1 (128 MiB). Nothing weaker is accepted. */
export const SCRYPT_DEFAULT: ScryptParams = { N: 2 ** 17, r: 8, p: 1 };
const SCRYPT_BOUNDS = { minN: 2 ** 17, maxN: 2 ** 18, minR: 8, maxR: 16, minP: 1, maxP: 4 };
const SALT_BYTES = 16;
/** NIST SP 800-38D: at most 2^32 encryptions with random 96-bit IVs under one key. */
export const KEY_USE_LIMIT = 2 ** 32;
export const KEY_ROTATE_AT = 2 ** 31;

export interface WrappedKey {
  kid: string;
  createdAt: string;
  iv: string;
  ct: string;
  tag: string;
}

/** The key ring as stored on the sync server: no secret in clear. */
export interface KeyRingDocument {
  format: 'blink-keyring';
  v: 2;
  org: string;
  kdf: { alg: 'scrypt'; N: number; r: number; p: number; salt: string };
  current: string;
  keys: WrappedKey[];
}

function scrypt(passphrase: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = { ...params, maxmem: 128 * params.N * params.r * 2 + 16 * 1024 * 1024 };
  return new Promise((resolve, reject) => scryptCb(passphrase.normalize('NFC'), salt, KEY_BYTES, options, (err, key) => (err ? reject(err) : resolve(key))));
}

function wrapAad(org: string, kid: string, salt: string): Buffer {
  return Buffer.from(JSON.stringify(['blink-keyring', 2, org, kid, salt]), 'utf8');
}

function wrap(kek: Buffer, org: string, salt: string, kid: string, dataKey: Buffer, createdAt: string): WrappedKey {
  const iv = randomBytes(GCM_IV_BYTES);
  const c = createCipheriv('aes-256-gcm', kek, iv, { authTagLength: GCM_TAG_BYTES });
  c.setAAD(wrapAad(org, kid, salt));
  const ct = Buffer.concat([c.update(dataKey), c.final()]);
  return { kid, createdAt, iv: iv.toString('base64'), ct: ct.toString('base64'), tag: c.getAuthTag().toString('base64') };
}

function unwrap(kek: Buffer, org: string, salt: string, w: WrappedKey): Buffer {
  const d = createDecipheriv('aes-256-gcm', kek, fromBase64(w.iv, `keys[${w.kid}].iv`, GCM_IV_BYTES), { authTagLength: GCM_TAG_BYTES });
  d.setAAD(wrapAad(org, w.kid, salt));
  d.setAuthTag(fromBase64(w.tag, `keys[${w.kid}].tag`, GCM_TAG_BYTES));
  try {
    const key = Buffer.concat([d.update(fromBase64(w.ct, `keys[${w.kid}].ct`, KEY_BYTES)), d.final()]);
    return key;
  } catch {
    throw new EnvelopeError('wrong_passphrase', `the passphrase does not open the key ring of organisation "${org}" (key ${w.kid})`);
  }
}

const newKid = (): string => 'k' + randomBytes(6).toString('base64url');
const KID = /^[A-Za-z0-9_-]{1,64}$/;

/** Checks a key ring document from the network, naming the first problem (and refusing weak or absurd KDF parameters). */
export function parseKeyRingDocument(value: unknown): KeyRingDocument {
  const bad = (m: string): never => {
    throw new EnvelopeError('malformed', `key ring: ${m}`);
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return bad('expected an object');
  const d = value as Record<string, unknown>;
  if (d.format !== 'blink-keyring' || d.v !== 2) bad('format must be "blink-keyring" version 2');
  if (typeof d.org !== 'string' || !d.org) bad('org: expected the organisation id');
  const kdf = d.kdf as Record<string, unknown> | null;
  if (!kdf || typeof kdf !== 'object' || kdf.alg !== 'scrypt') return bad('kdf.alg: expected "scrypt"');
  const { N, r, p } = kdf as { N: unknown; r: unknown; p: unknown };
  const B = SCRYPT_BOUNDS;
  if (typeof N !== 'number' || !Number.isInteger(Math.log2(N)) || N < B.minN || N > B.maxN)
    bad(`kdf.N: expected a power of two from 2^17 to 2^18, got ${String(N)}`);
  if (typeof r !== 'number' || !Number.isInteger(r) || r < B.minR || r > B.maxR) bad(`kdf.r: expected ${B.minR}–${B.maxR}, got ${String(r)}`);
  if (typeof p !== 'number' || !Number.isInteger(p) || p < B.minP || p > B.maxP) bad(`kdf.p: expected ${B.minP}–${B.maxP}, got ${String(p)}`);
  fromBase64(kdf.salt, 'key ring kdf.salt', SALT_BYTES);
  if (!Array.isArray(d.keys) || d.keys.length === 0 || d.keys.length > 1000) bad('keys: expected 1–1000 wrapped keys');
  const kids = new Set<string>();
  for (const k of d.keys as unknown[]) {
    const w = k as Record<string, unknown>;
    if (!w || typeof w !== 'object' || typeof w.kid !== 'string' || !KID.test(w.kid)) bad('keys[]: each needs a kid (letters, digits, _ or -)');
    if (kids.has(w.kid as string)) bad(`keys: duplicate kid ${String(w.kid)}`);
    kids.add(w.kid as string);
    if (typeof w.createdAt !== 'string') bad(`keys[${String(w.kid)}].createdAt: expected text`);
    fromBase64(w.iv, `key ring keys[${String(w.kid)}].iv`, GCM_IV_BYTES);
    fromBase64(w.tag, `key ring keys[${String(w.kid)}].tag`, GCM_TAG_BYTES);
    fromBase64(w.ct, `key ring keys[${String(w.kid)}].ct`, KEY_BYTES);
  }
  if (typeof d.current !== 'string' || !kids.has(d.current)) bad('current: expected the kid of one of the keys');
  return value as KeyRingDocument;
}

export interface KeyRingOptions {
  kdf?: ScryptParams;
  rotateAt?: number;
  now?: () => Date;
}

export class KeyRing {
  private readonly keys = new Map<string, Buffer>();
  private wrapped: WrappedKey[];
  private current_: string;
  private kdf: KeyRingDocument['kdf'];
  private kek: Buffer;
  /** Envelopes sealed under each key: the server's count across all units (noteUsage) plus this unit's seals since. */
  private readonly used = new Map<string, number>();
  private readonly rotateAt: number;
  private readonly now: () => Date;

  private constructor(
    readonly org: string,
    doc: KeyRingDocument,
    kek: Buffer,
    keys: Map<string, Buffer>,
    options: KeyRingOptions,
  ) {
    this.wrapped = doc.keys.map((k) => ({ ...k }));
    this.current_ = doc.current;
    this.kdf = { ...doc.kdf };
    this.kek = kek;
    for (const [k, v] of keys) this.keys.set(k, v);
    this.rotateAt = Math.min(options.rotateAt ?? KEY_ROTATE_AT, KEY_USE_LIMIT);
    this.now = options.now ?? (() => new Date());
  }

  /** A new ring with one random data key, wrapped under the passphrase. */
  static async create(org: string, passphrase: string, options: KeyRingOptions = {}): Promise<KeyRing> {
    checkPassphrase(passphrase);
    const params = options.kdf ?? SCRYPT_DEFAULT;
    const salt = randomBytes(SALT_BYTES).toString('base64');
    const kdf = { alg: 'scrypt' as const, ...params, salt };
    const kek = await scrypt(passphrase, Buffer.from(salt, 'base64'), params);
    const kid = newKid();
    const dataKey = randomBytes(KEY_BYTES);
    const now = (options.now ?? (() => new Date()))().toISOString();
    const doc: KeyRingDocument = { format: 'blink-keyring', v: 2, org, kdf, current: kid, keys: [wrap(kek, org, salt, kid, dataKey, now)] };
    parseKeyRingDocument(doc);
    return new KeyRing(org, doc, kek, new Map([[kid, dataKey]]), options);
  }

  /** Opens a stored ring; EnvelopeError 'wrong_passphrase' when the passphrase is not the organisation's. */
  static async unlock(document: unknown, passphrase: string, options: KeyRingOptions = {}): Promise<KeyRing> {
    const doc = parseKeyRingDocument(document);
    const kek = await scrypt(passphrase, Buffer.from(doc.kdf.salt, 'base64'), doc.kdf);
    const keys = new Map<string, Buffer>();
    for (const w of doc.keys) keys.set(w.kid, unwrap(kek, doc.org, doc.kdf.salt, w));
    return new KeyRing(doc.org, doc, kek, keys, options);
  }

  currentKid(): string {
    return this.current_;
  }

  kids(): string[] {
    return this.wrapped.map((w) => w.kid);
  }

  has(kid: string): boolean {
    return this.keys.has(kid);
  }

  toDocument(): KeyRingDocument {
    return { format: 'blink-keyring', v: 2, org: this.org, kdf: { ...this.kdf }, current: this.current_, keys: this.wrapped.map((w) => ({ ...w })) };
  }

  /** Adds a fresh data key and makes it current (old envelopes still open). Returns its kid. Save the document afterwards. */
  rotate(): string {
    const kid = newKid();
    const dataKey = randomBytes(KEY_BYTES);
    this.wrapped.push(wrap(this.kek, this.org, this.kdf.salt, kid, dataKey, this.now().toISOString()));
    this.keys.set(kid, dataKey);
    this.current_ = kid;
    return kid;
  }

  /** Re-wraps every data key under a new passphrase (and a new salt). No envelope changes. Save the document afterwards. */
  async changePassphrase(newPassphrase: string, params: ScryptParams = { N: this.kdf.N, r: this.kdf.r, p: this.kdf.p }): Promise<void> {
    checkPassphrase(newPassphrase);
    const salt = randomBytes(SALT_BYTES).toString('base64');
    const kek = await scrypt(newPassphrase, Buffer.from(salt, 'base64'), params);
    this.wrapped = this.wrapped.map((w) => wrap(kek, this.org, salt, w.kid, this.keys.get(w.kid)!, w.createdAt));
    this.kdf = { alg: 'scrypt', ...params, salt };
    this.kek = kek;
  }

  /** Records the server's count of envelopes under each key (it counts every one it receives, from every unit). */
  noteUsage(counts: Record<string, number>): void {
    for (const [kid, n] of Object.entries(counts)) if (Number.isFinite(n) && n > (this.used.get(kid) ?? 0)) this.used.set(kid, n);
  }

  usage(kid: string = this.current_): number {
    return this.used.get(kid) ?? 0;
  }

  /** True once the current key has sealed rotateAt envelopes: rotate() and save before sealing more. */
  needsRotation(): boolean {
    return this.usage() >= this.rotateAt;
  }

  seal(ctx: Omit<EnvelopeContext, 'org'>, plaintext: Uint8Array): EnvelopeV2 {
    const kid = this.current_;
    const n = this.usage(kid);
    if (n >= KEY_USE_LIMIT - 1) throw new EnvelopeError('key_exhausted', `key ${kid} has sealed ${n} envelopes (limit 2^32): rotate the key ring`);
    const env = sealV2(this.keys.get(kid)!, kid, { ...ctx, org: this.org }, plaintext);
    this.used.set(kid, n + 1);
    return env;
  }

  open(ctx: Omit<EnvelopeContext, 'org'>, envelope: unknown): Buffer {
    const env = parseEnvelopeV2(envelope);
    const key = this.keys.get(env.kid);
    if (!key)
      throw new EnvelopeError('unknown_key', `envelope names key ${env.kid}, which the key ring of "${this.org}" does not hold (pull the key ring again)`);
    return openV2(key, { ...ctx, org: this.org }, env);
  }
}

function checkPassphrase(p: string): void {
  if (typeof p !== 'string' || [...p].length < 12) throw new EnvelopeError('malformed', 'the organisation passphrase must be at least 12 characters');
}

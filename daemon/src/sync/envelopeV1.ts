/**
 * Envelope v1: the original system's template envelope, read (never written) so that people
 * enrolled on the original mobile app can be imported. As its documentation describes it:
 *
 *   AES-256-GCM, 12-byte random IV, 16-byte tag, each base64 in {"ciphertext","iv","tag"};
 *   key = PBKDF2-HMAC-SHA256(organisation password, one fixed salt, 10,000 iterations, 32 bytes);
 *   no AAD, no version field; plaintext = the embedding's 128 float32 values.
 *
 * The salt was compiled into the app and is not public, so it is configuration here. The
 * plaintext's encoding is not documented either: the literal reading of its code is
 * JSON.stringify(Array.from(embedding)) as UTF-8; raw little-endian float32 bytes are accepted
 * too, and the result says which one decoded.
 *
 * Its weaknesses are why v2 exists: no AAD (an envelope moved onto another person still
 * opens), a fixed salt and 10k PBKDF2 iterations (cheap to brute-force), no key id.
 */
import { createDecipheriv, pbkdf2 as pbkdf2Cb } from 'node:crypto';
import { EnvelopeError, fromBase64, GCM_IV_BYTES, GCM_TAG_BYTES, KEY_BYTES } from './envelope.js';

export interface EnvelopeV1 {
  ciphertext: string;
  iv: string;
  tag: string;
}

export const V1_PBKDF2_ITERATIONS = 10_000;
export const V1_DIMENSION = 128;

/** The v1 salt as configured: UTF-8 text (as compiled into the app) or explicit hex:/base64: bytes. */
export function parseV1Salt(text: string): Buffer {
  if (text.startsWith('hex:')) {
    if (!/^(?:[0-9a-fA-F]{2})+$/.test(text.slice(4))) throw new EnvelopeError('malformed', 'v1 salt: hex: must be followed by an even number of hex digits');
    return Buffer.from(text.slice(4), 'hex');
  }
  if (text.startsWith('base64:')) return fromBase64(text.slice(7), 'v1 salt');
  if (!text) throw new EnvelopeError('malformed', 'v1 salt: empty (set the salt the original app was built with)');
  return Buffer.from(text, 'utf8');
}

/** The v1 key from the organisation password and the configured salt (PBKDF2 runs off the event loop). */
export function deriveV1Key(password: string, salt: Buffer): Promise<Buffer> {
  if (!password) return Promise.reject(new EnvelopeError('malformed', 'v1 password: empty'));
  return new Promise((resolve, reject) =>
    pbkdf2Cb(password, salt, V1_PBKDF2_ITERATIONS, KEY_BYTES, 'sha256', (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export function parseEnvelopeV1(value: unknown): EnvelopeV1 {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new EnvelopeError('malformed', 'v1 envelope: expected an object');
  const e = value as Record<string, unknown>;
  fromBase64(e.iv, 'v1 envelope.iv', GCM_IV_BYTES);
  fromBase64(e.tag, 'v1 envelope.tag', GCM_TAG_BYTES);
  fromBase64(e.ciphertext, 'v1 envelope.ciphertext');
  return { ciphertext: e.ciphertext as string, iv: e.iv as string, tag: e.tag as string };
}

/** True when a value has the v1 shape ({ciphertext, iv, tag}, no "v"): what the original app stores. */
export function isEnvelopeV1(value: unknown): value is EnvelopeV1 {
  if (value === null || typeof value !== 'object') return false;
  const e = value as Record<string, unknown>;
  return e.v === undefined && typeof e.ciphertext === 'string' && typeof e.iv === 'string' && typeof e.tag === 'string';
}

export interface OpenedV1 {
  embedding: Float32Array;
  /** Which plaintext encoding decoded: JSON array text, or raw little-endian float32 bytes. */
  encoding: 'json' | 'float32le';
}

/** Decrypts a v1 envelope and decodes its embedding; EnvelopeError on a wrong password/salt, tampering, or an undecodable plaintext. */
export function openV1(key: Buffer, envelope: unknown, expectedDim = V1_DIMENSION): OpenedV1 {
  const env = parseEnvelopeV1(envelope);
  const d = createDecipheriv('aes-256-gcm', key, fromBase64(env.iv, 'v1 envelope.iv', GCM_IV_BYTES), { authTagLength: GCM_TAG_BYTES });
  d.setAuthTag(fromBase64(env.tag, 'v1 envelope.tag', GCM_TAG_BYTES));
  let plain: Buffer;
  try {
    plain = Buffer.concat([d.update(fromBase64(env.ciphertext, 'v1 envelope.ciphertext')), d.final()]);
  } catch {
    throw new EnvelopeError('not_authentic', 'v1 envelope does not authenticate: wrong organisation password or v1 salt, or the envelope was changed');
  }
  return decodeV1Plaintext(plain, expectedDim);
}

export function decodeV1Plaintext(plain: Buffer, expectedDim = V1_DIMENSION): OpenedV1 {
  const text = plain.toString('utf8');
  if (/^\s*\[/.test(text)) {
    let values: unknown;
    try {
      values = JSON.parse(text);
    } catch {
      throw new EnvelopeError('bad_plaintext', 'v1 plaintext starts like JSON but does not parse');
    }
    if (!Array.isArray(values) || values.length !== expectedDim || !values.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new EnvelopeError('bad_plaintext', `v1 plaintext: expected a JSON array of ${expectedDim} finite numbers`);
    }
    return { embedding: Float32Array.from(values as number[]), encoding: 'json' };
  }
  if (plain.length === expectedDim * 4) {
    const out = new Float32Array(expectedDim);
    for (let i = 0; i < expectedDim; i++) out[i] = plain.readFloatLE(i * 4);
    if (out.every((x) => Number.isFinite(x))) return { embedding: out, encoding: 'float32le' };
  }
  throw new EnvelopeError(
    'bad_plaintext',
    `v1 plaintext (${plain.length} bytes) is neither a JSON array of ${expectedDim} numbers nor ${expectedDim * 4} float32 bytes`,
  );
}

/**
 * What the envelope modules share: the error every failure raises (with a code a caller can
 * act on and a message a person can read) and strict base64 decoding. The envelopes
 * themselves: envelopeV2.ts (this product's), envelopeV1.ts (the original system's, read for
 * import), envelopeKeyRing.ts (the organisation's data keys), envelopeRewrap.ts (v1 → v2).
 * Everything here is pure: no store, no network, node:crypto only.
 */

export type EnvelopeErrorCode =
  /** GCM authentication failed: the ciphertext, IV or tag was changed, or the envelope was sealed for another context (person, template, model, record version, organisation), or with another key. */
  | 'not_authentic'
  /** The organisation passphrase does not open the key ring. */
  | 'wrong_passphrase'
  /** The envelope names a key id the key ring does not hold. */
  | 'unknown_key'
  /** The envelope or key ring is not well formed (missing field, bad base64, wrong IV/tag length). */
  | 'malformed'
  /** The plaintext is not what the envelope kind promises (v1: neither JSON floats nor float32 bytes). */
  | 'bad_plaintext'
  /** The key has sealed so many envelopes that its random-IV budget is spent: rotate. */
  | 'key_exhausted';

export class EnvelopeError extends Error {
  constructor(
    readonly code: EnvelopeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EnvelopeError';
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict base64 (Buffer.from silently skips bad characters): a wrong character is an error naming the field. */
export function fromBase64(value: unknown, field: string, expectedBytes?: number): Buffer {
  if (typeof value !== 'string' || !BASE64.test(value)) throw new EnvelopeError('malformed', `${field}: expected base64 text`);
  const bytes = Buffer.from(value, 'base64');
  if (expectedBytes !== undefined && bytes.length !== expectedBytes) {
    throw new EnvelopeError('malformed', `${field}: expected ${expectedBytes} bytes, got ${bytes.length}`);
  }
  return bytes;
}

export const toBase64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

/** AES-256-GCM parameters both versions use: 96-bit IV (NIST SP 800-38D's recommended length), 128-bit tag. */
export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;
export const KEY_BYTES = 32;

/** A v2 template's plaintext: the embedding as little-endian float32 bytes (the envelope's own format). */
export function embeddingToBytes(v: Float32Array): Buffer {
  const out = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) out.writeFloatLE(v[i] as number, i * 4);
  return out;
}

export function bytesToEmbedding(b: Buffer, dim: number): Float32Array {
  if (b.length !== dim * 4)
    throw new EnvelopeError('bad_plaintext', `template plaintext: expected ${dim} float32 values (${dim * 4} bytes), got ${b.length} bytes`);
  const out = new Float32Array(dim);
  for (let i = 0; i < dim; i++) out[i] = b.readFloatLE(i * 4);
  return out;
}

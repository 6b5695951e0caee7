/**
 * Envelope v2: how a biometric template (or a synced face image) travels to the sync server.
 *
 *   AES-256-GCM under the organisation's data key (envelopeKeyRing.ts), a fresh random 96-bit
 *   IV per envelope, a 128-bit tag, and additional authenticated data binding the envelope to
 *   exactly one place: {version, kind, organisation, person id, item (template) id, model id,
 *   dimension, record version, key id}. Moving an envelope onto another person, template,
 *   model, organisation or record version makes it fail to open, as does any changed byte.
 *
 * Wire form: {"v":2,"kid":"…","iv":"<b64 12 bytes>","ct":"<b64>","tag":"<b64 16 bytes>"}.
 * The context is not in the envelope: it is the record the envelope sits in, so the reader
 * rebuilds it from what it is about to store and a mismatch is caught.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { EnvelopeError, fromBase64, GCM_IV_BYTES, GCM_TAG_BYTES, KEY_BYTES, toBase64 } from './envelope.js';

export interface EnvelopeV2 {
  v: 2;
  /** Which data key of the organisation's key ring sealed it. */
  kid: string;
  iv: string;
  ct: string;
  tag: string;
}

export type EnvelopeKind = 'template' | 'photo';

/** Where an envelope belongs. Every field is bound into the AAD. */
export interface EnvelopeContext {
  kind: EnvelopeKind;
  org: string;
  personId: string;
  /** The template's id (or the photo's id). */
  itemId: string;
  /** The embedder's model id (templates); the image's media type (photos, e.g. image/jpeg). */
  modelId: string;
  /** Embedding dimension (templates); 0 for photos. */
  dim: number;
  /** The person record's version the envelope was sealed for. */
  recordVersion: number;
}

/** The AAD bytes: a JSON array in a fixed order (canonical: no keys, no whitespace, no floats). */
export function envelopeAad(ctx: EnvelopeContext, kid: string): Buffer {
  if (!Number.isSafeInteger(ctx.recordVersion) || ctx.recordVersion < 0) throw new EnvelopeError('malformed', 'recordVersion: expected a non-negative integer');
  if (!Number.isSafeInteger(ctx.dim) || ctx.dim < 0) throw new EnvelopeError('malformed', 'dim: expected a non-negative integer');
  return Buffer.from(JSON.stringify(['blink-envelope', 2, ctx.kind, ctx.org, ctx.personId, ctx.itemId, ctx.modelId, ctx.dim, ctx.recordVersion, kid]), 'utf8');
}

/** Seals with a given data key. Use KeyRing.seal, which picks the current key and counts its use. */
export function sealV2(key: Buffer, kid: string, ctx: EnvelopeContext, plaintext: Uint8Array): EnvelopeV2 {
  if (key.length !== KEY_BYTES) throw new EnvelopeError('malformed', `data key: expected ${KEY_BYTES} bytes`);
  const iv = randomBytes(GCM_IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES });
  cipher.setAAD(envelopeAad(ctx, kid));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { v: 2, kid, iv: iv.toString('base64'), ct: ct.toString('base64'), tag: toBase64(cipher.getAuthTag()) };
}

/** Checks the wire shape of a v2 envelope (anything from the network), naming the first problem. */
export function parseEnvelopeV2(value: unknown): EnvelopeV2 {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new EnvelopeError('malformed', 'envelope: expected an object');
  const e = value as Record<string, unknown>;
  if (e.v !== 2) throw new EnvelopeError('malformed', `envelope.v: expected 2, got ${JSON.stringify(e.v)}`);
  if (typeof e.kid !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(e.kid)) throw new EnvelopeError('malformed', 'envelope.kid: expected a key id');
  fromBase64(e.iv, 'envelope.iv', GCM_IV_BYTES);
  fromBase64(e.tag, 'envelope.tag', GCM_TAG_BYTES);
  fromBase64(e.ct, 'envelope.ct');
  return { v: 2, kid: e.kid, iv: e.iv as string, ct: e.ct as string, tag: e.tag as string };
}

/** Opens with a given data key; throws EnvelopeError('not_authentic') on any tampering or context mismatch. */
export function openV2(key: Buffer, ctx: EnvelopeContext, envelope: EnvelopeV2): Buffer {
  const env = parseEnvelopeV2(envelope);
  const decipher = createDecipheriv('aes-256-gcm', key, fromBase64(env.iv, 'envelope.iv', GCM_IV_BYTES), { authTagLength: GCM_TAG_BYTES });
  decipher.setAAD(envelopeAad(ctx, env.kid));
  decipher.setAuthTag(fromBase64(env.tag, 'envelope.tag', GCM_TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(fromBase64(env.ct, 'envelope.ct')), decipher.final()]);
  } catch {
    throw new EnvelopeError(
      'not_authentic',
      `envelope for ${ctx.kind} ${ctx.itemId} of person ${ctx.personId} does not authenticate: it was changed, or sealed for another person, template, model, record version or organisation (AAD), or with another key`,
    );
  }
}

import { createCipheriv, pbkdf2Sync, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { bytesToEmbedding, embeddingToBytes, EnvelopeError } from '../../src/sync/envelope.js';
import { KEY_USE_LIMIT, KeyRing, parseKeyRingDocument } from '../../src/sync/envelopeKeyRing.js';
import { deriveV1Key, openV1, parseV1Salt } from '../../src/sync/envelopeV1.js';
import { envelopeAad, openV2, sealV2, type EnvelopeContext, type EnvelopeV2 } from '../../src/sync/envelopeV2.js';
import { rewrapV1 } from '../../src/sync/envelopeRewrap.js';

const PASS = 'correct horse battery staple';
const ctx = (over: Partial<Omit<EnvelopeContext, 'org'>> = {}): Omit<EnvelopeContext, 'org'> => ({
  kind: 'template',
  personId: 'p-1',
  itemId: 't-1',
  modelId: 'face-int8-v1',
  dim: 4,
  recordVersion: 3,
  ...over,
});
const emb = Float32Array.from([0.5, -0.25, 0.125, 0.75]);

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof EnvelopeError) return e.code;
    throw e;
  }
  return 'no error';
}

async function codeOfAsync(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof EnvelopeError) return e.code;
    throw e;
  }
  return 'no error';
}

/** The original's documented v1 scheme, written independently here: PBKDF2-SHA256 10k, AES-256-GCM, no AAD. */
function originalV1Envelope(password: string, salt: string, plaintext: Buffer) {
  const key = pbkdf2Sync(password, Buffer.from(salt, 'utf8'), 10_000, 32, 'sha256');
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const ciphertext = Buffer.concat([c.update(plaintext), c.final()]);
  return { ciphertext: ciphertext.toString('base64'), iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64') };
}

describe('envelope v2', () => {
  let ring: KeyRing;
  beforeAll(async () => {
    ring = await KeyRing.create('acme', PASS);
  });

  it('seals and opens a template, with a fresh IV every time', () => {
    const a = ring.seal(ctx(), embeddingToBytes(emb));
    const b = ring.seal(ctx(), embeddingToBytes(emb));
    expect(a.iv).not.toBe(b.iv);
    expect(a.ct).not.toBe(b.ct);
    expect(Buffer.from(a.iv, 'base64')).toHaveLength(12);
    expect(Buffer.from(a.tag, 'base64')).toHaveLength(16);
    expect(Array.from(bytesToEmbedding(ring.open(ctx(), a), 4))).toEqual(Array.from(emb));
    expect(a.kid).toBe(ring.currentKid());
  });

  it('binds version, kind, org, person, template, model, dimension, record version and key id into the AAD', () => {
    const aad = JSON.parse(envelopeAad({ ...ctx(), org: 'acme' }, 'kX').toString('utf8'));
    expect(aad).toEqual(['blink-envelope', 2, 'template', 'acme', 'p-1', 't-1', 'face-int8-v1', 4, 3, 'kX']);
  });

  it('refuses an envelope moved onto another person, template, model, dimension, version or organisation', async () => {
    const env = ring.seal(ctx(), embeddingToBytes(emb));
    for (const other of [
      ctx({ personId: 'p-2' }),
      ctx({ itemId: 't-2' }),
      ctx({ modelId: 'legacy-v1:mobilefacenet' }),
      ctx({ dim: 8 }),
      ctx({ recordVersion: 4 }),
      ctx({ kind: 'photo' }),
    ]) {
      expect(codeOf(() => ring.open(other, env))).toBe('not_authentic');
    }
    const otherOrg = await KeyRing.unlock({ ...ring.toDocument() }, PASS);
    // Same keys, but a ring for another org would bind another org: emulate by opening with the raw function.
    const key = (otherOrg as unknown as { keys: Map<string, Buffer> }).keys.get(env.kid)!;
    expect(codeOf(() => openV2(key, { ...ctx(), org: 'globex' }, env))).toBe('not_authentic');
    expect(Array.from(bytesToEmbedding(openV2(key, { ...ctx(), org: 'acme' }, env), 4))).toEqual(Array.from(emb));
  });

  it('refuses a tampered ciphertext, tag, IV or key id with a clear error', () => {
    const env = ring.seal(ctx(), embeddingToBytes(emb));
    const flip = (b64: string) => {
      const b = Buffer.from(b64, 'base64');
      b[0] = b[0]! ^ 1;
      return b.toString('base64');
    };
    expect(codeOf(() => ring.open(ctx(), { ...env, ct: flip(env.ct) }))).toBe('not_authentic');
    expect(codeOf(() => ring.open(ctx(), { ...env, tag: flip(env.tag) }))).toBe('not_authentic');
    expect(codeOf(() => ring.open(ctx(), { ...env, iv: flip(env.iv) }))).toBe('not_authentic');
    expect(codeOf(() => ring.open(ctx(), { ...env, kid: 'kNope' }))).toBe('unknown_key');
    expect(codeOf(() => ring.open(ctx(), { ...env, iv: 'AAAA' }))).toBe('malformed');
    expect(codeOf(() => ring.open(ctx(), { ...env, tag: 'not base64!' }))).toBe('malformed');
    expect(codeOf(() => ring.open(ctx(), { ...env, v: 1 } as unknown as EnvelopeV2))).toBe('malformed');
    try {
      ring.open(ctx({ personId: 'p-2' }), env);
    } catch (e) {
      expect((e as Error).message).toMatch(/person p-2 does not authenticate.*another person/);
    }
  });

  it('unlocks the stored ring with the passphrase and refuses a wrong one', async () => {
    const doc = JSON.parse(JSON.stringify(ring.toDocument()));
    expect(JSON.stringify(doc)).not.toContain(PASS);
    expect(doc.kdf).toMatchObject({ alg: 'scrypt', N: 2 ** 17, r: 8, p: 1 });
    const env = ring.seal(ctx(), embeddingToBytes(emb));
    const again = await KeyRing.unlock(doc, PASS);
    expect(Array.from(bytesToEmbedding(again.open(ctx(), env), 4))).toEqual(Array.from(emb));
    expect(await codeOfAsync(() => KeyRing.unlock(doc, 'wrong passphrase here'))).toBe('wrong_passphrase');
  });

  it('refuses key ring documents with weak or absurd KDF parameters (a server cannot downgrade the KDF)', () => {
    const doc = ring.toDocument();
    expect(codeOf(() => parseKeyRingDocument({ ...doc, kdf: { ...doc.kdf, N: 1024 } }))).toBe('malformed');
    expect(codeOf(() => parseKeyRingDocument({ ...doc, kdf: { ...doc.kdf, N: 2 ** 24 } }))).toBe('malformed');
    expect(codeOf(() => parseKeyRingDocument({ ...doc, kdf: { ...doc.kdf, r: 1 } }))).toBe('malformed');
    expect(codeOf(() => parseKeyRingDocument({ ...doc, current: 'kMissing' }))).toBe('malformed');
    expect(codeOf(() => parseKeyRingDocument({ ...doc, keys: [] }))).toBe('malformed');
  });

  it('rotates the data key: old envelopes still open, new ones use the new key id; a passphrase change re-wraps without touching envelopes', async () => {
    const r = await KeyRing.unlock(ring.toDocument(), PASS);
    const old = r.seal(ctx(), embeddingToBytes(emb));
    const oldKid = r.currentKid();
    const kid = r.rotate();
    expect(kid).not.toBe(oldKid);
    const fresh = r.seal(ctx(), embeddingToBytes(emb));
    expect(fresh.kid).toBe(kid);
    await r.changePassphrase('a brand new organisation passphrase');
    const doc = r.toDocument();
    expect(doc.keys.map((k) => k.kid)).toEqual([oldKid, kid]);
    expect(await codeOfAsync(() => KeyRing.unlock(doc, PASS))).toBe('wrong_passphrase');
    const reopened = await KeyRing.unlock(doc, 'a brand new organisation passphrase');
    expect(Array.from(bytesToEmbedding(reopened.open(ctx(), old), 4))).toEqual(Array.from(emb));
    expect(Array.from(bytesToEmbedding(reopened.open(ctx(), fresh), 4))).toEqual(Array.from(emb));
  });

  it('counts envelopes per key, asks for rotation at the threshold and refuses to seal at 2^32', async () => {
    const r = await KeyRing.unlock(ring.toDocument(), PASS, { rotateAt: 3 });
    expect(r.needsRotation()).toBe(false);
    for (let i = 0; i < 3; i++) r.seal(ctx(), embeddingToBytes(emb));
    expect(r.usage()).toBe(3);
    expect(r.needsRotation()).toBe(true);
    r.rotate();
    expect(r.needsRotation()).toBe(false);
    r.noteUsage({ [r.currentKid()]: KEY_USE_LIMIT - 1 });
    expect(codeOf(() => r.seal(ctx(), embeddingToBytes(emb)))).toBe('key_exhausted');
  });

  it('the raw seal/open round-trips and a short passphrase is refused', async () => {
    const key = randomBytes(32);
    const env = sealV2(key, 'k1', { ...ctx(), org: 'o' }, Buffer.from('hello'));
    expect(openV2(key, { ...ctx(), org: 'o' }, env).toString()).toBe('hello');
    expect(await codeOfAsync(() => KeyRing.create('acme', 'short'))).toBe('malformed');
  });
});

describe('envelope v1 (the original system) and v1 → v2', () => {
  const salt = 'blink-original-app-salt';
  const password = 'org-password-1';
  const embedding = Float32Array.from({ length: 128 }, (_, i) => Math.sin(i) / 8);

  it('opens the JSON plaintext the original app writes and reports the encoding', async () => {
    const env = originalV1Envelope(password, salt, Buffer.from(JSON.stringify(Array.from(embedding)), 'utf8'));
    const key = await deriveV1Key(password, parseV1Salt(salt));
    const opened = openV1(key, env);
    expect(opened.encoding).toBe('json');
    expect(Array.from(opened.embedding)).toEqual(Array.from(embedding));
  });

  it('opens raw little-endian float32 bytes too', async () => {
    const raw = Buffer.from(embedding.buffer.slice(0));
    const env = originalV1Envelope(password, salt, raw);
    const opened = openV1(await deriveV1Key(password, parseV1Salt(salt)), env);
    expect(opened.encoding).toBe('float32le');
    expect(Array.from(opened.embedding)).toEqual(Array.from(embedding));
  });

  it('refuses a wrong password, a wrong salt, tampering and an undecodable plaintext', async () => {
    const env = originalV1Envelope(password, salt, Buffer.from(JSON.stringify(Array.from(embedding))));
    expect(codeOf(() => openV1(pbkdf2Sync('wrong', salt, 10_000, 32, 'sha256'), env))).toBe('not_authentic');
    expect(codeOf(() => openV1(pbkdf2Sync(password, 'other-salt', 10_000, 32, 'sha256'), env))).toBe('not_authentic');
    const key = await deriveV1Key(password, parseV1Salt(salt));
    const ct = Buffer.from(env.ciphertext, 'base64');
    ct[3] = ct[3]! ^ 0x40;
    expect(codeOf(() => openV1(key, { ...env, ciphertext: ct.toString('base64') }))).toBe('not_authentic');
    const junk = originalV1Envelope(password, salt, Buffer.from('hello world'));
    expect(codeOf(() => openV1(key, junk))).toBe('bad_plaintext');
    const short = originalV1Envelope(password, salt, Buffer.from(JSON.stringify([1, 2, 3])));
    expect(codeOf(() => openV1(key, short))).toBe('bad_plaintext');
  });

  it('the v1 salt takes text, hex: or base64:', () => {
    expect(parseV1Salt('abc').toString()).toBe('abc');
    expect(parseV1Salt('hex:616263').toString()).toBe('abc');
    expect(parseV1Salt('base64:YWJj').toString()).toBe('abc');
    expect(codeOf(() => parseV1Salt('hex:zz'))).toBe('malformed');
    expect(codeOf(() => parseV1Salt(''))).toBe('malformed');
  });

  it('re-wraps a v1 envelope as v2 bound to the person, which then refuses to move', async () => {
    const ring = await KeyRing.create('acme', PASS);
    const env = originalV1Envelope(password, salt, Buffer.from(JSON.stringify(Array.from(embedding))));
    const key = await deriveV1Key(password, parseV1Salt(salt));
    const rw = rewrapV1(key, env, ring, { personId: 'p-9', itemId: 'v1:p-9', modelId: 'legacy-v1:mobilefacenet', recordVersion: 2 });
    expect(rw.encoding).toBe('json');
    expect(rw.envelope.v).toBe(2);
    const c = { kind: 'template' as const, personId: 'p-9', itemId: 'v1:p-9', modelId: 'legacy-v1:mobilefacenet', dim: 128, recordVersion: 2 };
    expect(Array.from(bytesToEmbedding(ring.open(c, rw.envelope), 128))).toEqual(Array.from(embedding));
    expect(codeOf(() => ring.open({ ...c, personId: 'p-10' }, rw.envelope))).toBe('not_authentic');
  });
});

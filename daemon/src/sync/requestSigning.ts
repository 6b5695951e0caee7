/**
 * Device request signatures: how a unit proves who it is on every request to the sync server,
 * in a way that cannot be replayed. One owner for both sides (the client signs, the server
 * verifies), so the canonical form cannot drift.
 *
 *   Authorization: BLINK-ED25519 device="<org>/<device>", ts="<unix ms>", nonce="<random>", sig="<base64url>"
 *
 * The signature (Ed25519, the device's own key pair, generated on the unit at first start)
 * covers the method, the path with its query, the device, the time, the nonce and the SHA-256
 * of the exact body bytes. The server refuses a time outside its clock-skew window and any
 * nonce it has already seen for that device within the window, so a captured request is
 * worthless a second time, and a changed body or path breaks the signature.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const AUTH_SCHEME = 'BLINK-ED25519';
/** Organisation and device ids: letters, digits, _ and -, 1–64 characters. */
export const ID_PATTERN = '^[A-Za-z0-9_-]{1,64}$';
const ID = new RegExp(ID_PATTERN);

export interface SignedHeaderFields {
  org: string;
  device: string;
  ts: number;
  nonce: string;
  sig: string;
}

export function bodyDigest(body: Uint8Array | string | undefined): string {
  return createHash('sha256')
    .update(body ?? '')
    .digest('hex');
}

export function canonicalRequest(method: string, pathAndQuery: string, org: string, device: string, ts: number, nonce: string, bodySha256Hex: string): Buffer {
  return Buffer.from([`${AUTH_SCHEME}-V1`, method.toUpperCase(), pathAndQuery, `${org}/${device}`, String(ts), nonce, bodySha256Hex].join('\n'), 'utf8');
}

/** The Authorization header value for one request. */
export function signRequest(
  key: KeyObject,
  org: string,
  device: string,
  method: string,
  pathAndQuery: string,
  body: Uint8Array | string | undefined,
  now = Date.now(),
): string {
  const nonce = randomBytes(16).toString('base64url');
  const sig = sign(null, canonicalRequest(method, pathAndQuery, org, device, now, nonce, bodyDigest(body)), key).toString('base64url');
  return `${AUTH_SCHEME} device="${org}/${device}", ts="${now}", nonce="${nonce}", sig="${sig}"`;
}

/** A second signature over the same request by another key (key rotation proves possession of the new key this way). */
export function signCanonical(key: KeyObject, canonical: Buffer): string {
  return sign(null, canonical, key).toString('base64url');
}

/** Parses the Authorization header; null when it is not this scheme or not well formed. */
export function parseAuthorization(header: string | undefined): SignedHeaderFields | null {
  if (!header || !header.startsWith(AUTH_SCHEME + ' ')) return null;
  const fields = new Map<string, string>();
  for (const part of header.slice(AUTH_SCHEME.length + 1).split(',')) {
    const m = /^\s*([a-z]+)="([^"]*)"\s*$/.exec(part);
    if (!m) return null;
    fields.set(m[1]!, m[2]!);
  }
  const [org, device, extra] = (fields.get('device') ?? '').split('/');
  const ts = Number(fields.get('ts'));
  const nonce = fields.get('nonce') ?? '';
  const sig = fields.get('sig') ?? '';
  if (extra !== undefined || !org || !device || !ID.test(org) || !ID.test(device)) return null;
  if (!Number.isSafeInteger(ts) || !/^[A-Za-z0-9_-]{16,64}$/.test(nonce) || !/^[A-Za-z0-9_-]{80,90}$/.test(sig)) return null;
  return { org, device, ts, nonce, sig };
}

export function verifySignature(publicKey: KeyObject, canonical: Buffer, sigB64url: string): boolean {
  try {
    return verify(null, canonical, publicKey, Buffer.from(sigB64url, 'base64url'));
  } catch {
    return false;
  }
}

/** The public key as it travels: the raw 32-byte Ed25519 key, base64url (the JWK "x"). */
export function exportPublicKey(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const x = pub.export({ format: 'jwk' }).x;
  if (!x) throw new Error('not an Ed25519 key');
  return x;
}

export function importPublicKey(x: string): KeyObject {
  if (!/^[A-Za-z0-9_-]{43}$/.test(x)) throw new Error('public key: expected 32 bytes of Ed25519 key, base64url (43 characters)');
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
}

export function generateDeviceKey(): KeyObject {
  return generateKeyPairSync('ed25519').privateKey;
}

/**
 * The unit's device key: read from FILE, or generated at first start and written there
 * (PKCS#8 PEM, mode 0600, written to a temporary file and renamed so a crash leaves no half key).
 */
export function loadOrCreateDeviceKey(file: string): { key: KeyObject; created: boolean } {
  if (existsSync(file)) {
    const key = createPrivateKey(readFileSync(file));
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${file}: not an Ed25519 private key`);
    return { key, created: false };
  }
  const key = generateDeviceKey();
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, key.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return { key, created: true };
}

/**
 * Who is asking: every route says what it needs in its config (`auth`), the guard decides on
 * the matched route (never the raw URL) and refuses by default.
 *
 *   device     an ACTIVE device of the path's organisation, by its request signature
 *   device-any the same, PENDING allowed (a unit asking whether it has been approved)
 *   register   a signature by the key being registered (proof of possession)
 *   reader     a head-office API token (Bearer)
 *   legacy     the original system's routes: a signed device, a reader token (reads), or
 *              nobody at all when the organisation's legacy mode is on (insecure, off by default)
 *   docs       a reader token (Bearer, or Basic with the token as password) or a signed device
 *   public     /health
 *
 * No credentials or bad ones → 401; a revoked or pending device → 403 (told only to the key's
 * holder: the signature is checked first); another organisation's path → 404.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { canonicalRequest, bodyDigest, importPublicKey, parseAuthorization, verifySignature } from '../sync/requestSigning.js';
import { NEW_KEY_SIGNATURE_HEADER, type RegisterRequest } from '../sync/protocol.js';
import type { DevicesRepo } from './devicesRepo.js';
import { forbidden, HttpError, notFound, unauthorized } from './errors.js';
import type { OrgsRepo } from './orgsRepo.js';
import type { TokensRepo } from './tokensRepo.js';

export type AuthMode = 'public' | 'register' | 'device' | 'device-any' | 'reader' | 'legacy' | 'docs';

export type Principal =
  | { kind: 'device'; org: string; deviceId: string; publicKey: string; canonical: Buffer }
  | { kind: 'registering'; org: string; deviceId: string; publicKey: string }
  | { kind: 'token'; org: string; tokenId: string }
  | { kind: 'legacy'; org: string };

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthMode;
  }
  interface FastifyRequest {
    principal: Principal | null;
    rawBody: Buffer | undefined;
  }
}

export interface AuthDeps {
  devices: DevicesRepo;
  tokens: TokensRepo;
  orgs: OrgsRepo;
  clockSkewMs: number;
  legacyOrg: string;
  now: () => number;
}

/** The principal's key for rate limiting: one bucket per device, token, or (unauthenticated) address. */
export function principalKey(req: FastifyRequest): string {
  const p = req.principal;
  if (!p) return `ip:${req.ip}`;
  if (p.kind === 'device' || p.kind === 'registering') return `dev:${p.org}/${p.deviceId}`;
  if (p.kind === 'token') return `tok:${p.tokenId}`;
  return `legacy:${p.org}:${req.ip}`;
}

const pathOrg = (req: FastifyRequest): string | undefined => (req.params as { org?: string } | undefined)?.org;

async function deviceSignature(req: FastifyRequest, mode: AuthMode, deps: AuthDeps): Promise<Principal> {
  const f = parseAuthorization(req.headers.authorization);
  if (!f) throw unauthorized('malformed Authorization header: expected BLINK-ED25519 device="<org>/<device>", ts, nonce, sig');
  const drift = Math.abs(deps.now() - f.ts);
  if (drift > deps.clockSkewMs) {
    throw unauthorized(
      `request time differs from the server's by ${Math.round(drift / 1000)} s (more than ${deps.clockSkewMs / 1000} s): check the unit's clock (NTP)`,
    );
  }
  const canonical = canonicalRequest(req.method, req.url, f.org, f.device, f.ts, f.nonce, bodyDigest(req.rawBody));
  if (mode === 'register') {
    const body = req.body as Partial<RegisterRequest> | undefined;
    if (!body || body.org !== f.org || body.device_id !== f.device || typeof body.public_key !== 'string') {
      throw unauthorized('registration must be signed by the key it registers, for the same organisation and device id');
    }
    let key;
    try {
      key = importPublicKey(body.public_key);
    } catch (err) {
      throw unauthorized((err as Error).message);
    }
    if (!verifySignature(key, canonical, f.sig)) throw unauthorized('signature does not verify with the public key being registered');
    if (!(await deps.devices.useNonce(f.org, f.device, f.nonce, f.ts + deps.clockSkewMs))) throw unauthorized('replayed request: this nonce was used already');
    return { kind: 'registering', org: f.org, deviceId: f.device, publicKey: body.public_key };
  }
  const device = await deps.devices.get(f.org, f.device);
  if (!device) throw unauthorized(`unknown device ${f.org}/${f.device}: register it first`);
  if (!verifySignature(importPublicKey(device.publicKey), canonical, f.sig))
    throw unauthorized('signature does not verify with the key registered for this device');
  if (!(await deps.devices.useNonce(f.org, f.device, f.nonce, f.ts + deps.clockSkewMs))) throw unauthorized('replayed request: this nonce was used already');
  if (device.status === 'REVOKED') throw forbidden(`device ${f.org}/${f.device} is revoked`);
  if (device.status === 'PENDING' && mode !== 'device-any') throw forbidden(`device ${f.org}/${f.device} is waiting for an operator's approval`);
  void deps.devices.touch(f.org, f.device).catch(() => undefined);
  return { kind: 'device', org: f.org, deviceId: f.device, publicKey: device.publicKey, canonical };
}

async function bearer(token: string, deps: AuthDeps): Promise<Principal> {
  const t = await deps.tokens.verify(token);
  if (!t) throw unauthorized('unknown or revoked API token');
  return { kind: 'token', org: t.org, tokenId: t.id };
}

function credentialKind(req: FastifyRequest): 'signature' | 'bearer' | 'basic' | null {
  const h = req.headers.authorization;
  if (!h) return null;
  if (h.startsWith('BLINK-ED25519 ')) return 'signature';
  if (/^Bearer /i.test(h)) return 'bearer';
  if (/^Basic /i.test(h)) return 'basic';
  return null;
}

async function authenticate(req: FastifyRequest, mode: AuthMode, deps: AuthDeps): Promise<Principal | null> {
  const kind = credentialKind(req);
  const h = req.headers.authorization ?? '';
  if (kind === 'signature') return deviceSignature(req, mode, deps);
  if (kind === 'bearer') return bearer(h.slice(7).trim(), deps);
  if (kind === 'basic' && mode === 'docs') {
    const decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
    return bearer(decoded.slice(decoded.indexOf(':') + 1), deps);
  }
  if (h) throw unauthorized('unsupported Authorization scheme: sign the request (BLINK-ED25519) or send a reader token (Bearer)');
  return null;
}

async function decide(req: FastifyRequest, mode: AuthMode, deps: AuthDeps): Promise<Principal | null> {
  if (mode === 'public') return null;
  const p = await authenticate(req, mode, deps);
  const org = pathOrg(req);
  switch (mode) {
    case 'register':
      if (p?.kind !== 'registering') throw unauthorized('registration must be signed (BLINK-ED25519) by the key it registers');
      return p;
    case 'device':
    case 'device-any':
      if (!p) throw unauthorized('authentication required: sign the request with the device key (BLINK-ED25519)');
      if (p.kind !== 'device') throw forbidden('this route is for devices (signed requests), not API tokens');
      if (org !== undefined && org !== p.org) throw notFound(`no organisation "${org}"`);
      return p;
    case 'reader':
      if (!p) throw unauthorized('authentication required: send a reader token (Authorization: Bearer blk_…)');
      if (p.kind !== 'token') throw forbidden('this route is for head-office reader tokens');
      return p;
    case 'docs':
      if (!p)
        throw new HttpError(401, 'the API documentation needs a reader token (user name anything, password the token)', {
          'www-authenticate': 'Basic realm="BLINK sync server"',
        });
      return p;
    case 'legacy': {
      if (p?.kind === 'device') {
        if (org !== undefined && org !== p.org) throw notFound(`no organisation "${org}"`);
        return p;
      }
      if (p?.kind === 'token') {
        if (org !== undefined && org !== p.org) throw notFound(`no organisation "${org}"`);
        if (req.method !== 'GET') throw forbidden('reader tokens cannot write');
        return p;
      }
      const target = org ?? deps.legacyOrg;
      const o = target ? await deps.orgs.get(target) : null;
      if (o?.legacy) return { kind: 'legacy', org: o.id };
      if (org !== undefined && !o) throw notFound(`no organisation "${org}"`);
      throw unauthorized('authentication required: sign the request with the device key (legacy unauthenticated access is off for this organisation)');
    }
  }
  return null;
}

/**
 * Installs the guard. Before the body is read, a request without any credential to a route
 * that needs one is refused (a stranger's large body is never parsed); after parsing, the
 * signature (which covers the body) is checked before validation, so a stranger learns
 * nothing about the schema either.
 */
export function installAuth(app: FastifyInstance, deps: AuthDeps): void {
  app.decorateRequest('principal', null);
  app.decorateRequest('rawBody', undefined);
  app.addHook('onRoute', (opts) => {
    if (opts.url.startsWith('/docs')) opts.config = { ...(opts.config ?? {}), auth: 'docs' };
  });
  app.addHook('onRequest', async (req) => {
    const mode = req.routeOptions.config?.auth ?? 'device';
    if (mode === 'public' || mode === 'legacy' || req.is404) return;
    if (!req.headers.authorization) await decide(req, mode, deps); // throws the right 401
  });
  app.addHook('preValidation', async (req) => {
    if (req.is404) return;
    req.principal = await decide(req, req.routeOptions.config?.auth ?? 'device', deps);
  });
}

/** Key rotation: the request also carries the new key's signature of the same canonical request. */
export function verifyNewKeySignature(req: FastifyRequest, newPublicKey: string): boolean {
  const p = req.principal;
  const sig = req.headers[NEW_KEY_SIGNATURE_HEADER];
  if (p?.kind !== 'device' || typeof sig !== 'string') return false;
  try {
    return verifySignature(importPublicKey(newPublicKey), p.canonical, sig);
  } catch {
    return false;
  }
}

import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CSRF_HEADER, SESSION_COOKIE, type AdminContext } from './adminContext.js';
import { HttpError } from './httpErrors.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A browser's Origin must be this server (host header) when it sends one: blocks cross-site requests outright. */
function originAllowed(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/**
 * Deny by default: every /api/v1 route needs a live session unless its config says
 * access 'public'. Reads need the viewer role, changes the admin role unless the route says
 * otherwise, and every state-changing request carries the session's CSRF token in the
 * X-CSRF-Token header (synchronizer token).
 */
export function installGuard(app: FastifyInstance, admin: AdminContext): void {
  app.decorateRequest('adminSession', null);
  app.addHook('onRequest', async (req) => {
    const token = req.cookies[SESSION_COOKIE];
    const cfg = admin.ctx.config.admin;
    req.adminSession = token ? (admin.sessions.validate(token, admin.now(), cfg.sessionIdleMinutes) ?? null) : null;
  });
  app.addHook('preHandler', async (req) => {
    if (!req.url.startsWith('/api/')) return;
    const access = req.routeOptions.config?.access ?? (SAFE_METHODS.has(req.method) ? 'viewer' : 'admin');
    const changing = !SAFE_METHODS.has(req.method);
    if (changing && !originAllowed(req)) throw new HttpError(403, 'bad_origin', 'cross-site request refused (Origin does not match this server)');
    if (access === 'public') return;
    const s = req.adminSession;
    if (!s) throw new HttpError(401, 'unauthenticated', 'sign in first (no session, or it has expired)');
    if (changing) {
      const sent = req.headers[CSRF_HEADER];
      if (typeof sent !== 'string' || !sameToken(sent, s.csrfToken)) {
        throw new HttpError(403, 'csrf', 'missing or wrong CSRF token (X-CSRF-Token header); reload the page and try again');
      }
    }
    if (access === 'admin' && s.role !== 'admin') throw new HttpError(403, 'forbidden', `the ${s.role} role may not do this; an admin may`);
  });
}

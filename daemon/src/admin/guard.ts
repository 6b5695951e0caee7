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

/** The access a matched route needs: its config, else viewer for reads and admin for changes. */
export function routeAccess(method: string, access: 'public' | 'admin' | 'viewer' | undefined): 'public' | 'admin' | 'viewer' {
  return access ?? (SAFE_METHODS.has(method) ? 'viewer' : 'admin');
}

/**
 * Deny by default: every route of the admin (API, OpenAPI docs, anything added later) needs a
 * live session unless its config says access 'public' (login, setup, auth state, the UI's
 * static files). Reads need the viewer role, changes the admin role unless the route says
 * otherwise, and every state-changing request carries the session's CSRF token in the
 * X-CSRF-Token header (synchronizer token).
 *
 * Decided on the matched route (req.routeOptions), never on req.url: the router decodes
 * percent-escapes, so "/%61pi/v1/door/unlock" reaches the unlock route while its raw URL does
 * not start with "/api/". Checked in onRequest, before a body is read or parsed.
 * Install before any route or plugin is registered so that every one of them is covered.
 */
export function installGuard(app: FastifyInstance, admin: AdminContext): void {
  app.decorateRequest('adminSession', null);
  app.addHook('onRequest', async (req) => {
    const token = req.cookies[SESSION_COOKIE];
    const cfg = admin.config.admin;
    req.adminSession = token ? (admin.sessions.validate(token, admin.now(), cfg.sessionIdleMinutes) ?? null) : null;
    // No is404 shortcut: routes registered by plugins can lack config.url (swagger-ui's /docs/*), and
    // a not-found answer to a stranger is one more thing they need not learn. Unknown paths need a session.
    const changing = !SAFE_METHODS.has(req.method);
    if (changing && !originAllowed(req)) throw new HttpError(403, 'bad_origin', 'cross-site request refused (Origin does not match this server)');
    const access = routeAccess(req.method, req.routeOptions.config?.access);
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

/** Marks every route registered in this scope (and its children) public: for the UI's static files. */
export function markPublic(scope: FastifyInstance): void {
  scope.addHook('onRoute', (opts) => {
    opts.config = { ...(opts.config ?? {}), access: 'public' };
  });
}

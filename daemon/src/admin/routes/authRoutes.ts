import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { actorOf, remoteOf, SESSION_COOKIE, type AdminContext } from '../adminContext.js';
import { HttpError, badRequest, errorSchema } from '../httpErrors.js';
import { PasswordBusyError, dummyPasswordHash, hashPassword, passwordProblem, verifyPassword } from '../password.js';
import { hashToken } from '../sessionsRepo.js';
import type { AdminUser } from '../usersRepo.js';

const USERNAME = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._@-]+$' } as const;
const PASSWORD = { type: 'string', minLength: 1, maxLength: 256 } as const;

const meSchema = {
  type: 'object',
  properties: {
    setupRequired: { type: 'boolean' },
    user: {
      type: ['object', 'null'],
      properties: { id: { type: 'integer' }, username: { type: 'string' }, role: { type: 'string', enum: ['admin', 'viewer'] } },
    },
    csrfToken: { type: ['string', 'null'] },
    unit: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } } },
    idleMinutes: { type: 'integer' },
  },
} as const;

export function authRoutes(app: FastifyInstance, admin: AdminContext): void {
  const state = (req: FastifyRequest) => {
    const s = req.adminSession;
    return {
      setupRequired: admin.users.count() === 0,
      user: s ? { id: s.userId, username: s.username, role: s.role } : null,
      csrfToken: s?.csrfToken ?? null,
      unit: { id: admin.config.unit.id, name: admin.config.unit.name },
      idleMinutes: admin.config.admin.sessionIdleMinutes,
    };
  };

  /** New session (the old one, if any, is dropped: the id is regenerated at every login). */
  const startSession = (req: FastifyRequest, reply: FastifyReply, user: AdminUser) => {
    const old = req.cookies[SESSION_COOKIE];
    if (old) admin.sessions.remove(hashToken(old));
    const { token, session } = admin.sessions.create(
      user.id,
      admin.now(),
      admin.config.admin.sessionAbsoluteHours,
      remoteOf(req),
      req.headers['user-agent'] ?? null,
    );
    admin.setSessionCookie(reply, token);
    req.adminSession = session;
  };

  app.get(
    '/api/v1/auth/state',
    {
      config: { access: 'public' },
      schema: { tags: ['auth'], summary: 'Whether setup is needed, who is signed in, and the CSRF token for this session', response: { 200: meSchema } },
    },
    async (req) => state(req),
  );

  app.post<{ Body: { token: string; username: string; password: string } }>(
    '/api/v1/auth/setup',
    {
      config: { access: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'First run: create the first admin with the one-time setup token printed in the log',
        body: {
          type: 'object',
          required: ['token', 'username', 'password'],
          additionalProperties: false,
          properties: { token: { type: 'string', maxLength: 200 }, username: USERNAME, password: PASSWORD },
        },
        response: { 200: meSchema, 400: errorSchema, 403: errorSchema, 409: errorSchema, 429: errorSchema },
      },
    },
    async (req, reply) => {
      const { token, username, password } = req.body;
      if (admin.users.count() > 0) throw new HttpError(409, 'already_set_up', 'this unit is already set up: sign in instead');
      // Wrong tokens lock the address that sent them (not setup as a whole: a stranger must not block the owner).
      const setupSubject = `(setup)@${remoteOf(req)}`;
      const verdict = admin.throttle.check(setupSubject, remoteOf(req), admin.now());
      if (!verdict.allowed) {
        reply.header('retry-after', String(verdict.retryAfterSec));
        throw new HttpError(429, 'locked_out', `too many wrong setup tokens; try again in ${Math.ceil(verdict.retryAfterSec / 60)} min`);
      }
      if (!admin.setup.matches(token)) {
        admin.throttle.record(setupSubject, remoteOf(req), false, 'bad_password', admin.now());
        throw new HttpError(
          403,
          'bad_setup_token',
          'wrong setup token: copy it from the blinkd log (journalctl -u blinkd | grep "setup token") or the file admin-setup-token in the data directory',
        );
      }
      const problem = await passwordProblem(password, username);
      if (problem) throw badRequest(problem);
      const hash = await hashPassword(password);
      const user = admin.users.createFirst(username, hash, admin.now().toISOString());
      if (!user) throw new HttpError(409, 'already_set_up', 'this unit is already set up: sign in instead');
      admin.setup.consume();
      startSession(req, reply, user);
      admin.audit(req, 'admin.setup', `user:${user.username}`, { role: 'admin' });
      return state(req);
    },
  );

  app.post<{ Body: { username: string; password: string } }>(
    '/api/v1/auth/login',
    {
      config: { access: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Sign in; sets an HttpOnly, SameSite=Strict session cookie',
        body: { type: 'object', required: ['username', 'password'], additionalProperties: false, properties: { username: USERNAME, password: PASSWORD } },
        response: { 200: meSchema, 401: errorSchema, 429: errorSchema },
      },
    },
    async (req, reply) => {
      const { username, password } = req.body;
      const remote = remoteOf(req);
      const cfg = admin.config.admin;
      const verdict = admin.throttle.check(username, remote, admin.now());
      if (!verdict.allowed) {
        admin.throttle.refused(username, remote, admin.now());
        reply.header('retry-after', String(verdict.retryAfterSec));
        throw new HttpError(429, 'locked_out', `too many failed sign-ins: locked for ${Math.ceil(verdict.retryAfterSec / 60)} more minute(s)`, {
          retryAfterSec: verdict.retryAfterSec,
        });
      }
      // Counted as a failure from now until the password proves right: no await between check and begin,
      // so parallel guesses see each other and at most loginMaxFailures of them are ever checked.
      const attempt = admin.throttle.begin(username, remote, admin.now());
      const creds = admin.users.credentials(username);
      let ok: boolean;
      try {
        ok = await verifyPassword(password, creds?.passwordHash ?? (await dummyPasswordHash()));
      } catch (err) {
        if (err instanceof PasswordBusyError) admin.throttle.settle(attempt, 'busy'); // refused unchecked: not a wrong password
        throw err;
      }
      if (!creds || !ok || creds.user.disabled) {
        if (creds?.user.disabled && ok) admin.throttle.settle(attempt, 'disabled');
        const after = admin.throttle.check(username, remote, admin.now());
        if (!after.allowed) {
          reply.header('retry-after', String(after.retryAfterSec));
          admin.store.audit.record('system', 'admin.lockout', `user:${username.toLowerCase()}`, { remote, minutes: cfg.lockoutMinutes });
          throw new HttpError(429, 'locked_out', `too many failed sign-ins: locked for ${cfg.lockoutMinutes} minute(s)`, {
            retryAfterSec: after.retryAfterSec,
          });
        }
        throw new HttpError(401, 'bad_credentials', 'wrong user name or password');
      }
      admin.throttle.settle(attempt, 'ok');
      startSession(req, reply, creds.user);
      admin.audit(req, 'admin.login', `user:${creds.user.username}`, { remote });
      return state(req);
    },
  );

  app.post(
    '/api/v1/auth/logout',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['auth'],
        summary: 'Sign out (the session is deleted on the server)',
        response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } } },
      },
    },
    async (req, reply) => {
      const token = req.cookies[SESSION_COOKIE];
      admin.audit(req, 'admin.logout', `user:${req.adminSession?.username}`);
      if (token) admin.sessions.remove(hashToken(token));
      admin.clearSessionCookie(reply);
      return { ok: true };
    },
  );

  app.post<{ Body: { currentPassword: string; newPassword: string } }>(
    '/api/v1/auth/password',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['auth'],
        summary: 'Change your own password (other sessions of yours are signed out)',
        body: {
          type: 'object',
          required: ['currentPassword', 'newPassword'],
          additionalProperties: false,
          properties: { currentPassword: PASSWORD, newPassword: PASSWORD },
        },
        response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } }, 400: errorSchema, 401: errorSchema, 429: errorSchema },
      },
    },
    async (req, reply) => {
      const s = req.adminSession!;
      // A session left open must not become an unthrottled oracle for the account's password.
      const remote = remoteOf(req);
      const verdict = admin.throttle.check(s.username, remote, admin.now());
      if (!verdict.allowed) {
        reply.header('retry-after', String(verdict.retryAfterSec));
        throw new HttpError(429, 'locked_out', `too many wrong passwords: try again in ${Math.ceil(verdict.retryAfterSec / 60)} minute(s)`, {
          retryAfterSec: verdict.retryAfterSec,
        });
      }
      const attempt = admin.throttle.begin(s.username, remote, admin.now());
      const creds = admin.users.credentials(s.username);
      if (!creds || !(await verifyPassword(req.body.currentPassword, creds.passwordHash)))
        throw new HttpError(401, 'bad_credentials', 'the current password is wrong');
      admin.throttle.settle(attempt, 'ok');
      const problem = await passwordProblem(req.body.newPassword, s.username);
      if (problem) throw badRequest(problem);
      admin.users.setPassword(s.userId, await hashPassword(req.body.newPassword));
      admin.sessions.removeForUser(s.userId, s.idHash);
      admin.audit(req, 'admin.password_changed', `user:${s.username}`);
      return { ok: true };
    },
  );

  // ---- accounts (admin only) ----
  const userSchema = {
    type: 'object',
    properties: {
      id: { type: 'integer' },
      username: { type: 'string' },
      role: { type: 'string' },
      createdAt: { type: 'string' },
      disabled: { type: 'boolean' },
    },
  } as const;

  app.get(
    '/api/v1/users',
    {
      config: { access: 'admin' },
      schema: { tags: ['auth'], summary: 'Admin accounts', response: { 200: { type: 'array', items: userSchema } } },
    },
    async () => admin.users.list(),
  );

  app.post<{ Body: { username: string; password: string; role: 'admin' | 'viewer' } }>(
    '/api/v1/users',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create an account',
        body: {
          type: 'object',
          required: ['username', 'password', 'role'],
          additionalProperties: false,
          properties: { username: USERNAME, password: PASSWORD, role: { type: 'string', enum: ['admin', 'viewer'] } },
        },
        response: { 200: userSchema, 400: errorSchema, 409: errorSchema },
      },
    },
    async (req) => {
      const { username, password, role } = req.body;
      if (admin.users.credentials(username)) throw new HttpError(409, 'exists', `an account named "${username}" already exists`);
      const problem = await passwordProblem(password, username);
      if (problem) throw badRequest(problem);
      const user = admin.users.create(username, await hashPassword(password), role, admin.now().toISOString());
      admin.audit(req, 'admin.user_created', `user:${user.username}`, { role });
      return user;
    },
  );

  app.delete<{ Params: { id: number } }>(
    '/api/v1/users/:id',
    {
      schema: {
        tags: ['auth'],
        summary: 'Delete an account',
        params: { type: 'object', properties: { id: { type: 'integer' } } },
        response: { 200: { type: 'object', properties: { ok: { type: 'boolean' } } }, 404: errorSchema, 409: errorSchema },
      },
    },
    async (req) => {
      const user = admin.users.get(req.params.id);
      if (!user) throw new HttpError(404, 'not_found', 'account not found');
      if (user.id === req.adminSession!.userId) throw new HttpError(409, 'self', 'you cannot delete your own account');
      if (user.role === 'admin' && admin.users.countAdmins() <= 1) throw new HttpError(409, 'last_admin', 'the last admin account cannot be deleted');
      admin.users.remove(user.id);
      admin.audit(req, 'admin.user_deleted', `user:${user.username}`, { by: actorOf(req) });
      return { ok: true };
    },
  );
}

import type { OperatingPoints } from '../access/operatingPoint.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AlarmRegistry } from '../alarms/alarmRegistry.js';
import type { CommandDispatcher } from '../commands/dispatcher.js';
import type { Config } from '../config/schema.js';
import type { UnitSettings } from '../config/unitSettings.js';
import type { DoorService } from '../door/doorService.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logging.js';
import type { PeopleRegistry } from '../registry/peopleRegistry.js';
import type { Store } from '../store/store.js';
import type { AdminUsersRepo, AdminRole } from './usersRepo.js';
import type { AdminSessionsRepo, AdminSession } from './sessionsRepo.js';
import type { LoginThrottle } from './loginThrottle.js';
import type { SetupToken } from './setupToken.js';
import type { FaceServices } from './faceServices.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in admin session, or null. Set for every /api/v1 request. */
    adminSession: AdminSession | null;
  }
  interface FastifyContextConfig {
    /** public = no session needed; otherwise the least role allowed (default: viewer for reads, admin for changes). */
    access?: 'public' | AdminRole;
  }
}

/** The unit's parts the admin uses, handed to it by the composition root. */
export interface AdminDeps {
  /** The effective configuration (read at use: live settings change it in place). */
  config: Config;
  /** Saved settings: the only way the admin changes the configuration. */
  settings: UnitSettings;
  /** Decisions, attendance and the audit log. */
  store: Store;
  registry: PeopleRegistry;
  door: DoorService;
  commands: CommandDispatcher;
  alarms: AlarmRegistry;
  bus: EventBus;
  log: Logger;
  /** The unit's health report (the body of GET /health). */
  health: () => { httpStatus: number; body: Record<string, unknown> };
  /** The door's threshold and margin (the enrollment duplicate check uses the same threshold). */
  operatingPoint?: OperatingPoints;
}

/** What the admin routes share: the unit's parts plus the admin's own repositories and clock. */
export interface AdminContext extends AdminDeps {
  users: AdminUsersRepo;
  sessions: AdminSessionsRepo;
  throttle: LoginThrottle;
  setup: SetupToken;
  faces: FaceServices;
  now(): Date;
  /** True when the admin is served over TLS (cookies get Secure). */
  secure(): boolean;
  /** Records an admin action in the audit log as admin:<username>. */
  audit(req: FastifyRequest, action: string, target?: string | null, details?: Record<string, unknown> | null): void;
  setSessionCookie(reply: FastifyReply, token: string): void;
  clearSessionCookie(reply: FastifyReply): void;
}

export const SESSION_COOKIE = 'blink_session';
export const CSRF_HEADER = 'x-csrf-token';

export function actorOf(req: FastifyRequest): string {
  return req.adminSession ? `admin:${req.adminSession.username}` : 'anonymous';
}

export function remoteOf(req: FastifyRequest): string {
  return req.ip || req.socket.remoteAddress || 'unknown';
}

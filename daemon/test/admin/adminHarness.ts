import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configSchema, type Config } from '../../src/config/schema.js';
import { buildUnit, type Unit, type UnitOptions } from '../../src/compositionRoot.js';
import { Controller } from '../../src/controller.js';
import { createLogger } from '../../src/logging.js';
import type { AdminApi } from '../../src/admin/adminApi.js';
import { tempDir } from '../helpers/blinkd.js';

export interface Harness {
  url: string;
  controller: Controller;
  unit: Unit;
  admin: AdminApi;
  config: Config;
  dataDir: string;
  /** Moves the admin's clock forward. */
  advance(ms: number): void;
  setupToken(): string;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** none (default): no camera; camera: the camera without vision and access (live view, captures). */
  runtime?: 'none' | 'camera';
  uiDir?: string;
}

/** A real blinkd unit from the composition root (SQLite file, simulated door, Fastify on a random port) with the admin. */
export async function startAdmin(overrides: Record<string, unknown> = {}, options: HarnessOptions = {}): Promise<Harness> {
  const tmp = tempDir('blink-admin-');
  const raw = { store: { dataDir: tmp.dir }, door: { driver: 'simulated' }, ...overrides } as Record<string, unknown>;
  raw.admin = { port: 0, ...((overrides.admin as object) ?? {}) };
  const config = configSchema.parse(raw);
  let offset = 0;
  const unitOptions: UnitOptions = {
    runtime: options.runtime ?? 'none',
    adminNow: () => new Date(Date.now() + offset),
    ...(options.uiDir ? { adminUiDir: options.uiDir } : {}),
  };
  const unit = buildUnit(config, createLogger('silent'), unitOptions);
  const controller = new Controller(unit, createLogger('silent'));
  await controller.start();
  const address = unit.http.address();
  if (!address || !unit.admin) throw new Error('admin did not start');
  return {
    url: address.replace('0.0.0.0', '127.0.0.1'),
    controller,
    unit,
    admin: unit.admin,
    config: unit.config,
    dataDir: tmp.dir,
    advance: (ms) => void (offset += ms),
    setupToken: () => readFileSync(join(tmp.dir, 'admin-setup-token'), 'utf8').trim(),
    close: async () => {
      await controller.stop('test');
      tmp.cleanup();
    },
  };
}

/** A tiny browser: keeps the session cookie and the CSRF token. */
export class Client {
  cookie = '';
  csrf = '';
  lastSetCookie = '';

  constructor(readonly base: string) {}

  async req(
    method: string,
    path: string,
    body?: unknown,
    options: { csrf?: boolean; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; json: Record<string, unknown>; text: string; headers: Headers }> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.cookie) headers.cookie = this.cookie;
    if (options.csrf !== false && this.csrf && method !== 'GET') headers['x-csrf-token'] = this.csrf;
    let payload: string | FormData | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const res = await fetch(this.base + path, { method, headers, body: payload });
    const set = res.headers.get('set-cookie');
    if (set) {
      this.lastSetCookie = set;
      const m = /blink_session=([^;]*)/.exec(set);
      if (m) this.cookie = m[1] ? `blink_session=${m[1]}` : '';
    }
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      /* CSV, JPEG, HTML */
    }
    if (typeof json.csrfToken === 'string') this.csrf = json.csrfToken;
    return { status: res.status, json, text, headers: res.headers };
  }

  async setup(token: string, username = 'facilities', password = 'correct horse battery'): Promise<number> {
    return (await this.req('POST', '/api/v1/auth/setup', { token, username, password })).status;
  }

  async login(username: string, password: string): Promise<number> {
    return (await this.req('POST', '/api/v1/auth/login', { username, password })).status;
  }
}

export function count(h: Harness, table: string): number {
  return (h.unit.store.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
}

import { statfsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Command } from '../../commands/command.js';
import { loadModelManifest } from '../../vision/modelManifest.js';
import { defaultModelsDir } from '../../vision/modelSet.js';
import { actorOf, type AdminContext } from '../adminContext.js';
import { HttpError, errorSchema } from '../httpErrors.js';
import { SettingsValidationError } from '../../config/unitSettings.js';

function disk(path: string): Record<string, unknown> | null {
  try {
    const s = statfsSync(path);
    const total = s.blocks * s.bsize;
    const free = s.bavail * s.bsize;
    return {
      path,
      totalMb: Math.round(total / 1048576),
      freeMb: Math.round(free / 1048576),
      usedPct: total ? Math.round(((total - free) / total) * 1000) / 10 : null,
    };
  } catch {
    return null;
  }
}

/** Model files the unit carries (manifest id, task, precision, sha256), for the Health page. */
function models(dir: string): Array<Record<string, unknown>> | { error: string } {
  try {
    return loadModelManifest(dir || defaultModelsDir()).models.map((m) => ({
      id: m.id,
      task: m.task,
      precision: m.precision ?? null,
      sha256: m.sha256,
      bytes: m.bytes ?? null,
    }));
  } catch (err) {
    return { error: (err as Error).message };
  }
}

export function systemRoutes(app: FastifyInstance, admin: AdminContext): void {
  const { store, config, commands, settings } = admin;

  // ---- door ----
  app.get(
    '/api/v1/door',
    {
      schema: { tags: ['door'], summary: 'Door state (relay, contact, mode)', response: { 200: { type: 'object', additionalProperties: true } } },
    },
    async () => admin.door.state(),
  );

  const run = async (cmd: Command, actor: string) => {
    const result = await commands.dispatch(cmd, { actor, via: 'admin' });
    if (!result.ok) throw new HttpError(409, 'refused', result.error ?? 'the command was refused');
    return { ok: true, ...(result.detail ? { detail: result.detail } : {}), door: admin.door.state() };
  };
  const doorResponse = {
    200: {
      type: 'object',
      properties: { ok: { type: 'boolean' }, detail: { type: 'object', additionalProperties: true }, door: { type: 'object', additionalProperties: true } },
    },
    409: errorSchema,
  };

  app.post(
    '/api/v1/door/unlock',
    {
      schema: { tags: ['door'], summary: 'Unlock now: one relay pulse (audited)', response: doorResponse },
    },
    async (req) => run({ type: 'unlock' }, actorOf(req)),
  );

  const modeBody = { type: 'object', required: ['on'], additionalProperties: false, properties: { on: { type: 'boolean' } } } as const;
  app.post<{ Body: { on: boolean } }>(
    '/api/v1/door/lockdown',
    {
      schema: { tags: ['door'], summary: 'Enter or leave lockdown (no grants, relay off)', body: modeBody, response: doorResponse },
    },
    async (req) => run({ type: 'lockdown', on: req.body.on }, actorOf(req)),
  );

  app.post<{ Body: { on: boolean } }>(
    '/api/v1/door/held-unlocked',
    {
      schema: { tags: ['door'], summary: 'Hold the door unlocked, or return to normal', body: modeBody, response: doorResponse },
    },
    async (req) => run({ type: 'held_unlocked', on: req.body.on }, actorOf(req)),
  );

  // ---- health ----
  app.get(
    '/api/v1/health',
    {
      schema: {
        tags: ['system'],
        summary: 'Services, fps and per-stage latency, CPU temperature and load, memory, disk, models, outbox depths',
        response: { 200: { type: 'object', additionalProperties: true } },
      },
    },
    async () => {
      const { body } = admin.health();
      const services = body.services as Record<string, Record<string, unknown> | undefined> | undefined;
      const frameLoop = services?.access?.frameLoop as { fps?: number; lastLatencyMs?: number } | undefined;
      return {
        ...body,
        pipeline: {
          cameraFps: services?.camera?.fps ?? null,
          visionFps: frameLoop?.fps ?? null,
          captureToResultMs: frameLoop?.lastLatencyMs ?? null,
          stagesMs: admin.faces.stageTimings?.() ?? null,
        },
        models: models(config.vision.modelsDir),
        store: store.status(),
        disk: disk(resolve(config.store.dataDir)),
        admin: { sessions: admin.sessions.count(), users: admin.users.count() },
      };
    },
  );

  // ---- audit ----
  app.get<{ Querystring: { limit?: number; action?: string } }>(
    '/api/v1/audit',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['system'],
        summary: 'Who did what, when (admin, MQTT, CLI)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { limit: { type: 'integer', minimum: 1, maximum: 5000, default: 200 }, action: { type: 'string', maxLength: 64 } },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              entries: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    id: { type: 'integer' },
                    ts: { type: 'string' },
                    actor: { type: 'string' },
                    action: { type: 'string' },
                    target: { type: ['string', 'null'] },
                    details: { type: ['object', 'null'], additionalProperties: true },
                  },
                },
              },
            },
          },
        },
      },
    },
    async (req) => ({ entries: store.audit.recent(req.query.limit, req.query.action) }),
  );

  // ---- settings ----
  app.get(
    '/api/v1/settings',
    {
      schema: {
        tags: ['settings'],
        summary: 'Editable settings: value, whether overridden here, whether a change applies live (secrets are never returned)',
        response: { 200: { type: 'object', additionalProperties: true } },
      },
    },
    async () => ({ settings: settings.view() }),
  );

  app.put<{ Body: { changes: Record<string, unknown> } }>(
    '/api/v1/settings',
    {
      schema: {
        tags: ['settings'],
        summary: 'Change settings (validated with the configuration schema); says which apply now and which need a restart',
        body: {
          type: 'object',
          required: ['changes'],
          additionalProperties: false,
          properties: { changes: { type: 'object', minProperties: 1, maxProperties: 100 } },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              applied: { type: 'array', items: { type: 'string' } },
              restartRequired: { type: 'array', items: { type: 'string' } },
              settings: { type: 'array', items: { type: 'object', additionalProperties: true } },
            },
          },
          400: errorSchema,
        },
      },
    },
    async (req) => {
      const actor = actorOf(req);
      let result: ReturnType<typeof settings.change>;
      try {
        // Saved, and the live keys applied now (see UnitSettings.change).
        result = settings.change(req.body.changes, actor);
      } catch (err) {
        if (err instanceof SettingsValidationError) throw new HttpError(400, 'invalid_settings', err.problems.join('; '), { problems: err.problems });
        throw err;
      }
      const keys = [...result.applied, ...result.restartRequired];
      if (keys.length) admin.audit(req, 'settings.changed', null, { keys, restartRequired: result.restartRequired });
      return { applied: result.applied, restartRequired: result.restartRequired, settings: settings.view() };
    },
  );
}

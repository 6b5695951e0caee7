/**
 * `blinkd sync-server …`: serve, and the operator's commands on the same database
 * (DATABASE_URL, else the SQLite fallback in --data DIR). docs/SYNC.md has the runbook.
 */
import { parseCommandArgs, UsageError } from '../cli/args.js';
import { createLogger, type Logger } from '../logging.js';
import { packageVersion } from '../system/paths.js';
import { loadSyncServerConfig, type SyncServerConfig } from './config.js';
import { openServerDatabase } from './db/open.js';
import { SERVER_MIGRATIONS } from './db/migrations.js';
import { schemaVersion } from './db/schema.js';
import { SyncServer, serverContext } from './server.js';
import type { ServerContext } from './context.js';

export const SYNC_SERVER_USAGE = `usage: blinkd sync-server [serve] [--port N] [--data DIR] [--config FILE]
       blinkd sync-server migrate | status [--json]
       blinkd sync-server orgs create ID [--name NAME] [--legacy] | orgs list | orgs legacy ID on|off
       blinkd sync-server claims create --org ID [--hours N] [--count N]
       blinkd sync-server devices list [--org ID] [--json] | devices approve ORG/ID | devices revoke ORG/ID
       blinkd sync-server tokens create --org ID --name NAME | tokens list [--org ID] | tokens revoke TOKEN_ID
Database: DATABASE_URL (PostgreSQL), else the SQLite file blink_sync.db in --data DIR (default ./data/sync-server).`;

const COMMON = {
  config: { type: 'string', short: 'c' },
  port: { type: 'string', short: 'p' },
  data: { type: 'string', short: 'd' },
  org: { type: 'string' },
  name: { type: 'string' },
  hours: { type: 'string' },
  count: { type: 'string' },
  legacy: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

function configFrom(values: { config?: string; port?: string; data?: string }): SyncServerConfig {
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port: got "${values.port}", expected 0–65535`);
  }
  return loadSyncServerConfig(values.config ?? null, { port, dataDir: values.data });
}

function deviceRef(ref: string | undefined): [string, string] {
  const m = /^([A-Za-z0-9_-]{1,64})\/([A-Za-z0-9_-]{1,64})$/.exec(ref ?? '');
  if (!m) throw new UsageError(`expected ORG/DEVICE, got "${ref ?? ''}"`);
  return [m[1]!, m[2]!];
}

const out = (line: string) => process.stdout.write(line + '\n');

async function serve(config: SyncServerConfig, log: Logger): Promise<number> {
  log.info(
    { version: packageVersion(), pid: process.pid, database: config.databaseUrl ? 'postgresql (DATABASE_URL)' : `sqlite in ${config.dataDir}` },
    'sync server starting',
  );
  const server = await SyncServer.open(config, log);
  await server.listen();
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'sync server stopping');
      const force = setTimeout(() => resolve(1), 10_000);
      force.unref();
      void server.close().then(
        () => (clearTimeout(force), resolve(0)),
        () => resolve(1),
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

async function withContext<T>(config: SyncServerConfig, log: Logger, fn: (ctx: ServerContext) => Promise<T>): Promise<T> {
  const sql = await openServerDatabase(config, log);
  try {
    return await fn(serverContext(config, log, sql));
  } finally {
    await sql.close();
  }
}

export async function syncServerCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) return (out(SYNC_SERVER_USAGE), 0);
  const { values, positionals } = parseCommandArgs(argv, COMMON);
  const [group = 'serve', action, ...args] = positionals;
  const config = configFrom(values);
  if (group === 'serve') return serve(config, createLogger(config.logLevel));
  const log = createLogger(values.json ? 'silent' : 'warn', 2);
  switch (group) {
    case 'migrate':
      return withContext(config, createLogger('info', 2), async (ctx) => (out(`schema version ${await schemaVersion(ctx.sql)} (${ctx.sql.describe()})`), 0));
    case 'status':
      return withContext(config, log, async (ctx) => {
        const orgs = await ctx.orgs.list();
        const rows = [];
        for (const o of orgs) {
          const c = await ctx.people.counts(o.id);
          rows.push({
            org: o.id,
            name: o.name,
            legacy: o.legacy,
            people: c.people,
            tombstones: c.tombstones,
            attendance: await ctx.attendance.count(o.id),
            devices: (await ctx.devices.list(o.id)).length,
          });
        }
        const version = await schemaVersion(ctx.sql);
        if (values.json) out(JSON.stringify({ database: ctx.sql.describe(), schemaVersion: version, latest: SERVER_MIGRATIONS.length, orgs: rows }, null, 2));
        else {
          out(`database ${ctx.sql.describe()}, schema version ${version}`);
          for (const r of rows)
            out(
              `${r.org}  "${r.name}"  legacy ${r.legacy ? 'ON' : 'off'}  ${r.people} people  ${r.tombstones} tombstones  ${r.attendance} attendance  ${r.devices} devices`,
            );
        }
        return 0;
      });
    case 'orgs':
      return withContext(config, log, async (ctx) => {
        if (action === 'create') {
          const id = args[0];
          if (!id) throw new UsageError('orgs create needs an ID');
          const org = await ctx.orgs.create(id, values.name ?? id, values.legacy ?? false);
          out(
            `created organisation ${org.id} ("${org.name}")${org.legacy ? ' with legacy (unauthenticated) access ON: insecure, for migrating the original app only' : ''}`,
          );
          return 0;
        }
        if (action === 'list') {
          const orgs = await ctx.orgs.list();
          if (values.json) out(JSON.stringify(orgs, null, 2));
          else for (const o of orgs) out(`${o.id}  "${o.name}"  legacy ${o.legacy ? 'ON' : 'off'}  created ${o.createdAt}`);
          return 0;
        }
        if (action === 'legacy') {
          const [id, onOff] = args;
          if (!id || (onOff !== 'on' && onOff !== 'off')) throw new UsageError('orgs legacy ID on|off');
          if (!(await ctx.orgs.setLegacy(id, onOff === 'on'))) throw new Error(`no organisation "${id}"`);
          out(
            `legacy (unauthenticated original-app) access for ${id}: ${onOff === 'on' ? 'ON (insecure: anyone who can reach the server can read and write this organisation)' : 'off'}`,
          );
          return 0;
        }
        throw new UsageError(`unknown orgs action "${action ?? ''}" (create | list | legacy)`);
      });
    case 'claims':
      return withContext(config, log, async (ctx) => {
        if (action !== 'create') throw new UsageError('claims create --org ID [--hours N] [--count N]');
        if (!values.org || !(await ctx.orgs.get(values.org))) throw new Error(`no organisation "${values.org ?? ''}" (--org)`);
        const hours = values.hours ? Number(values.hours) : config.auth.claimCodeHours;
        const count = values.count ? Number(values.count) : 1;
        if (!Number.isInteger(hours) || hours < 1 || hours > 24 * 90) throw new UsageError('--hours: 1–2160');
        if (!Number.isInteger(count) || count < 1 || count > 10_000) throw new UsageError('--count: 1–10000');
        const codes = [];
        for (let i = 0; i < count; i++) codes.push(await ctx.devices.createClaimCode(values.org, hours));
        if (values.json) out(JSON.stringify(codes, null, 2));
        else for (const c of codes) out(`${c.code}  (organisation ${values.org}, one use, expires ${c.expiresAt})`);
        return 0;
      });
    case 'devices':
      return withContext(config, log, async (ctx) => {
        if (action === 'list') {
          const devices = await ctx.devices.list(values.org);
          if (values.json) out(JSON.stringify(devices, null, 2));
          else if (!devices.length) out('no devices');
          else for (const d of devices) out(`${d.org}/${d.id}  "${d.name}"  ${d.status}  registered ${d.createdAt}  last seen ${d.lastSeenAt ?? 'never'}`);
          return 0;
        }
        if (action === 'approve' || action === 'revoke') {
          const [org, id] = deviceRef(args[0]);
          const d = action === 'approve' ? await ctx.devices.approve(org, id) : await ctx.devices.revoke(org, id);
          if (!d) throw new Error(action === 'approve' ? `no PENDING device ${org}/${id}` : `no device ${org}/${id}`);
          out(
            `${org}/${id}: ${d.status}${action === 'revoke' ? ' (its requests are refused from now on; it keeps deciding at the door with what it has)' : ''}`,
          );
          return 0;
        }
        throw new UsageError(`unknown devices action "${action ?? ''}" (list | approve | revoke)`);
      });
    case 'tokens':
      return withContext(config, log, async (ctx) => {
        if (action === 'create') {
          if (!values.org || !(await ctx.orgs.get(values.org))) throw new Error(`no organisation "${values.org ?? ''}" (--org)`);
          if (!values.name) throw new UsageError('tokens create needs --name');
          const t = await ctx.tokens.create(values.org, values.name);
          out(`${t.token}\n(reader token ${t.id} for ${values.org}: shown once, keep it secret; send it as "Authorization: Bearer <token>")`);
          return 0;
        }
        if (action === 'list') {
          for (const t of await ctx.tokens.list(values.org))
            out(`${t.id}  ${t.org}  "${t.name}"  ${t.revokedAt ? `revoked ${t.revokedAt}` : 'active'}  created ${t.createdAt}`);
          return 0;
        }
        if (action === 'revoke') {
          if (!args[0] || !(await ctx.tokens.revoke(args[0]))) throw new Error(`no active token "${args[0] ?? ''}"`);
          out(`${args[0]}: revoked`);
          return 0;
        }
        throw new UsageError(`unknown tokens action "${action ?? ''}" (create | list | revoke)`);
      });
    default:
      throw new UsageError(`unknown sync-server command "${group}"\n${SYNC_SERVER_USAGE}`);
  }
}

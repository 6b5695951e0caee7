/**
 * The sync server's own configuration (not the door unit's): one small zod schema, every key
 * defaulted, unknown keys refused. Read from --config FILE (YAML or JSON); --port and --data
 * override; the database comes from DATABASE_URL (PostgreSQL, the production default), else
 * the SQLite fallback file in the data directory.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError, describeIssues } from '../config/errors.js';

const port = z.number().int().min(0).max(65535);

export const syncServerConfigSchema = z
  .object({
    /** Listen address. Put it behind a TLS-terminating load balancer, or set tls. */
    host: z.string().min(1).default('127.0.0.1'),
    port: port.default(8470),
    /** Where the SQLite fallback file lives when DATABASE_URL is unset. */
    dataDir: z.string().min(1).default('./data/sync-server'),
    /** PostgreSQL URL; DATABASE_URL in the environment wins. Empty = SQLite fallback. */
    databaseUrl: z.string().default(''),
    database: z
      .object({
        /** Connections per instance (PostgreSQL). Instances × poolMax must stay under max_connections. */
        poolMax: z.number().int().min(1).max(200).default(10),
        connectTimeoutMs: z.number().int().min(100).max(60_000).default(5000),
        statementTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
        /** Requests waiting for a connection beyond this are answered 503 at once. */
        maxWaiting: z.number().int().min(1).max(100_000).default(200),
      })
      .strict()
      .default({}),
    tls: z
      .object({ cert: z.string().default(''), key: z.string().default('') })
      .strict()
      .default({}),
    /** Behind a load balancer: trust X-Forwarded-For for the client address (rate limiting of unauthenticated requests). */
    trustProxy: z.boolean().default(false),
    limits: z
      .object({
        bodyBytes: z
          .number()
          .int()
          .min(64 * 1024)
          .max(64 * 1024 * 1024)
          .default(8 * 1024 * 1024),
        pushPeopleMax: z.number().int().min(1).max(5000).default(500),
        pushAttendanceMax: z.number().int().min(1).max(50_000).default(5000),
        legacyArrayMax: z.number().int().min(1).max(100_000).default(10_000),
        pageDefault: z.number().int().min(1).max(10_000).default(200),
        pageMax: z.number().int().min(1).max(10_000).default(1000),
        /** Requests in progress on one instance beyond this are answered 503 with Retry-After. */
        maxInFlight: z.number().int().min(1).max(100_000).default(256),
        maxEventLoopDelayMs: z.number().int().min(10).max(60_000).default(1000),
        /** Per device (or token, or address when unauthenticated), per instance. */
        rateLimitPerMinute: z.number().int().min(1).max(1_000_000).default(600),
        retryAfterSec: z.number().int().min(1).max(3600).default(5),
      })
      .strict()
      .default({}),
    auth: z
      .object({
        /** A signed request's time may differ from the server's by at most this. */
        clockSkewSec: z.number().int().min(5).max(3600).default(300),
        claimCodeHours: z
          .number()
          .int()
          .min(1)
          .max(24 * 90)
          .default(72),
        /** Devices registered without a claim code wait for an operator; at most this many per organisation. */
        maxPendingDevices: z.number().int().min(1).max(100_000).default(100),
      })
      .strict()
      .default({}),
    /** Tombstones are kept this long (at least the units' offline limit); a unit whose cursor is older gets a full snapshot. */
    tombstoneDays: z.number().int().min(1).max(3650).default(30),
    /** Organisation answering the original system's unprefixed routes (/api/v1/sync/*) when its legacy mode is on. */
    legacyOrg: z.string().default(''),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict();

export type SyncServerConfig = z.infer<typeof syncServerConfigSchema>;

export interface SyncServerOverrides {
  port?: number;
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
}

export function loadSyncServerConfig(file: string | null, overrides: SyncServerOverrides = {}): SyncServerConfig {
  let raw: unknown = {};
  const source = file ?? 'defaults';
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(source, [`cannot read the sync server configuration: ${(err as Error).message}`]);
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (err) {
      throw new ConfigError(source, [`not valid YAML/JSON: ${(err as Error).message}`]);
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(source, ['expected a mapping of keys']);
  }
  const parsed = syncServerConfigSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(source, describeIssues(parsed.error, raw));
  }
  const config = parsed.data;
  if (overrides.port !== undefined) config.port = overrides.port;
  if (overrides.dataDir !== undefined) config.dataDir = overrides.dataDir;
  config.dataDir = resolve(config.dataDir);
  const env = overrides.env ?? process.env;
  if (env.DATABASE_URL) config.databaseUrl = env.DATABASE_URL;
  return config;
}

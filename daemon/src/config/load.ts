import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { configSchema, SECRET_PATHS, type Config } from './schema.js';
import { ConfigError, describeIssues } from './errors.js';
import { applyOverrides, readEnvOverrides } from './envOverrides.js';
import { repoRoot } from '../system/paths.js';
import { migrateConfig } from './migrations.js';
import { hostnameUnitId, readUnitId } from '../system/unitId.js';

export const SYSTEM_CONFIG_PATH = '/etc/blink/blinkd.yaml';

export interface LoadedConfig {
  config: Config;
  /** The file read, or null when running on defaults. */
  file: string | null;
  envVariables: string[];
  /** What the layout migration changed in the file (renamed keys), for a warning. */
  migrationNotes: string[];
}

/**
 * Which file to read: --config, else $BLINK_CONFIG, else /etc/blink/blinkd.yaml when it
 * exists (installed unit), else blinkd.yaml at the repository root when run from a checkout,
 * else none (all defaults).
 */
export function resolveConfigPath(explicit: string | undefined, env: NodeJS.ProcessEnv): string | null {
  if (explicit) return resolve(explicit);
  if (env.BLINK_CONFIG) return resolve(env.BLINK_CONFIG);
  if (existsSync(SYSTEM_CONFIG_PATH)) return SYSTEM_CONFIG_PATH;
  const local = resolve(repoRoot(), 'blinkd.yaml');
  return existsSync(local) ? local : null;
}

/** A configuration file is small text; anything larger is a mistake (or /dev/zero). */
const MAX_CONFIG_BYTES = 1024 * 1024;

function readFile(path: string): unknown {
  let text: string;
  try {
    // A FIFO would block start-up forever and a device could be read without end: only regular files, only small ones.
    const st = statSync(path);
    if (!st.isFile())
      throw new ConfigError(path, [
        `(file): ${path}: ${st.isDirectory() ? 'a directory' : 'not a regular file'} (a configuration must be a YAML or JSON file)`,
      ]);
    if (st.size > MAX_CONFIG_BYTES) throw new ConfigError(path, [`(file): ${path} is larger than 1 MB (${st.size} bytes): not a configuration file`]);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(path, [`(file): cannot read ${path}: ${code}`]);
  }
  let data: unknown;
  try {
    data = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { prettyErrors: true });
  } catch (err) {
    throw new ConfigError(path, [`(file): not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`]);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError(path, [
      `(top level): got ${Array.isArray(data) ? 'an array' : typeof data}, expected a mapping of sections (camera, vision, access, …)`,
    ]);
  }
  return data;
}

/** Validates a raw configuration object (file content plus overrides). */
export function parseConfig(raw: unknown, source: string): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(source, describeIssues(result.error, raw, '', SECRET_PATHS));
  const config = result.data;
  if (config.sync.enabled) {
    // A sync that cannot work is said at start, not as a retry loop's error an hour later.
    const missing = (
      [
        ['serverUrl', "the sync server's URL, e.g. https://sync.example.com"],
        ['org', 'the organisation on the sync server'],
        ['passphraseFile', 'the file holding the organisation passphrase'],
      ] as const
    ).filter(([k]) => !config.sync[k]);
    if (config.sync.serverUrl && /^https?:\/\/[^/]*@/.test(config.sync.serverUrl))
      missing.push(['serverUrl', 'a URL without a user name or password (the unit signs every request with its device key)'] as never);
    if (missing.length)
      throw new ConfigError(
        source,
        missing.map(([k, what]) => `sync.${k}: ${config.sync[k] ? 'has credentials in it' : 'empty'}, expected ${what} (sync.enabled is true)`),
      );
  }
  // Empty: the id first boot saved in the data folder, else the one derived from the host name.
  if (!config.unit.id) {
    try {
      config.unit.id = readUnitId(config.store.dataDir) ?? hostnameUnitId();
    } catch (err) {
      throw new ConfigError(source, [`unit.id: empty, and ${(err as Error).message}`]);
    }
  }
  return config;
}

export function loadConfig(options: { path?: string; env?: NodeJS.ProcessEnv } = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const file = resolveConfigPath(options.path, env);
  const raw = (file ? readFile(file) : {}) as Record<string, unknown>;
  let migrationNotes: string[];
  try {
    migrationNotes = migrateConfig(raw).notes;
  } catch (err) {
    throw new ConfigError(file ?? 'defaults', [(err as Error).message]);
  }
  const overrides = readEnvOverrides(env);
  applyOverrides(raw, overrides);
  const source = [file ?? 'defaults', ...(overrides.length ? ['environment'] : [])].join(' + ');
  return { config: parseConfig(raw, source), file, envVariables: overrides.map((o) => o.variable), migrationNotes };
}

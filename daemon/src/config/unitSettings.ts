import type { EventBus } from '../events.js';
import type { Db } from '../store/database.js';
import { ConfigError } from './errors.js';
import { parseConfig } from './load.js';
import { schemaKeys, type AdminSection } from './meta.js';
import { currentKeyPath } from './migrations.js';
import { SavedSettingsTable } from './savedSettingsTable.js';
import { redactUrls } from '../util/redactUrl.js';
import { configSchema, type Config } from './schema.js';

/** A setting the admin may change: where it is shown and whether a change applies at once. Derived from the schema. */
export interface EditableSetting {
  path: string;
  section: AdminSection;
  live: boolean;
  secret: boolean;
  doc: string;
  /** URL keys: the secrets sent to the host they name (schema `credentials`). */
  credentials: readonly string[];
}

export const EDITABLE_SETTINGS: readonly EditableSetting[] = schemaKeys(configSchema)
  .filter((k) => k.meta?.admin)
  .map((k) => ({
    path: k.path,
    section: k.meta!.admin!,
    live: !!k.meta!.live,
    secret: !!k.meta!.secret,
    doc: k.meta!.doc,
    credentials: k.meta!.credentials ?? [],
  }));
const BY_PATH = new Map(EDITABLE_SETTINGS.map((s) => [s.path, s]));

export function getPath(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

export function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    if (cur[k] === null || typeof cur[k] !== 'object') cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1] as string] = value;
}

export class SettingsValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'SettingsValidationError';
  }
}

export interface SettingView {
  path: string;
  section: AdminSection;
  live: boolean;
  doc: string;
  value: unknown;
  overridden: boolean;
  secret: boolean;
  /** Secrets are never sent back: only whether one is set. */
  isSet?: boolean;
  /** Saved, but the running unit still uses the old value until blinkd restarts. */
  pendingRestart: boolean;
}

export interface ChangeResult {
  /** Keys that apply now. */
  applied: string[];
  /** Keys saved for the next start. */
  restartRequired: string[];
}

/**
 * The one owner of the effective configuration: the file (with environment overrides) with the
 * settings saved in the admin laid over it, and of the `settings` table that holds those. Every
 * entry point resolves its configuration here — `blinkd run`, `config check`, `identify`,
 * `enroll` — so a threshold changed in the admin is the one they all use, with or without the
 * admin running. At run time `config` is the object every service reads; a change of a "live"
 * key is made in place and announced on the bus ('settings.changed'), the others are saved and
 * take effect at the next start (a running service never sees half of a change it only reads at
 * start, e.g. a new broker URL with the old password).
 */
export class UnitSettings {
  private readonly table: SavedSettingsTable;
  /** The configuration as resolved at start (file + env + saved), for pendingRestart. */
  private readonly started: Config;

  private constructor(
    readonly config: Config,
    db: Db,
    readonly overlay: { applied: string[]; skipped: string[] },
    private readonly bus: EventBus | null,
  ) {
    this.table = new SavedSettingsTable(db);
    this.started = structuredClone(config);
  }

  /**
   * Lays the saved settings over `base` (a copy: the caller's object is not changed). A saved value
   * that no longer validates (a key renamed or removed, a range narrowed by an upgrade) is skipped
   * and reported, never fatal: the file's value stays in force.
   */
  static resolve(base: Config, db: Db, bus: EventBus | null = null): UnitSettings {
    const config = structuredClone(base);
    const saved = Object.fromEntries(Object.entries(new SavedSettingsTable(db).all()).map(([k, v]) => [currentKeyPath(k), v]));
    const overlay = overlaySaved(config, saved);
    return new UnitSettings(config, db, overlay, bus);
  }

  /** The editable settings as the admin shows them: saved value, whether overridden, pending restart; secrets only as set/unset. */
  view(): SettingView[] {
    const saved = this.saved();
    return EDITABLE_SETTINGS.map((s) => {
      const running = getPath(this.config, s.path);
      const next = s.path in saved ? saved[s.path] : running;
      return {
        path: s.path,
        section: s.section,
        live: s.live,
        doc: s.doc,
        overridden: s.path in saved,
        secret: s.secret,
        // credentials inside a URL are shown masked (a viewer sees the settings too)
        value: s.secret ? '' : typeof next === 'string' ? redactUrls(next) : next,
        ...(s.secret ? { isSet: typeof next === 'string' && next.length > 0 } : {}),
        pendingRestart: !s.live && JSON.stringify(next) !== JSON.stringify(getPath(this.started, s.path)),
      };
    });
  }

  /**
   * Validates changes against the whole schema (section rules included), on top of the running
   * configuration and what is already saved for the next start; saves them; applies the live ones
   * now. Throws SettingsValidationError naming each bad key; nothing is saved then.
   */
  change(requested: Record<string, unknown>, actor: string): ChangeResult {
    const base = structuredClone(this.config);
    overlaySaved(base, this.saved());
    const changes = guardDestinations(base, requested);
    const { values, live, restartRequired } = validateChanges(base, changes);
    const keys = Object.keys(values);
    this.table.setMany(values, actor);
    for (const k of live) setPath(this.config as unknown as Record<string, unknown>, k, values[k]);
    if (keys.length) this.bus?.emit('settings.changed', { keys, actor });
    return { applied: live, restartRequired };
  }

  /** Saved settings under their current key names. */
  saved(): Record<string, unknown> {
    return Object.fromEntries(Object.entries(this.table.all()).map(([k, v]) => [currentKeyPath(k), v]));
  }
}

/** scheme://host:port of a URL, or null when it is not one. */
function destination(url: unknown): string | null {
  if (typeof url !== 'string' || url === '') return null;
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}:${u.port}`;
  } catch {
    return null;
  }
}

/**
 * URL settings that send secrets somewhere (schema `credentials`): a masked URL as the admin shows
 * it means "unchanged"; a URL pointing at another destination needs the secrets it would receive
 * entered again (or cleared) in the same change. Returns the changes to validate.
 */
function guardDestinations(base: Config, requested: Record<string, unknown>): Record<string, unknown> {
  const changes = { ...requested };
  const problems: string[] = [];
  for (const [path, value] of Object.entries(requested)) {
    const s = BY_PATH.get(path);
    if (!s || s.credentials.length === 0 || typeof value !== 'string') continue;
    const current = getPath(base, path);
    if (typeof current === 'string' && value !== current && value === redactUrls(current)) {
      changes[path] = current; // the form posted back what it was shown
      continue;
    }
    if (/:\/\/\*\*\*@/.test(value)) {
      problems.push(`${path}: the credentials in this URL are masked; enter the user name and password again`);
      continue;
    }
    const from = destination(current);
    const to = destination(value);
    if (from === null || to === null || from === to) continue;
    const missing = s.credentials.filter((c) => !(c in requested) && typeof getPath(base, c) === 'string' && getPath(base, c) !== '');
    if (missing.length) {
      problems.push(
        `${path}: the new destination ${to.replace(/:$/, '')} would receive the stored ${missing.join(', ')}; enter ${missing.join(', ')} again (or clear it) in the same change`,
      );
    }
  }
  if (problems.length) throw new SettingsValidationError(problems);
  return changes;
}

/** Checks changes against the full config schema and returns the validated values that differ. */
function validateChanges(config: Config, changes: Record<string, unknown>): { values: Record<string, unknown>; restartRequired: string[]; live: string[] } {
  const problems: string[] = [];
  for (const k of Object.keys(changes)) if (!BY_PATH.has(k)) problems.push(`${k}: not a setting the admin can change`);
  if (problems.length) throw new SettingsValidationError(problems);
  const candidate = structuredClone(config) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(changes)) setPath(candidate, k, v);
  let parsed: Config;
  try {
    parsed = parseConfig(candidate, 'settings');
  } catch (err) {
    if (err instanceof ConfigError) throw new SettingsValidationError(err.problems);
    throw err;
  }
  const values: Record<string, unknown> = {};
  const restartRequired: string[] = [];
  const live: string[] = [];
  for (const k of Object.keys(changes)) {
    const v = getPath(parsed, k);
    if (JSON.stringify(v) === JSON.stringify(getPath(config, k))) continue;
    values[k] = v;
    (BY_PATH.get(k)?.live ? live : restartRequired).push(k);
  }
  return { values, restartRequired, live };
}

/** Lays saved values over `config` in place, one key at a time; ones that do not validate are skipped. */
function overlaySaved(config: Config, saved: Record<string, unknown>): { applied: string[]; skipped: string[] } {
  const applied: string[] = [];
  const skipped: string[] = [];
  for (const [k, v] of Object.entries(saved)) {
    try {
      const { values } = validateChanges(config, { [k]: v });
      for (const [key, value] of Object.entries(values)) setPath(config as unknown as Record<string, unknown>, key, value);
      applied.push(k);
    } catch {
      skipped.push(k);
    }
  }
  return { applied, skipped };
}

import { parseConfig } from '../config/load.js';
import { ConfigError } from '../config/errors.js';
import { SECRET_PATHS, type Config } from '../config/schema.js';

/** A setting the admin may change, whether it applies at once, and the section it is shown in. */
export interface EditableSetting {
  path: string;
  section: 'recognition' | 'liveness' | 'door' | 'attendance' | 'mqtt' | 'sync' | 'admin';
  live: boolean;
}

const S = (section: EditableSetting['section'], live: boolean, ...paths: string[]): EditableSetting[] => paths.map((path) => ({ path, section, live }));

/**
 * The keys the admin edits. "live" keys are read by their service at the moment they are
 * used (the config object is shared and updated in place, and 'settings.changed' is emitted);
 * the others are read at start, so the API says they need a restart.
 */
export const EDITABLE_SETTINGS: readonly EditableSetting[] = [
  ...S('recognition', true, 'access.threshold', 'access.margin', 'access.cooldownMs', 'access.decisionTimeoutMs'),
  ...S(
    'liveness',
    true,
    'access.liveness.passive',
    'access.liveness.passiveThreshold',
    'access.liveness.blink',
    'access.liveness.blinkTimeoutMs',
    'access.liveness.headTurn',
    'access.liveness.headTurnYawDeg',
    'access.liveness.headTurnTimeoutMs',
  ),
  ...S('door', true, 'door.pulseMs', 'door.maxUnlockMs', 'door.heldOpenAlarmMs'),
  ...S(
    'attendance',
    true,
    'access.attendance.enabled',
    'access.attendance.shiftStart',
    'access.attendance.graceMinutes',
    'access.attendance.minCheckoutGapMinutes',
  ),
  ...S('mqtt', false, 'mqtt.enabled', 'mqtt.url', 'mqtt.username', 'mqtt.password', 'mqtt.topicPrefix', 'mqtt.homeAssistant.enabled', 'mqtt.healthIntervalSec'),
  ...S('sync', false, 'sync.enabled', 'sync.serverUrl', 'sync.org', 'sync.claimCode', 'sync.intervalSec'),
  ...S(
    'admin',
    true,
    'admin.sessionIdleMinutes',
    'admin.sessionAbsoluteHours',
    'admin.loginMaxFailures',
    'admin.lockoutMinutes',
    'admin.thumbnailRetentionDays',
  ),
];
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
  section: EditableSetting['section'];
  live: boolean;
  value: unknown;
  overridden: boolean;
  secret: boolean;
  /** Secrets are never sent back: only whether one is set. */
  isSet?: boolean;
  /** Saved, but the running unit still uses the old value until blinkd restarts. */
  pendingRestart: boolean;
}

export function settingsView(config: Config, overrides: Record<string, unknown>): SettingView[] {
  return EDITABLE_SETTINGS.map((s) => {
    const secret = SECRET_PATHS.includes(s.path);
    const running = getPath(config, s.path);
    const saved = s.path in overrides ? overrides[s.path] : running;
    return {
      path: s.path,
      section: s.section,
      live: s.live,
      overridden: s.path in overrides,
      secret,
      value: secret ? '' : saved,
      ...(secret ? { isSet: typeof saved === 'string' && saved.length > 0 } : {}),
      pendingRestart: !s.live && JSON.stringify(saved) !== JSON.stringify(running),
    };
  });
}

/**
 * Checks a set of changes against the full config schema (the same rules as the file,
 * cross-key checks included) and returns the validated values. Unknown or non-editable
 * keys are refused by name.
 */
export function validateChanges(
  config: Config,
  changes: Record<string, unknown>,
): { values: Record<string, unknown>; restartRequired: string[]; live: string[] } {
  const problems: string[] = [];
  for (const key of Object.keys(changes)) if (!BY_PATH.has(key)) problems.push(`${key}: not a setting the admin can change`);
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
  for (const key of Object.keys(changes)) {
    const v = getPath(parsed, key);
    if (JSON.stringify(v) === JSON.stringify(getPath(config, key))) continue;
    values[key] = v;
    (BY_PATH.get(key)?.live ? live : restartRequired).push(key);
  }
  return { values, restartRequired, live };
}

/** Lays stored overrides over the loaded config in place; bad or stale ones are skipped and reported. */
export function applyOverrides(config: Config, overrides: Record<string, unknown>): { applied: string[]; skipped: string[] } {
  const applied: string[] = [];
  const skipped: string[] = [];
  for (const [k, v] of Object.entries(overrides)) {
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

import { existsSync } from 'node:fs';
import { openDatabase } from '../store/database.js';
import { databasePath } from '../store/store.js';
import { loadConfig, type LoadedConfig } from './load.js';
import { UnitSettings } from './unitSettings.js';

export interface EffectiveConfig extends LoadedConfig {
  /** Saved settings laid over the file (and the ones skipped because they no longer validate). */
  saved: { applied: string[]; skipped: string[] };
}

/**
 * The configuration a command runs with: the file (migrated, with environment overrides) and the
 * settings saved in the admin, read from the unit's database when it exists (read-only: a
 * `config check` or `identify` never writes). `blinkd run` resolves the same through
 * UnitSettings on its own open database.
 */
export function loadEffectiveConfig(options: { path?: string; env?: NodeJS.ProcessEnv } = {}): EffectiveConfig {
  const loaded = loadConfig(options);
  const file = databasePath(loaded.config);
  if (!existsSync(file)) return { ...loaded, saved: { applied: [], skipped: [] } };
  const db = openDatabase(file, { readonly: true });
  try {
    const settings = UnitSettings.resolve(loaded.config, db);
    return { ...loaded, config: settings.config, saved: settings.overlay };
  } finally {
    db.close();
  }
}

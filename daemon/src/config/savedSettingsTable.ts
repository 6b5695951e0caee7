import type { Db } from '../store/database.js';
import { isoNow } from '../store/time.js';

/**
 * Settings changed at run time (the admin) as key-path → JSON value. Owned by config/unitSettings.ts,
 * which lays them over the configuration file for every entry point, so a change made in the admin
 * survives a restart and is what the CLI uses too.
 */
export class SavedSettingsTable {
  constructor(private readonly db: Db) {}

  all(): Record<string, unknown> {
    const rows = this.db.prepare('SELECT key, value_json FROM settings ORDER BY key').all() as Array<{ key: string; value_json: string }>;
    return Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value_json) as unknown]));
  }

  set(key: string, value: unknown, by: string | null = null): void {
    this.db
      .prepare(
        `INSERT INTO settings (key, value_json, updated_at, updated_by) VALUES (?, ?, ?, ?)
         ON CONFLICT(key) DO UPDATE SET value_json = excluded.value_json, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      )
      .run(key, JSON.stringify(value), isoNow(), by);
  }

  /** Saves several values in one transaction. */
  setMany(values: Record<string, unknown>, by: string | null = null): void {
    this.db.transaction(() => {
      for (const [k, v] of Object.entries(values)) this.set(k, v, by);
    })();
  }

  remove(key: string): void {
    this.db.prepare('DELETE FROM settings WHERE key = ?').run(key);
  }
}

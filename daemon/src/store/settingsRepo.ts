import type { Db } from './database.js';
import { isoNow } from './time.js';

/**
 * Settings changed at run time (admin UI, MQTT) as key-path → JSON value. They are laid
 * over the configuration file at start, so a change made in the admin survives a restart.
 */
export class SettingsRepo {
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

  remove(key: string): void {
    this.db.prepare('DELETE FROM settings WHERE key = ?').run(key);
  }
}

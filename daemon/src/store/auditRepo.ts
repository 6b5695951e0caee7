import type { Db } from './database.js';
import { isoNow } from './time.js';

export interface AuditEntry {
  id: number;
  ts: string;
  actor: string;
  action: string;
  target: string | null;
  details: Record<string, unknown> | null;
}

/** Who did what, when: every admin, MQTT and CLI action that changes the unit. */
export class AuditRepo {
  constructor(private readonly db: Db) {}

  /** Removes the `name` from the details of every entry about `target` (erasure of a person). */
  forgetName(target: string): number {
    return this.db
      .prepare(
        "UPDATE audit_log SET details_json = json_remove(details_json, '$.name') WHERE target = ? AND json_valid(details_json) AND json_extract(details_json, '$.name') IS NOT NULL",
      )
      .run(target).changes;
  }

  record(actor: string, action: string, target: string | null = null, details: Record<string, unknown> | null = null): AuditEntry {
    const ts = isoNow();
    const info = this.db
      .prepare('INSERT INTO audit_log (ts, actor, action, target, details_json) VALUES (?, ?, ?, ?, ?)')
      .run(ts, actor, action, target, details ? JSON.stringify(details) : null);
    return { id: Number(info.lastInsertRowid), ts, actor, action, target, details };
  }

  /** Deletes entries older than `cutoff` (ISO time): the store.auditRetentionDays rule. */
  pruneBefore(cutoff: string): number {
    return this.db.prepare('DELETE FROM audit_log WHERE ts < ?').run(cutoff).changes;
  }

  recent(limit = 100, action?: string): AuditEntry[] {
    const rows = (
      action
        ? this.db.prepare('SELECT * FROM audit_log WHERE action = ? ORDER BY id DESC LIMIT ?').all(action, limit)
        : this.db.prepare('SELECT * FROM audit_log ORDER BY id DESC LIMIT ?').all(limit)
    ) as Array<{
      id: number;
      ts: string;
      actor: string;
      action: string;
      target: string | null;
      details_json: string | null;
    }>;
    return rows.map((r) => ({
      id: r.id,
      ts: r.ts,
      actor: r.actor,
      action: r.action,
      target: r.target,
      details: r.details_json ? (JSON.parse(r.details_json) as Record<string, unknown>) : null,
    }));
  }
}

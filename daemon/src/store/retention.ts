import type { Config } from '../config/schema.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logging.js';
import { BaseService } from '../service.js';
import type { Store } from './store.js';

const DAY_MS = 86_400_000;
const RUN_EVERY_MS = 3_600_000;

/** A table owner's retention rule: deletes what its own rule says is expired; returns how many rows went. */
export interface Prunable {
  name: string;
  prune(now: Date): number;
}

/**
 * The decisions' rule (store.eventRetentionDays): attendance rows older than the retention go
 * (with sync on, only those already delivered), then the access events older than it that no
 * remaining attendance row refers to and that are not waiting in the sync outbox: nothing goes
 * before it was delivered.
 */
export function pruneDecisions(store: Store, retentionDays: number, options: { syncEnabled: boolean; now?: Date }): { events: number; attendance: number } {
  const now = options.now ?? new Date();
  const cutoff = new Date(now.getTime() - retentionDays * DAY_MS).toISOString();
  return store.transaction(() => {
    const attendance = store.attendance.pruneBefore(cutoff, options.syncEnabled);
    const events = store.events.pruneBefore(cutoff, [...store.attendance.eventIdsBefore(cutoff), ...store.syncOutbox.refIds()]);
    return { events, attendance };
  });
}

/**
 * Runs every table owner's retention rule at start, every hour, and when a retention setting
 * changes. The rules stay with their owners (one rule per table): decisions and the audit log here, thumbnails in
 * the people registry (admin.thumbnailRetentionDays), sessions and login attempts in the admin.
 */
export class RetentionService extends BaseService {
  private last: Record<string, number> | null = null;

  constructor(
    private readonly store: Store,
    private readonly config: Config,
    bus: EventBus,
    private readonly log: Logger,
    private readonly others: Prunable[] = [],
    private readonly now: () => Date = () => new Date(),
  ) {
    super('retention', bus);
  }

  /** Every rule this service runs (for the docs and tests). */
  prunables(): Prunable[] {
    return [
      {
        name: 'access_events+attendance',
        prune: (now) => {
          const r = pruneDecisions(this.store, this.config.store.eventRetentionDays, { syncEnabled: this.config.sync.enabled, now });
          return r.events + r.attendance;
        },
      },
      {
        name: 'audit_log',
        prune: (now) => {
          const cutoff = new Date(now.getTime() - this.config.store.auditRetentionDays * DAY_MS).toISOString();
          return this.store.transaction(() => {
            const n = this.store.audit.pruneBefore(cutoff);
            if (n > 0)
              this.store.audit.record('system', 'audit.pruned', null, { entries: n, before: cutoff, retentionDays: this.config.store.auditRetentionDays });
            return n;
          });
        },
      },
      ...this.others,
    ];
  }

  protected onStart(): void {
    this.run();
    this.every(RUN_EVERY_MS, () => this.run());
    this.listen('settings.changed', (e) => {
      if (e.keys.some((k) => /RetentionDays$/.test(k))) this.run();
    });
  }

  /** One pass over every rule; a failing rule is logged and the others still run. */
  run(): Record<string, number> {
    const now = this.now();
    const result: Record<string, number> = {};
    for (const p of this.prunables()) {
      try {
        result[p.name] = p.prune(now);
      } catch (err) {
        this.log.error({ err, table: p.name }, 'retention rule failed');
      }
    }
    this.last = result;
    if (Object.values(result).some((n) => n > 0)) this.log.info({ deleted: result }, 'retention: old records deleted');
    return result;
  }

  health(): Record<string, unknown> {
    return { retentionDays: this.config.store.eventRetentionDays, lastRun: this.last };
  }
}

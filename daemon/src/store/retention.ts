import type { Config } from '../config/schema.js';
import type { Logger } from '../logging.js';
import type { Service } from '../service.js';
import type { ServiceStatus } from '../events.js';
import type { Store } from './store.js';

const DAY_MS = 86_400_000;

/**
 * Deletes access events (with their attendance rows) and authentication attempts older than
 * store.eventRetentionDays, and admin sessions that have expired. Records still waiting for
 * the cloud relay are kept (with sync on, attendance only goes once synced; nothing in the
 * sync outbox goes), so nothing is lost before it was delivered.
 */
export function pruneExpired(
  store: Store,
  retentionDays: number,
  options: { syncEnabled: boolean; now?: Date },
): { events: number; attendance: number; authAttempts: number; sessions: number } {
  const now = options.now ?? new Date();
  const cutoff = new Date(now.getTime() - retentionDays * DAY_MS).toISOString();
  return store.transaction(() => {
    const keep = `SELECT ref_id FROM sync_outbox`;
    const attendance = store.db
      .prepare(`DELETE FROM attendance WHERE ts < ? ${options.syncEnabled ? 'AND synced = 1' : ''} AND event_id NOT IN (${keep})`)
      .run(cutoff).changes;
    const events = store.db
      .prepare(`DELETE FROM access_events WHERE ts < ? AND id NOT IN (SELECT event_id FROM attendance) AND id NOT IN (${keep})`)
      .run(cutoff).changes;
    const authAttempts = store.db.prepare('DELETE FROM auth_attempts WHERE ts < ?').run(cutoff).changes;
    const sessions = store.db.prepare('DELETE FROM admin_sessions WHERE expires_at < ?').run(now.toISOString()).changes;
    return { events, attendance, authAttempts, sessions };
  });
}

/** Runs pruneExpired at start and then every six hours. */
export class RetentionService implements Service {
  readonly name = 'retention';
  private timer: NodeJS.Timeout | null = null;
  private state: ServiceStatus = 'stopped';
  private last: ReturnType<typeof pruneExpired> | null = null;

  constructor(
    private readonly store: Store,
    private readonly config: Config,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.run();
    this.timer = setInterval(() => this.run(), 6 * 3600_000);
    this.timer.unref();
    this.state = 'running';
  }

  private run(): void {
    try {
      const days = this.config.store.eventRetentionDays;
      this.last = pruneExpired(this.store, days, { syncEnabled: this.config.sync.enabled });
      if (this.last.events || this.last.attendance) this.log.info({ ...this.last, retentionDays: days }, 'retention: old records deleted');
    } catch (err) {
      this.log.error({ err }, 'retention run failed');
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.state = 'stopped';
  }

  status(): ServiceStatus {
    return this.state;
  }

  health(): Record<string, unknown> {
    return { retentionDays: this.config.store.eventRetentionDays, lastRun: this.last };
  }
}

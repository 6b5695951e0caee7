import type { Logger } from '../logging.js';
import type { AuditRepo } from '../store/auditRepo.js';

/**
 * A flood of MQTT commands must not stall the door: every message used to cost a synchronous,
 * fsynced audit insert on the main thread (8,000 junk messages blocked it for 2.9 s). Two bounds:
 * a budget of commands handled per minute (the rest are refused unread), and refusals written to
 * the audit log one by one only up to a few per minute, the rest counted into one summary entry.
 */
export class CommandBudget {
  private windowStart = 0;
  private used = 0;

  constructor(
    private readonly perMinute: () => number,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when one more command may be handled in this minute. */
  take(): boolean {
    const t = this.now();
    if (t - this.windowStart >= 60_000) {
      this.windowStart = t;
      this.used = 0;
    }
    if (this.used >= this.perMinute()) return false;
    this.used++;
    return true;
  }
}

export class RefusalRecorder {
  private windowStart = 0;
  private written = 0;
  private suppressed = 0;
  private readonly reasons = new Map<string, number>();
  total = 0;

  constructor(
    private readonly audit: AuditRepo,
    private readonly log: Logger,
    /** Refusals audited (and answered) one by one per minute; the rest are counted. */
    private readonly detailedPerMinute = 30,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records a refusal; true when it was recorded in full (and should be answered), false when it was only counted. */
  refused(actor: string, command: string, error: string, details: Record<string, unknown>): boolean {
    this.total++;
    this.roll();
    if (this.written < this.detailedPerMinute) {
      this.written++;
      this.audit.record(actor, 'mqtt.command_rejected', command, { via: 'mqtt', error, ...details });
      this.log.warn({ actor, command, error }, 'MQTT command refused');
      return true;
    }
    this.suppressed++;
    const reason = error.slice(0, 80);
    this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
    return false;
  }

  /** Writes the summary of the counted refusals of the minute that ended (called by the minute roll and at stop). */
  flush(): void {
    if (this.suppressed === 0) return;
    const details = { via: 'mqtt', count: this.suppressed, reasons: Object.fromEntries([...this.reasons].slice(0, 20)) };
    this.audit.record('mqtt', 'mqtt.command_rejected_summary', null, details);
    this.log.warn(details, 'MQTT commands refused (counted, not audited one by one)');
    this.suppressed = 0;
    this.reasons.clear();
  }

  private roll(): void {
    const t = this.now();
    if (t - this.windowStart < 60_000) return;
    this.flush();
    this.windowStart = t;
    this.written = 0;
  }
}

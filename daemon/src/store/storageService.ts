import { statfsSync } from 'node:fs';
import type { AlarmRegistry } from '../alarms/alarmRegistry.js';
import type { EventBus, ServiceStatus } from '../events.js';
import type { Logger } from '../logging.js';
import { BaseService } from '../service.js';

const CHECK_EVERY_MS = 15_000;

export interface StorageOptions {
  /** The folder the database lives in (the filesystem that is watched). */
  dataDir: string;
  /** Below this much free space: the disk_low alarm. */
  minFreeMb: number;
  /** Decisions waiting in memory because the database could not take them (the recorder's queue). */
  pendingDecisions: () => number;
  /** Free bytes on the filesystem holding `dir` (statfs; replaceable in tests). */
  freeBytes?: (dir: string) => number;
}

/**
 * The one owner of "can the unit write its records": free space on the data filesystem (checked
 * every 15 s) and the writers whose last write failed (the decision recorder tells it). Either
 * makes the service `degraded` (so /health, MQTT health and the admin say so, with the reason)
 * and raises an alarm: `disk_low` below store.minFreeMb, `storage_failed` while decisions cannot
 * be written. It only observes: the recorder keeps and retries what it could not write.
 */
export class StorageService extends BaseService {
  private freeMb: number | null = null;
  private readonly failing = new Map<string, { since: string; error: string }>();

  constructor(
    private readonly o: StorageOptions,
    bus: EventBus,
    private readonly alarms: AlarmRegistry,
    private readonly log: Logger,
  ) {
    super('storage', bus);
  }

  protected onStart(): void {
    this.check();
    this.every(CHECK_EVERY_MS, () => this.check());
  }

  /** A writer's write failed (e.g. SQLITE_FULL): degraded, alarm, until it reports success. */
  writeFailed(writer: string, err: unknown): void {
    const error = describeWriteError(err);
    const first = !this.failing.has(writer);
    this.failing.set(writer, { since: this.failing.get(writer)?.since ?? new Date().toISOString(), error });
    if (first) this.log.error({ writer, error }, 'storage: writes are failing');
    this.alarms.raise('storage_failed', `${writer} cannot be written to the database: ${error}`, { writer, pending: this.o.pendingDecisions() });
  }

  /** The writer wrote again. */
  writeSucceeded(writer: string): void {
    if (!this.failing.delete(writer)) return;
    this.log.info({ writer }, 'storage: writes work again');
    this.check(); // space came back, most likely: say so now, not at the next period
    if (this.failing.size === 0) this.alarms.clear('storage_failed', 'the database takes writes again and every queued decision is stored');
  }

  get failingNow(): boolean {
    return this.failing.size > 0;
  }

  override status(): ServiceStatus {
    const s = super.status();
    if (s !== 'running') return s;
    return this.failing.size > 0 || this.isLow() ? 'degraded' : 'running';
  }

  health(): Record<string, unknown> {
    return {
      freeMb: this.freeMb,
      minFreeMb: this.o.minFreeMb,
      pendingDecisions: this.o.pendingDecisions(),
      failing: Object.fromEntries(this.failing),
    };
  }

  private isLow(): boolean {
    return this.freeMb !== null && this.freeMb < this.o.minFreeMb;
  }

  private check(): void {
    try {
      this.freeMb = Math.floor((this.o.freeBytes ?? freeBytes)(this.o.dataDir) / 1048576);
    } catch (err) {
      this.log.warn({ err, dir: this.o.dataDir }, 'storage: free space unknown');
      this.freeMb = null;
      return;
    }
    if (this.isLow()) {
      if (
        this.alarms.raise('disk_low', `${this.freeMb} MB free on the data filesystem (below store.minFreeMb ${this.o.minFreeMb} MB)`, { freeMb: this.freeMb })
      )
        this.log.warn({ freeMb: this.freeMb, minFreeMb: this.o.minFreeMb }, 'storage: disk space low');
    } else if (this.freeMb !== null && this.freeMb >= this.o.minFreeMb * 1.1) {
      // a little hysteresis so a disk hovering at the limit does not flap the alarm
      this.alarms.clear('disk_low', `${this.freeMb} MB free again`);
    }
  }
}

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/** SQLite's and the OS's error codes in words a facilities manager can act on. */
export function describeWriteError(err: unknown): string {
  const code = (err as { code?: string }).code ?? '';
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') return 'the disk is full (SQLITE_FULL)';
  if (code === 'SQLITE_READONLY' || code === 'EROFS') return 'the database or its filesystem is read-only';
  if (code.startsWith('SQLITE_IOERR') || code === 'EIO') return `an I/O error from the storage (${code}): check the SD card`;
  if (code === 'SQLITE_BUSY') return 'another process holds the database lock (SQLITE_BUSY)';
  if (code === 'SQLITE_CORRUPT') return 'the database file is damaged (SQLITE_CORRUPT): see `blinkd db status`';
  return `${code || 'error'}: ${(err as Error).message ?? String(err)}`.slice(0, 300);
}

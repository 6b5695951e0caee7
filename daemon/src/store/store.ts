import { resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import { openDatabase, schemaVersion, type Db } from './database.js';
import { EventsRepo } from './eventsRepo.js';
import { AttendanceRepo } from './attendanceRepo.js';
import { MqttOutboxRepo, SyncOutboxRepo } from './outboxRepo.js';
import { AuditRepo } from './auditRepo.js';

/**
 * The unit's database and the repositories of the tables no feature owns: decisions (access
 * events, attendance), the outboxes and the audit log. Feature-owned tables have their repository
 * with their owner (people, templates and thumbnails: registry/; settings: config/; admin users,
 * sessions and login attempts: admin/; the MQTT cursor: mqtt/). One instance per process.
 */
export class Store {
  readonly events: EventsRepo;
  readonly attendance: AttendanceRepo;
  readonly mqttOutbox: MqttOutboxRepo;
  readonly syncOutbox: SyncOutboxRepo;
  readonly audit: AuditRepo;

  constructor(
    readonly db: Db,
    readonly file: string,
  ) {
    this.events = new EventsRepo(db);
    this.attendance = new AttendanceRepo(db);
    this.mqttOutbox = new MqttOutboxRepo(db);
    this.syncOutbox = new SyncOutboxRepo(db);
    this.audit = new AuditRepo(db);
  }

  static open(file: string): Store {
    return new Store(openDatabase(file), file);
  }

  static fromConfig(config: Config): Store {
    return Store.open(databasePath(config));
  }

  /** Runs fn in one IMMEDIATE transaction: all its writes commit together or not at all. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  /**
   * After erasing biometrics: with secure_delete on, the deleted cells are zeroed in the new page
   * versions, but the WAL still holds the old ones until a checkpoint. Copy the pages home and
   * truncate the WAL now. False when another connection's read kept it from completing (the next
   * erase or the close retries; SQLite's automatic checkpoints follow anyway).
   */
  flushErased(): boolean {
    try {
      const [r] = this.db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number; log: number; checkpointed: number }>;
      return !!r && r.busy === 0;
    } catch {
      return false;
    }
  }

  status(): {
    file: string;
    schemaVersion: number;
    events: number;
    mqttOutbox: number;
    syncOutbox: number;
    sizeBytes: number;
  } {
    const page = this.db.pragma('page_count', { simple: true }) as number;
    const size = this.db.pragma('page_size', { simple: true }) as number;
    return {
      file: this.file,
      schemaVersion: schemaVersion(this.db),
      events: this.events.count(),
      mqttOutbox: this.mqttOutbox.depth(),
      syncOutbox: this.syncOutbox.depth(),
      sizeBytes: page * size,
    };
  }

  close(): void {
    if (this.db.open) {
      try {
        this.db.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        /* a reader may hold the WAL; closing is still safe */
      }
      this.db.close();
    }
  }
}

export function databasePath(config: Config): string {
  return resolve(config.store.dataDir, config.store.dbFile);
}

import { resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import { openDatabase, schemaVersion, type Db } from './database.js';
import { PeopleRepo } from './peopleRepo.js';
import { TemplatesRepo } from './templatesRepo.js';
import { EventsRepo } from './eventsRepo.js';
import { AttendanceRepo } from './attendanceRepo.js';
import { MqttOutboxRepo, SyncOutboxRepo } from './outboxRepo.js';
import { SettingsRepo } from './settingsRepo.js';
import { AuditRepo } from './auditRepo.js';

/** The unit's database and its repositories. One instance per process, owned by the controller. */
export class Store {
  readonly people: PeopleRepo;
  readonly templates: TemplatesRepo;
  readonly events: EventsRepo;
  readonly attendance: AttendanceRepo;
  readonly mqttOutbox: MqttOutboxRepo;
  readonly syncOutbox: SyncOutboxRepo;
  readonly settings: SettingsRepo;
  readonly audit: AuditRepo;

  constructor(
    readonly db: Db,
    readonly file: string,
  ) {
    this.people = new PeopleRepo(db);
    this.templates = new TemplatesRepo(db);
    this.events = new EventsRepo(db);
    this.attendance = new AttendanceRepo(db);
    this.mqttOutbox = new MqttOutboxRepo(db);
    this.syncOutbox = new SyncOutboxRepo(db);
    this.settings = new SettingsRepo(db);
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

  status(): {
    file: string;
    schemaVersion: number;
    people: number;
    templates: number;
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
      people: this.people.count(),
      templates: this.templates.count(),
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

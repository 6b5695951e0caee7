import type { Logger } from '../logging.js';
import type { AttendanceStore } from './attendanceStore.js';
import type { SyncServerConfig } from './config.js';
import type { Sql } from './db/sql.js';
import type { DevicesRepo } from './devicesRepo.js';
import type { KeyRingsRepo } from './keyRingsRepo.js';
import type { OrgsRepo } from './orgsRepo.js';
import type { PeopleStore } from './peopleStore.js';
import type { TokensRepo } from './tokensRepo.js';

/** What the sync server's routes are built with: the configuration and the owner of each table. */
export interface ServerContext {
  config: SyncServerConfig;
  log: Logger;
  sql: Sql;
  orgs: OrgsRepo;
  devices: DevicesRepo;
  tokens: TokensRepo;
  keyRings: KeyRingsRepo;
  people: PeopleStore;
  attendance: AttendanceStore;
  now: () => Date;
}

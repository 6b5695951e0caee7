import type { FastifyInstance } from 'fastify';
import type { Logger } from '../logging.js';
import { buildSyncApp } from './app.js';
import { AttendanceStore } from './attendanceStore.js';
import type { SyncServerConfig } from './config.js';
import type { ServerContext } from './context.js';
import { openServerDatabase } from './db/open.js';
import type { Sql } from './db/sql.js';
import { DevicesRepo } from './devicesRepo.js';
import { KeyRingsRepo } from './keyRingsRepo.js';
import { OrgsRepo } from './orgsRepo.js';
import { PeopleStore } from './peopleStore.js';
import { TokensRepo } from './tokensRepo.js';

const MAINTENANCE_MS = 10 * 60_000;

/** Builds the table owners on one database (the server uses them, and so does the operator CLI). */
export function serverContext(config: SyncServerConfig, log: Logger, sql: Sql, now: () => Date = () => new Date()): ServerContext {
  return {
    config,
    log,
    sql,
    now,
    orgs: new OrgsRepo(sql),
    devices: new DevicesRepo(sql, now, config.auth.maxPendingDevices),
    tokens: new TokensRepo(sql, now),
    keyRings: new KeyRingsRepo(sql, now),
    people: new PeopleStore(sql, now),
    attendance: new AttendanceStore(sql, now),
  };
}

/**
 * One sync server instance: opens (and migrates) the database, serves the API, and every ten
 * minutes drops expired nonces and tombstones past tombstoneDays. Any instance may do the
 * upkeep; doing it twice is harmless.
 */
export class SyncServer {
  private timer: NodeJS.Timeout | null = null;
  private address_: string | null = null;

  private constructor(
    readonly ctx: ServerContext,
    readonly app: FastifyInstance,
  ) {}

  static async open(config: SyncServerConfig, log: Logger, options: { now?: () => Date } = {}): Promise<SyncServer> {
    const sql = await openServerDatabase(config, log);
    const ctx = serverContext(config, log, sql, options.now);
    try {
      return new SyncServer(ctx, await buildSyncApp(ctx));
    } catch (err) {
      await sql.close();
      throw err;
    }
  }

  async listen(): Promise<string> {
    this.address_ = await this.app.listen({ host: this.ctx.config.host, port: this.ctx.config.port });
    this.ctx.log.info({ url: this.address_, database: this.ctx.sql.describe() }, 'sync server listening');
    this.timer = setInterval(() => void this.maintain(), MAINTENANCE_MS);
    this.timer.unref();
    void this.maintain();
    return this.address_;
  }

  address(): string | null {
    return this.address_;
  }

  /** Expired nonces and old tombstones. Returns what was removed. */
  async maintain(): Promise<{ nonces: number; tombstones: number }> {
    const out = { nonces: 0, tombstones: 0 };
    try {
      out.nonces = await this.ctx.devices.purgeNonces();
      const cutoff = new Date(this.ctx.now().getTime() - this.ctx.config.tombstoneDays * 86_400_000);
      for (const org of await this.ctx.orgs.list()) out.tombstones += await this.ctx.people.purgeTombstones(org.id, cutoff);
      if (out.nonces || out.tombstones) this.ctx.log.debug(out, 'sync server upkeep');
    } catch (err) {
      this.ctx.log.warn({ err: (err as Error).message }, 'sync server upkeep failed (retried in 10 minutes)');
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.app.close();
    await this.ctx.sql.close();
  }
}

/**
 * The unit's sync loop (sync.enabled): registers the device, then pushes the outbox and pulls
 * changes every sync.intervalSec through the sync client (client.ts) on the unit's SQLite store
 * (unitSyncStore.ts); after a failure it backs off (full jitter, base sync.backoffBaseMs, cap
 * sync.backoffCapMs, a 429/503 Retry-After as a floor) and tries again for as long as the unit
 * runs. It never blocks the door: start() returns at once, every exchange runs in the
 * background, the key ring's scrypt runs in the thread pool, and stop() aborts what is in flight.
 *
 * The one owner of the unit's sync state (last success, last error in words, pending counts,
 * device status): /health and MQTT health read health(), the admin reads it from /health.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { SyncClient, SyncError, type SyncClientOptions } from './client.js';
import type { KeyRingOptions } from './envelopeKeyRing.js';
import { exportPublicKey, loadOrCreateDeviceKey } from './requestSigning.js';
import { UnitSyncStore, type SyncIssue } from './unitSyncStore.js';
import type { Config } from '../config/schema.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logging.js';
import type { PeopleRegistry } from '../registry/peopleRegistry.js';
import { BaseService } from '../service.js';
import type { Store } from '../store/store.js';

export interface SyncServiceOptions {
  config: Pick<Config, 'sync' | 'unit' | 'store'>;
  store: Store;
  registry: PeopleRegistry;
  bus: EventBus;
  log: Logger;
  fetch?: typeof fetch;
  now?: () => Date;
  /** Tests: a faster backoff, cheaper key ring parameters are refused by units, so only the rotation threshold etc. */
  backoff?: BackoffOptions;
  keyRing?: KeyRingOptions;
}

/** The server URL as shown: no user info, no query (it may carry credentials). */
function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
  } catch {
    return '(invalid URL)';
  }
}

async function readSecretFile(file: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(resolve(file), 'utf8');
  } catch (err) {
    throw new SyncError('keyring', `cannot read the ${what} file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const value = text.replace(/\r?\n$/, '');
  if (!value) throw new SyncError('keyring', `the ${what} file ${file} is empty`);
  return value;
}

export class SyncService extends BaseService {
  readonly local: UnitSyncStore;
  private client: SyncClient | null = null;
  private abort: AbortController | null = null;
  private loop: Promise<void> | null = null;
  private failures = 0;
  private lastError: { at: string; kind: string; message: string } | null = null;
  private lastReconcileAt = 0;
  private rounds = 0;
  private readonly now: () => Date;
  private readonly sync: Config['sync'];
  /** Wakes the loop before its timer (a change was queued, or a test asks for a round). */
  private wake: (() => void) | null = null;
  private roundWaiters: Array<{ need: number; resolve: () => void }> = [];

  constructor(private readonly o: SyncServiceOptions) {
    super('sync', o.bus);
    this.sync = o.config.sync;
    this.now = o.now ?? (() => new Date());
    this.local = new UnitSyncStore(o.store, o.registry, o.config.unit.id, o.log, this.now);
  }

  protected onStart(): void {
    const s = this.sync;
    this.local.bind(s.serverUrl, s.org);
    const keyFile = s.deviceKeyFile || join(resolve(this.o.config.store.dataDir), 'sync-device-key.pem');
    const { key, created } = loadOrCreateDeviceKey(keyFile);
    if (created) this.o.log.info({ file: keyFile }, 'sync device key created');
    const ac = new AbortController();
    this.abort = ac;
    const baseFetch = this.o.fetch ?? globalThis.fetch;
    const fetchWithStop: typeof fetch = (input, init) =>
      baseFetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, ac.signal]) : ac.signal });
    const options: SyncClientOptions = {
      serverUrl: s.serverUrl,
      org: s.org,
      deviceId: this.o.config.unit.id,
      deviceName: this.o.config.unit.name || this.o.config.unit.id,
      key,
      passphrase: () => readSecretFile(s.passphraseFile, 'sync.passphraseFile'),
      batchSize: s.batchSize,
      pageSize: s.pageSize,
      intervalMs: s.intervalSec * 1000,
      requestTimeoutMs: s.requestTimeoutSec * 1000,
      backoff: this.o.backoff ?? { baseMs: s.backoffBaseMs, capMs: s.backoffCapMs },
      fetch: fetchWithStop,
      now: this.now,
      log: this.o.log,
      ...(this.o.keyRing ? { keyRing: this.o.keyRing } : {}),
    };
    const keyId = createHash('sha256').update(exportPublicKey(key)).digest('hex').slice(0, 16);
    this.loop = this.run(options, keyId, ac.signal);
    // A change on this unit is pushed soon, not only at the next interval.
    this.listen('people.changed', () => this.nudge());
    this.listen('attendance.recorded', () => this.nudge());
  }

  protected override async onStop(): Promise<void> {
    this.abort?.abort();
    this.wake?.();
    await this.loop;
    this.loop = null;
  }

  /** Starts the next round now instead of at the end of the interval (not during a backoff). */
  nudge(): void {
    if (this.failures > 0) return;
    this.again = true;
    this.wake?.();
  }

  /** Another round is wanted at once (a change was queued during this one, or syncNow was asked). */
  private again = false;

  /** Resolves after the next round (success or failure) finished; starts it now. Tests and the admin's "sync now". */
  syncNow(): Promise<void> {
    // A round that starts after this call: one in progress may have read the outbox already.
    const need = this.started + 1;
    const done = new Promise<void>((r) => this.roundWaiters.push({ need, resolve: r }));
    this.again = true;
    this.wake?.();
    return done;
  }

  private started = 0;

  private finishRound(all = false): void {
    this.roundWaiters = this.roundWaiters.filter((w) => {
      if (!all && w.need > this.started) return true;
      w.resolve();
      return false;
    });
  }

  private async v1(): Promise<SyncClientOptions['v1']> {
    const v1 = this.sync.v1;
    if (!v1.passwordFile || !v1.salt) return null;
    return { password: await readSecretFile(v1.passwordFile, 'sync.v1.passwordFile'), salt: v1.salt };
  }

  private async run(options: SyncClientOptions, keyId: string, signal: AbortSignal): Promise<void> {
    const registration = `${this.o.store.syncOutbox.binding() ?? ''} ${options.deviceId} ${keyId}`;
    while (!signal.aborted) {
      let delay: number;
      this.again = false;
      this.started++;
      try {
        if (!this.client) this.client = new SyncClient({ ...options, v1: await this.v1() });
        const client = this.client;
        if (this.o.store.syncOutbox.registered() !== registration) {
          const info = await client.register(this.sync.claimCode || undefined);
          if (info.status === 'ACTIVE') {
            this.o.store.syncOutbox.setRegistered(registration);
            this.o.log.info({ org: options.org, device: options.deviceId }, 'registered with the sync server');
          } else
            throw new SyncError(
              'forbidden',
              `this unit is registered as ${info.status} and waits for an operator (blinkd sync-server devices approve ${options.org}/${options.deviceId})`,
              403,
            );
        }
        const r = await client.syncOnce(this.local);
        const hours = this.sync.reconcileHours * 3_600_000;
        if (r.upToDate && this.now().getTime() - this.lastReconcileAt >= hours) {
          this.lastReconcileAt = this.now().getTime();
          if (await client.reconcile(this.local)) this.o.log.warn({}, 'people had drifted from the sync server: resynced from a snapshot');
        }
        if (this.failures > 0) this.o.log.info({ after: this.failures }, 'sync works again');
        this.failures = 0;
        this.lastError = null;
        delay = r.upToDate ? this.sync.intervalSec * 1000 : 0;
      } catch (err) {
        if (signal.aborted) break;
        const e = err instanceof SyncError ? err : new SyncError('protocol', (err as Error)?.message ?? String(err));
        // The server no longer knows this device (its database was reset): register again.
        if (e.kind === 'unauthenticated' && /unknown device/.test(e.message)) this.o.store.syncOutbox.setRegistered(null);
        this.failures++;
        this.lastError = { at: this.now().toISOString(), kind: e.kind, message: this.scrub(e.message) };
        delay = backoffDelay(this.failures, options.backoff, e.retryAfterMs);
        // The first failure and then every tenth, so an outage of days does not fill the journal.
        if (this.failures === 1 || this.failures % 10 === 0)
          this.o.log.warn({ kind: e.kind, failures: this.failures, retryInMs: delay }, `sync failed: ${e.message}`);
      }
      this.rounds++;
      this.finishRound();
      this.nextAttemptAt = new Date(this.now().getTime() + delay).toISOString();
      if (this.again) delay = 0;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, delay);
        function done() {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        }
        this.wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
      this.wake = null;
    }
    this.finishRound(true);
  }

  private nextAttemptAt: string | null = null;

  /** An error message as shown: the server URL's query (it may carry a token) and any credentials left out. */
  private scrub(message: string): string {
    let out = message.replace(/\/\/[^/\s@]+@/g, '//');
    try {
      const u = new URL(this.sync.serverUrl);
      for (const secret of [u.search.slice(1), u.password, this.sync.claimCode]) if (secret.length >= 4) out = out.split(secret).join('…');
    } catch {
      /* the URL was validated by the configuration */
    }
    return out;
  }

  /** The unit's sync state, without secrets: what /health, MQTT health and the admin show. */
  health(): Record<string, unknown> {
    const c = this.client?.status();
    const pending = this.local.pending();
    return {
      server: displayUrl(this.sync.serverUrl),
      org: this.sync.org,
      device: c?.device === 'unknown' && this.o.store.syncOutbox.registered() ? 'ACTIVE' : (c?.device ?? 'unknown'),
      state: this.failures > 0 ? 'backing_off' : (c?.state ?? 'starting'),
      connected: c?.connected ?? false,
      lastSuccessAt: c?.lastSuccessAt ?? null,
      lastError: this.lastError,
      consecutiveFailures: this.failures,
      nextAttemptAt: this.nextAttemptAt,
      pending: { people: pending.people, attendance: pending.attendance, oldestAt: pending.oldestAt },
      pushed: c?.pushed ?? { people: 0, attendance: 0 },
      pulled: c?.pulled ?? { people: 0, rejected: 0, importedV1: 0 },
      reenrollmentNeeded: this.o.registry.reenrollmentNeeded(),
      issues: this.local.issues.slice(-5) satisfies SyncIssue[],
      rounds: this.rounds,
    };
  }
}

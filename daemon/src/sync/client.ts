/**
 * The unit's sync client: speaks the sync server's protocol (docs/SYNC.md) and nothing else.
 * It takes plain data from a SyncLocalStore (the unit's registry and outbox, localStore.ts),
 * seals templates as they leave and opens them as they arrive, signs every request with the
 * device key, and retries for ever with full-jitter backoff (honouring 429/503 Retry-After).
 *
 *   register(claimCode?)   once: the unit's public key, activated by a claim code or an operator
 *   syncOnce(store)        push the outbox in batches (acknowledged entries removed), then pull
 *                          pages after the cursor until up to date (each page and its cursor
 *                          applied in one transaction of the store)
 *   run(store, signal)     syncOnce every interval; on failure back off and try again, always
 *   status()               what the admin and MQTT health show
 */
import { Ajv, type ValidateFunction } from 'ajv';
import type { KeyObject } from 'node:crypto';
import { backoffDelay, parseRetryAfter, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { EnvelopeError } from './envelope.js';
import { KeyRing, type KeyRingOptions } from './envelopeKeyRing.js';
import { deriveV1Key, parseV1Salt } from './envelopeV1.js';
import type { OutboxBatch, RemotePage, RemotePerson, SyncLocalStore } from './localStore.js';
import {
  deviceInfoSchema,
  digestResponseSchema,
  keyRingResponseSchema,
  NEW_KEY_SIGNATURE_HEADER,
  pullPeopleResponseSchema,
  pushAttendanceResponseSchema,
  pushPeopleResponseSchema,
  type DeviceInfo,
  type DigestResponse,
  type KeyRingResponse,
  type PullPeopleResponse,
  type PushAttendanceResponse,
  type PushPeopleResponse,
} from './protocol.js';
import { personFromWire, personToWire } from './records.js';
import { canonicalRequest, bodyDigest, exportPublicKey, parseAuthorization, signCanonical, signRequest } from './requestSigning.js';

export type SyncErrorKind = 'network' | 'overloaded' | 'server' | 'unauthenticated' | 'forbidden' | 'not_found' | 'rejected' | 'protocol' | 'keyring';

/** A failed exchange, in words for the admin, with what the client does about it. */
export class SyncError extends Error {
  constructor(
    readonly kind: SyncErrorKind,
    message: string,
    readonly status: number | null = null,
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = 'SyncError';
  }
}

export interface SyncClientOptions {
  /** The sync server's base URL, e.g. https://sync.example.com */
  serverUrl: string;
  org: string;
  /** This unit's id (unit.id): its device id on the server. */
  deviceId: string;
  deviceName?: string;
  /** The device's Ed25519 private key (requestSigning.ts loadOrCreateDeviceKey). */
  key: KeyObject;
  /** The organisation passphrase that opens the key ring. */
  passphrase: () => string | Promise<string>;
  /** To import the original app's records: its organisation password and the v1 salt it was built with. */
  v1?: { password: string; salt: string } | null;
  batchSize?: number;
  pageSize?: number;
  intervalMs?: number;
  requestTimeoutMs?: number;
  backoff?: BackoffOptions;
  keyRing?: KeyRingOptions;
  /** A key ring already opened with the passphrase: the load generator shares one among its simulated units instead of running scrypt a thousand times. */
  openedKeyRing?: KeyRing;
  /** Most batches pushed / pages pulled in one syncOnce before yielding (it carries on at the next round). */
  maxRoundsPerSync?: number;
  fetch?: typeof fetch;
  now?: () => Date;
  log?: { info: (o: object, m: string) => void; warn: (o: object, m: string) => void };
}

export interface SyncStatus {
  state: 'idle' | 'syncing' | 'backing_off' | 'stopped';
  /** The last exchange with the server succeeded. */
  connected: boolean;
  lastSuccessAt: string | null;
  lastError: { at: string; kind: SyncErrorKind; message: string } | null;
  consecutiveFailures: number;
  nextAttemptAt: string | null;
  device: DeviceInfo['status'] | 'unregistered' | 'unknown';
  pushed: { people: number; attendance: number };
  pulled: { people: number; rejected: number; importedV1: number };
}

export interface SyncRoundResult {
  pushedPeople: number;
  pushedAttendance: number;
  pulled: number;
  rejected: number;
  upToDate: boolean;
}

const ajv = new Ajv({ strict: false, allErrors: false });
const validators = {
  device: ajv.compile(deviceInfoSchema),
  keyring: ajv.compile(keyRingResponseSchema),
  pushPeople: ajv.compile(pushPeopleResponseSchema),
  pull: ajv.compile(pullPeopleResponseSchema),
  pushAttendance: ajv.compile(pushAttendanceResponseSchema),
  digest: ajv.compile(digestResponseSchema),
};

function detailOf(body: unknown): string {
  const d = (body as { detail?: unknown } | null)?.detail;
  if (typeof d === 'string') return d;
  if (Array.isArray(d)) return d.map((i: { loc?: unknown[]; msg?: string }) => `${(i.loc ?? []).join('.')}: ${i.msg ?? ''}`).join('; ');
  return '';
}

export class SyncClient {
  private readonly base: URL;
  private readonly fetch: typeof fetch;
  private readonly now: () => Date;
  private ring: KeyRing | null = null;
  private ringVersion = 0;
  private v1Key: Buffer | null | undefined;
  private timer: NodeJS.Timeout | null = null;
  private readonly status_: SyncStatus = {
    state: 'idle',
    connected: false,
    lastSuccessAt: null,
    lastError: null,
    consecutiveFailures: 0,
    nextAttemptAt: null,
    device: 'unknown',
    pushed: { people: 0, attendance: 0 },
    pulled: { people: 0, rejected: 0, importedV1: 0 },
  };

  constructor(private readonly o: SyncClientOptions) {
    this.base = new URL(o.serverUrl.endsWith('/') ? o.serverUrl : o.serverUrl + '/');
    this.fetch = o.fetch ?? globalThis.fetch;
    this.now = o.now ?? (() => new Date());
    this.ring = o.openedKeyRing ?? null;
  }

  status(): SyncStatus {
    return structuredClone(this.status_);
  }

  private get orgPath(): string {
    return `api/v2/orgs/${encodeURIComponent(this.o.org)}`;
  }

  /** One signed request; throws SyncError with a kind the retry logic and the admin understand. */
  private async request<T>(
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    body: unknown,
    validate: ValidateFunction | null,
    extraHeaders: Record<string, string> = {},
  ): Promise<T> {
    const url = new URL(path, this.base);
    const text = body === undefined ? undefined : JSON.stringify(body);
    const pathAndQuery = url.pathname + url.search;
    const headers: Record<string, string> = {
      authorization: signRequest(this.o.key, this.o.org, this.o.deviceId, method, pathAndQuery, text, this.now().getTime()),
      accept: 'application/json',
      ...extraHeaders,
    };
    if (text !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetch(url, { method, headers, body: text, signal: AbortSignal.timeout(this.o.requestTimeoutMs ?? 30_000) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new SyncError('network', `cannot reach the sync server at ${this.base.origin}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    let parsed: unknown = null;
    const raw = await res.text().catch(() => '');
    try {
      parsed = raw ? JSON.parse(raw) : null;
    } catch {
      if (res.ok) throw new SyncError('protocol', `sync server answered ${res.status} with something that is not JSON`, res.status);
    }
    if (!res.ok) {
      const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), this.now().getTime());
      const detail = detailOf(parsed) || res.statusText;
      const s = res.status;
      if (s === 429 || s === 503) throw new SyncError('overloaded', `sync server busy (${s}): ${detail}`, s, retryAfterMs);
      if (s === 401) throw new SyncError('unauthenticated', `sync server refused the device's credentials: ${detail}`, s);
      if (s === 403) throw new SyncError('forbidden', `sync server refused: ${detail}`, s);
      if (s === 404) throw new SyncError('not_found', `sync server: ${detail} (check the server URL and organisation)`, s);
      if (s === 409 || s === 413 || s === 422 || s === 400) throw new SyncError('rejected', `sync server rejected the request (${s}): ${detail}`, s);
      throw new SyncError('server', `sync server error ${s}: ${detail}`, s, retryAfterMs);
    }
    if (validate && !validate(parsed)) {
      throw new SyncError('protocol', `sync server answer does not match the protocol: ${ajv.errorsText(validate.errors)}`, res.status);
    }
    return parsed as T;
  }

  /** Registers the device key: ACTIVE at once with a valid claim code, else PENDING until an operator approves it. */
  async register(claimCode?: string): Promise<DeviceInfo> {
    const body = {
      org: this.o.org,
      device_id: this.o.deviceId,
      name: this.o.deviceName ?? this.o.deviceId,
      public_key: exportPublicKey(this.o.key),
      ...(claimCode ? { claim_code: claimCode.trim() } : {}),
    };
    const info = await this.request<DeviceInfo>('POST', 'api/v2/register', body, validators.device);
    this.status_.device = info.status;
    return info;
  }

  async deviceInfo(): Promise<DeviceInfo> {
    const info = await this.request<DeviceInfo>('GET', `${this.orgPath}/device`, undefined, validators.device);
    this.status_.device = info.status;
    return info;
  }

  /** Replaces the device key: the request is signed by the current key and by the new one. Use the new key from then on. */
  async rotateDeviceKey(newKey: KeyObject): Promise<DeviceInfo> {
    const path = `${this.orgPath}/device/rotate`;
    const body = JSON.stringify({ public_key: exportPublicKey(newKey) });
    const url = new URL(path, this.base);
    const authorization = signRequest(this.o.key, this.o.org, this.o.deviceId, 'POST', url.pathname, body, this.now().getTime());
    const f = parseAuthorization(authorization)!;
    const canonical = canonicalRequest('POST', url.pathname, this.o.org, this.o.deviceId, f.ts, f.nonce, bodyDigest(body));
    const res = await this.fetch(url, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json', [NEW_KEY_SIGNATURE_HEADER]: signCanonical(newKey, canonical) },
      body,
      signal: AbortSignal.timeout(this.o.requestTimeoutMs ?? 30_000),
    });
    const parsed = (await res.json().catch(() => null)) as DeviceInfo | null;
    if (!res.ok || !parsed)
      throw new SyncError(res.status === 401 ? 'unauthenticated' : 'rejected', `key rotation refused (${res.status}): ${detailOf(parsed)}`, res.status);
    this.o.key = newKey;
    return parsed;
  }

  /** The organisation's key ring: read from the server and opened with the passphrase, created by the first unit, rotated when a key nears its limit. */
  async keyRing(refresh = false): Promise<KeyRing> {
    if (this.ring && !refresh) return this.ring;
    for (let attempt = 0; ; attempt++) {
      const got = await this.request<KeyRingResponse>('GET', `${this.orgPath}/keyring`, undefined, validators.keyring);
      const passphrase = await this.o.passphrase();
      let ring: KeyRing;
      let version = got.version;
      try {
        ring = got.keyring ? await KeyRing.unlock(got.keyring, passphrase, this.o.keyRing) : await KeyRing.create(this.o.org, passphrase, this.o.keyRing);
      } catch (err) {
        if (err instanceof EnvelopeError) throw new SyncError('keyring', `${err.message}`);
        throw err;
      }
      if (ring.org !== this.o.org) throw new SyncError('keyring', `the server's key ring is for organisation "${ring.org}", not "${this.o.org}"`);
      ring.noteUsage(got.usage);
      if (!got.keyring || ring.needsRotation()) {
        if (got.keyring) ring.rotate();
        try {
          version = (await this.request<{ version: number }>('PUT', `${this.orgPath}/keyring`, { if_version: got.version, keyring: ring.toDocument() }, null))
            .version;
        } catch (err) {
          // Another unit created or rotated it meanwhile: take theirs.
          if (err instanceof SyncError && err.status === 409 && attempt < 5) continue;
          throw err;
        }
        this.o.log?.info({ org: this.o.org, kid: ring.currentKid(), version }, got.keyring ? 'key ring rotated' : 'key ring created');
      }
      this.ring = ring;
      this.ringVersion = version;
      return ring;
    }
  }

  /** Stores a changed key ring compare-and-set; on a conflict reads the current one, applies `change` again and retries. */
  private async storeRing(change: (ring: KeyRing) => Promise<void> | void): Promise<KeyRing> {
    for (let attempt = 0; ; attempt++) {
      const ring = await this.keyRing(true);
      await change(ring);
      try {
        this.ringVersion = (
          await this.request<{ version: number }>('PUT', `${this.orgPath}/keyring`, { if_version: this.ringVersion, keyring: ring.toDocument() }, null)
        ).version;
        this.ring = ring;
        return ring;
      } catch (err) {
        if (err instanceof SyncError && err.status === 409 && attempt < 5) continue;
        throw err;
      }
    }
  }

  /** Rotates the organisation's data key now (old envelopes keep opening; new ones use the new key). Returns the new key id. */
  async rotateDataKey(): Promise<string> {
    const ring = await this.storeRing((r) => void r.rotate());
    this.o.log?.info({ org: this.o.org, kid: ring.currentKid() }, 'data key rotated');
    return ring.currentKid();
  }

  /**
   * Re-wraps the organisation's data keys under a new passphrase (no envelope changes, nobody
   * re-enrolls). Every unit needs the new passphrase from then on: change the passphrase source
   * this client reads (options.passphrase) too.
   */
  async changePassphrase(newPassphrase: string): Promise<void> {
    await this.storeRing((r) => r.changePassphrase(newPassphrase));
    this.o.passphrase = () => newPassphrase;
  }

  private async v1(): Promise<Buffer | null> {
    if (this.v1Key !== undefined) return this.v1Key;
    this.v1Key = this.o.v1?.password && this.o.v1.salt ? await deriveV1Key(this.o.v1.password, parseV1Salt(this.o.v1.salt)) : null;
    return this.v1Key;
  }

  /** Pushes one outbox batch; returns what it acknowledged (0 when the outbox is empty). */
  private async pushBatch(store: SyncLocalStore, batch: OutboxBatch): Promise<{ people: number; attendance: number }> {
    const ring = await this.keyRing();
    const ack: string[] = [];
    if (batch.people.length) {
      const cursor = await store.cursor();
      const people = batch.people.map((e) => personToWire(e.person, ring));
      const res = await this.request<PushPeopleResponse>(
        'POST',
        `${this.orgPath}/people`,
        { people, ...(cursor ? { since: cursor } : {}) },
        validators.pushPeople,
      );
      const answered = new Set(res.results.map((r) => `${r.id}@${r.version}`));
      for (const e of batch.people) {
        if (!answered.has(`${e.person.id}@${e.person.version}`)) throw new SyncError('protocol', `sync server did not answer for person ${e.person.id}`);
        ack.push(...e.outboxIds);
      }
    }
    if (batch.attendance.length) {
      const rows = batch.attendance.map(({ row }) => ({
        id: row.id,
        person_id: row.personId,
        timestamp: row.timestamp,
        status: row.kind,
        punctuality: row.punctuality,
      }));
      const res = await this.request<PushAttendanceResponse>('POST', `${this.orgPath}/attendance`, { rows }, validators.pushAttendance);
      const answered = new Set(res.results.map((r) => r.id));
      for (const e of batch.attendance) {
        if (!answered.has(e.row.id)) throw new SyncError('protocol', `sync server did not answer for attendance ${e.row.id}`);
        ack.push(e.outboxId);
      }
    }
    if (ack.length) await store.ack(ack);
    return { people: batch.people.length, attendance: batch.attendance.length };
  }

  /** Pushes the whole outbox (up to maxRoundsPerSync batches). */
  async push(store: SyncLocalStore): Promise<{ people: number; attendance: number; drained: boolean }> {
    const total = { people: 0, attendance: 0, drained: false };
    const size = this.o.batchSize ?? 200;
    for (let round = 0; round < (this.o.maxRoundsPerSync ?? 1000); round++) {
      const batch = await store.nextOutboxBatch(size);
      if (!batch.people.length && !batch.attendance.length) return { ...total, drained: true };
      const n = await this.pushBatch(store, batch);
      total.people += n.people;
      total.attendance += n.attendance;
      this.status_.pushed.people += n.people;
      this.status_.pushed.attendance += n.attendance;
    }
    return total;
  }

  /**
   * Pulls pages after the stored cursor until up to date. forceSnapshot starts from 0 (drift
   * repair). A page that names a key id the ring lacks makes the ring be read again.
   */
  async pull(store: SyncLocalStore, forceSnapshot = false): Promise<{ pulled: number; rejected: number; upToDate: boolean }> {
    const limit = this.o.pageSize ?? 200;
    let since = forceSnapshot ? '0' : ((await store.cursor()) ?? '0');
    let inSnapshot = false;
    let seen = new Set<string>();
    let pulled = 0;
    let rejectedTotal = 0;
    const v1Key = await this.v1();
    let republished = false;
    for (let round = 0; round < (this.o.maxRoundsPerSync ?? 1000); round++) {
      const query = `since=${since}&limit=${limit}${inSnapshot ? '&snapshot=1' : ''}`;
      const page = await this.request<PullPeopleResponse>('GET', `${this.orgPath}/people?${query}`, undefined, validators.pull);
      if (page.snapshot_reason === 'ahead' && !republished) {
        // The server is behind this unit's cursor: it was restored from an older backup. Give it
        // back everything this unit holds (duplicates are acknowledged), then take the snapshot.
        republished = true;
        this.o.log?.warn({ cursor: since, head: page.head }, 'sync server is behind this unit (restored from a backup?): pushing every person again');
        await store.requeueAll();
        await this.push(store);
        since = '0';
        continue;
      }
      if (page.snapshot && !inSnapshot) {
        inSnapshot = true;
        seen = new Set();
      }
      const people: RemotePerson[] = [];
      const rejected: RemotePage['rejected'] = [];
      for (const w of page.changes) {
        if (inSnapshot) seen.add(w.id);
        let opened;
        try {
          opened = personFromWire(w, { ring: await this.keyRing(), v1Key, unitId: this.o.deviceId, now: this.now });
        } catch (err) {
          if (!(err instanceof EnvelopeError) || err.code !== 'unknown_key') throw err;
          opened = personFromWire(w, { ring: await this.keyRing(true), v1Key, unitId: this.o.deviceId, now: this.now });
        }
        if ('ok' in opened) {
          people.push(opened.ok);
          this.status_.pulled.importedV1 += opened.ok.importedV1.length;
        } else {
          rejected.push({ personId: w.id, version: w.version, reason: opened.rejected });
          this.o.log?.warn({ person: w.id, version: w.version, reason: opened.rejected }, 'pulled record refused');
        }
      }
      const last = !page.has_more;
      await store.applyRemote({
        people,
        rejected,
        cursor: inSnapshot && !last ? null : page.next_since,
        snapshotComplete: inSnapshot && last ? { seenIds: seen } : null,
      });
      pulled += people.length;
      rejectedTotal += rejected.length;
      this.status_.pulled.people += people.length;
      this.status_.pulled.rejected += rejected.length;
      since = page.next_since;
      if (last) return { pulled, rejected: rejectedTotal, upToDate: true };
    }
    return { pulled, rejected: rejectedTotal, upToDate: false };
  }

  /** Compares the server's digest of live people with the store's; on a mismatch pulls a full snapshot. Returns whether it did. */
  async reconcile(store: SyncLocalStore): Promise<boolean> {
    await this.pull(store);
    const remote = await this.request<DigestResponse>('GET', `${this.orgPath}/people/digest`, undefined, validators.digest);
    const local = await store.digest();
    if (remote.count === local.count && remote.sha256 === local.sha256) return false;
    this.o.log?.warn({ remote: remote.count, local: local.count }, 'people drifted from the sync server: pulling a full snapshot');
    await this.pull(store, true);
    return true;
  }

  /** One round: push everything queued, then pull until up to date. */
  async syncOnce(store: SyncLocalStore): Promise<SyncRoundResult> {
    this.status_.state = 'syncing';
    try {
      const ring = await this.keyRing(); // a wrong passphrase is said at once, not only when a template arrives
      const pushed = await this.push(store);
      // A long-running unit that has sealed up to the threshold since it opened the ring rotates it now.
      if (ring.needsRotation()) await this.rotateDataKey();
      const pulled = await this.pull(store);
      this.status_.connected = true;
      this.status_.lastSuccessAt = this.now().toISOString();
      this.status_.consecutiveFailures = 0;
      this.status_.lastError = null;
      if (this.status_.device === 'unknown') this.status_.device = 'ACTIVE';
      this.status_.state = 'idle';
      return {
        pushedPeople: pushed.people,
        pushedAttendance: pushed.attendance,
        pulled: pulled.pulled,
        rejected: pulled.rejected,
        upToDate: pushed.drained && pulled.upToDate,
      };
    } catch (err) {
      this.noteFailure(err);
      throw err;
    }
  }

  private noteFailure(err: unknown): SyncError {
    const e = err instanceof SyncError ? err : new SyncError('protocol', (err as Error).message ?? String(err));
    this.status_.connected = e.kind !== 'network' && e.kind !== 'overloaded' && e.kind !== 'server';
    this.status_.consecutiveFailures++;
    this.status_.lastError = { at: this.now().toISOString(), kind: e.kind, message: e.message };
    if (e.kind === 'forbidden' && /revoked/.test(e.message)) this.status_.device = 'REVOKED';
    else if (e.kind === 'forbidden' && /approval/.test(e.message)) this.status_.device = 'PENDING';
    this.status_.state = 'backing_off';
    return e;
  }

  /** The delay before the next attempt after `failures` failures in a row (full jitter; Retry-After as a floor). */
  nextDelay(err: unknown): number {
    const e = err instanceof SyncError ? err : null;
    return backoffDelay(this.status_.consecutiveFailures, this.o.backoff ?? DEFAULT_BACKOFF, e?.retryAfterMs ?? null);
  }

  /**
   * Syncs every intervalMs until the signal aborts. A failure never ends it: the next attempt
   * comes after the backoff delay, for as long as the unit runs.
   */
  async run(store: SyncLocalStore, signal: AbortSignal, onRound?: (r: SyncRoundResult | SyncError) => void): Promise<void> {
    while (!signal.aborted) {
      let delay: number;
      try {
        const r = await this.syncOnce(store);
        onRound?.(r);
        // Not up to date yet (a large backlog): carry on at once; otherwise wait for the interval.
        delay = r.upToDate ? (this.o.intervalMs ?? 60_000) : 0;
      } catch (err) {
        onRound?.(err instanceof SyncError ? err : new SyncError('protocol', String(err)));
        delay = this.nextDelay(err);
      }
      this.status_.nextAttemptAt = new Date(this.now().getTime() + delay).toISOString();
      await new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        const onAbort = () => {
          if (this.timer) clearTimeout(this.timer);
          resolve();
        };
        this.timer = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, delay);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
    this.status_.state = 'stopped';
  }

  /** For tests and diagnostics: the key ring version this client last stored or read. */
  keyRingVersion(): number {
    return this.ringVersion;
  }
}

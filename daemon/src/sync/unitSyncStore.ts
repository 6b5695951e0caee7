/**
 * The unit's SyncLocalStore on SQLite: the sync client's view of the people registry and the
 * sync outbox of this unit's database. It owns no table: people, templates and tombstones are
 * read and written through the people registry (registry/peopleRegistry.ts, the one owner of
 * people), the outbox and the cursor through store/outboxRepo.ts. Every rule is the one of
 * memoryLocalStore.ts:
 *
 * - the outbox entries are written by the registry and the decision recorder in the same
 *   transaction as the change (so a crash never loses or half-applies one);
 * - a pulled page is applied through PeopleRegistry.applySynced in ONE transaction with its
 *   cursor (and any re-push entries), so an interrupted pull never claims to be up to date;
 * - last writer wins by sync/lww.ts compareStamps, deletions are tombstones;
 * - entries are removed only when the server acknowledged them.
 */
import { peopleDigest } from './digest.js';
import type { AttendanceData, OutboxBatch, PersonData, RemotePage, SyncLocalStore } from './localStore.js';
import { compareStamps } from './lww.js';
import type { Logger } from '../logging.js';
import { SyncRecordError, syncPersonFields, type PeopleRegistry, type SyncPerson } from '../registry/peopleRegistry.js';
import type { PersonSyncStamp } from '../registry/peopleTable.js';
import type { Store } from '../store/store.js';

/** What the last pulls refused or could not fully use, for the admin and health (most recent last, bounded). */
export interface SyncIssue {
  at: string;
  personId: string;
  reason: string;
}

const MAX_ISSUES = 50;

export class UnitSyncStore implements SyncLocalStore {
  /** The kind and ref of each entry handed out by the last nextOutboxBatch, for ack. */
  private readonly handedOut = new Map<string, { kind: string; refId: string }>();
  readonly issues: SyncIssue[] = [];

  constructor(
    private readonly store: Store,
    private readonly registry: PeopleRegistry,
    /** This unit's device id (unit.id). */
    readonly unitId: string,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Binds the bookkeeping to one sync server and organisation. When either changed (or on the
   * first start with sync on) the cursor and the registration are reset and every person this
   * unit holds is queued, in one transaction: the new server gets everything, and the unit pulls
   * it from the start. Returns whether it was reset.
   */
  bind(serverUrl: string, org: string): boolean {
    const binding = `${new URL(serverUrl).href.replace(/\/+$/, '')} ${org}`;
    const outbox = this.store.syncOutbox;
    if (outbox.binding() === binding) return false;
    this.store.transaction(() => {
      outbox.setCursor(null);
      outbox.setRegistered(null);
      outbox.queuePeople(this.registry.syncIds());
      outbox.setBinding(binding);
    });
    this.log.info({ org }, 'sync server or organisation changed: cursor reset, every person queued');
    return true;
  }

  private stamp(s: PersonSyncStamp, deleted: boolean) {
    return { version: s.version, deleted, updatedAt: s.updatedAt, unitId: s.unitId || this.unitId };
  }

  private toData(p: SyncPerson): PersonData {
    return {
      id: p.id,
      version: p.stamp.version,
      updatedAt: p.stamp.updatedAt,
      unitId: p.stamp.unitId || this.unitId,
      ...syncPersonFields(p),
      templates: p.templates.map((t) => ({ id: t.id, modelId: t.modelId, embedding: t.embedding, quality: t.quality })),
      // Face images stay on the unit (thumbnails are not synced).
      photo: null,
    };
  }

  private note(personId: string, reason: string): void {
    this.issues.push({ at: this.now().toISOString(), personId, reason });
    if (this.issues.length > MAX_ISSUES) this.issues.splice(0, this.issues.length - MAX_ISSUES);
  }

  nextOutboxBatch(limit: number): OutboxBatch {
    const rows = this.store.syncOutbox.peek(limit);
    this.handedOut.clear();
    const batch: OutboxBatch = { people: [], attendance: [] };
    const byPerson = new Map<string, string[]>();
    const unusable: number[] = [];
    for (const r of rows) {
      const outboxId = String(r.seq);
      this.handedOut.set(outboxId, { kind: r.kind, refId: r.refId });
      if (r.kind === 'person') {
        const ids = byPerson.get(r.refId) ?? [];
        ids.push(outboxId);
        byPerson.set(r.refId, ids);
      } else if (r.kind === 'attendance') {
        const row = parseAttendance(r.payload);
        if (row) batch.attendance.push({ outboxId, row });
        else {
          this.log.error({ seq: r.seq, ref: r.refId }, 'sync outbox: unreadable attendance entry dropped');
          unusable.push(r.seq);
        }
      } else {
        // Kinds no sync server takes (entries of older builds): nothing to send.
        unusable.push(r.seq);
      }
    }
    for (const [personId, outboxIds] of byPerson) {
      const rec = this.registry.syncRecord(personId);
      if (rec) batch.people.push({ outboxIds, person: this.toData(rec) });
      else unusable.push(...outboxIds.map(Number)); // gone from this unit altogether (dropped by a snapshot): nothing left to send
    }
    if (unusable.length) this.store.syncOutbox.ack(unusable);
    return batch;
  }

  ack(outboxIds: readonly string[]): void {
    const events: string[] = [];
    for (const id of outboxIds) {
      const h = this.handedOut.get(id);
      if (h?.kind === 'attendance') events.push(h.refId);
      this.handedOut.delete(id);
    }
    this.store.transaction(() => {
      this.store.syncOutbox.ack(outboxIds.map(Number));
      // Delivered: the retention rule may now prune these rows (store/retention.ts).
      this.store.attendance.markSyncedByEvent(events);
    });
  }

  /**
   * The round failed: the entries handed out and not acknowledged (the batch being sent) keep
   * the reason (`message` as shown on /health, already scrubbed of credentials), so the admin
   * shows those rows as failed until a later round delivers them.
   */
  failed(message: string): void {
    if (this.handedOut.size) this.store.syncOutbox.fail([...this.handedOut.keys()].map(Number), message);
  }

  applyRemote(page: RemotePage): void {
    const actor = 'sync';
    this.registry.applySynced(actor, (tx) => {
      for (const r of page.people) {
        const p = r.person;
        const cur = tx.stamp(p.id);
        const incoming = { version: p.version, deleted: p.deleted, updatedAt: p.updatedAt, unitId: p.unitId };
        if (cur && compareStamps(incoming, this.stamp(cur, cur.deleted)) <= 0) continue;
        try {
          tx.put({
            id: p.id,
            stamp: { version: p.version, updatedAt: p.updatedAt, unitId: p.unitId },
            ...syncPersonFields(p),
            templates: p.templates,
          });
        } catch (err) {
          if (!(err instanceof SyncRecordError)) throw err;
          this.log.warn({ person: p.id, version: p.version, reason: err.message }, 'pulled person refused');
          this.note(p.id, err.message);
          continue;
        }
        for (const issue of r.templateIssues) this.note(p.id, issue);
        if (r.repush) this.store.syncOutbox.queuePeople([p.id]);
      }
      for (const rej of page.rejected) this.note(rej.personId, `version ${rej.version} refused: ${rej.reason}`);
      if (page.snapshotComplete) {
        const pending = this.store.syncOutbox.pendingPeople();
        for (const id of this.registry.syncIds()) if (!page.snapshotComplete.seenIds.has(id) && !pending.has(id)) tx.drop(id);
      }
      if (page.cursor !== null) this.store.syncOutbox.setCursor(page.cursor);
    });
  }

  cursor(): string | null {
    return this.store.syncOutbox.cursor();
  }

  requeueAll(): void {
    this.store.transaction(() => this.store.syncOutbox.queuePeople(this.registry.syncIds()));
  }

  digest(): { count: number; sha256: string } {
    return peopleDigest(this.registry.syncVersions());
  }

  /** Unacknowledged outbox entries and when the oldest was queued. */
  pending(): { people: number; attendance: number; oldestAt: string | null } {
    return { ...this.store.syncOutbox.depthByKind(), oldestAt: this.store.syncOutbox.oldestAt() };
  }
}

function parseAttendance(payload: string): AttendanceData | null {
  let v: unknown;
  try {
    v = JSON.parse(payload);
  } catch {
    return null;
  }
  const r = v as Partial<AttendanceData>;
  if (!r || typeof r.id !== 'string' || typeof r.personId !== 'string' || typeof r.timestamp !== 'string') return null;
  if (r.kind !== 'CHECK_IN' && r.kind !== 'CHECK_OUT') return null;
  if (r.punctuality !== null && r.punctuality !== 'ON_TIME' && r.punctuality !== 'LATE') return null;
  return { id: r.id, personId: r.personId, timestamp: r.timestamp, kind: r.kind, punctuality: r.punctuality ?? null };
}

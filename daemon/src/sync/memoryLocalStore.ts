/**
 * A complete SyncLocalStore in memory: what the unit side implements on its registry, with
 * the same rules, so the tests and the load generator run real sync rounds. Writers (enroll,
 * update, remove, recordAttendance) put the change and its outbox entry in one step, as the
 * unit must in one transaction; applyRemote applies a page and its cursor at once.
 */
import { randomUUID } from 'node:crypto';
import { peopleDigest } from './digest.js';
import type { AttendanceData, OutboxBatch, PersonData, RemotePage, RemotePerson, SyncLocalStore } from './localStore.js';
import { compareStamps } from './lww.js';

type OutboxEntry = { id: string; kind: 'person'; personId: string } | { id: string; kind: 'attendance'; row: AttendanceData };

const stamp = (p: PersonData) => ({ version: p.version, deleted: p.deleted, updatedAt: p.updatedAt, unitId: p.unitId });

export class MemorySyncStore implements SyncLocalStore {
  /** Every person this unit knows, tombstones included (a tombstone keeps an older version from coming back). */
  readonly records = new Map<string, PersonData>();
  readonly rejected: RemotePage['rejected'] = [];
  readonly templateIssues = new Map<string, string[]>();
  /** Which v1 (original app) templates were imported, and the plaintext encoding that decoded. */
  readonly importedV1 = new Map<string, RemotePerson['importedV1']>();
  private outbox: OutboxEntry[] = [];
  private cursor_: string | null = null;
  /** How many pages were applied (tests look at it). */
  pagesApplied = 0;

  constructor(
    readonly unitId: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  // ---- the unit's writers ----

  enroll(p: Partial<PersonData> & Pick<PersonData, 'name' | 'templates'>): PersonData {
    const at = this.now().toISOString();
    const person: PersonData = {
      id: randomUUID(),
      status: 'ACTIVE',
      externalId: null,
      validFrom: null,
      validUntil: null,
      schedule: null,
      notes: null,
      photo: null,
      enrolledAt: at,
      ...p,
      version: 1,
      updatedAt: at,
      unitId: this.unitId,
      deleted: false,
    };
    this.records.set(person.id, person);
    this.outbox.push({ id: randomUUID(), kind: 'person', personId: person.id });
    return person;
  }

  update(id: string, patch: Partial<Pick<PersonData, 'name' | 'status' | 'templates' | 'validFrom' | 'validUntil' | 'notes' | 'photo'>>): PersonData {
    const cur = this.live(id);
    if (!cur) throw new Error(`no person ${id}`);
    const next: PersonData = { ...cur, ...patch, version: cur.version + 1, updatedAt: this.now().toISOString(), unitId: this.unitId };
    this.records.set(id, next);
    this.outbox.push({ id: randomUUID(), kind: 'person', personId: id });
    return next;
  }

  remove(id: string): void {
    const cur = this.live(id);
    if (!cur) throw new Error(`no person ${id}`);
    this.records.set(id, {
      ...cur,
      deleted: true,
      name: '',
      templates: [],
      photo: null,
      externalId: null,
      notes: null,
      schedule: null,
      version: cur.version + 1,
      updatedAt: this.now().toISOString(),
      unitId: this.unitId,
    });
    this.outbox.push({ id: randomUUID(), kind: 'person', personId: id });
  }

  recordAttendance(row: Omit<AttendanceData, 'id'> & { id?: string }): AttendanceData {
    const r: AttendanceData = { id: row.id ?? randomUUID(), ...row };
    this.outbox.push({ id: randomUUID(), kind: 'attendance', row: r });
    return r;
  }

  live(id: string): PersonData | null {
    const p = this.records.get(id);
    return p && !p.deleted ? p : null;
  }

  livePeople(): PersonData[] {
    return [...this.records.values()].filter((p) => !p.deleted);
  }

  outboxDepth(): number {
    return this.outbox.length;
  }

  // ---- SyncLocalStore ----

  nextOutboxBatch(limit: number): OutboxBatch {
    const batch: OutboxBatch = { people: [], attendance: [] };
    const byPerson = new Map<string, string[]>();
    for (const e of this.outbox.slice(0, limit)) {
      if (e.kind === 'attendance') batch.attendance.push({ outboxId: e.id, row: e.row });
      else {
        const ids = byPerson.get(e.personId) ?? [];
        ids.push(e.id);
        byPerson.set(e.personId, ids);
      }
    }
    const orphans: string[] = [];
    for (const [personId, outboxIds] of byPerson) {
      const person = this.records.get(personId);
      if (person) batch.people.push({ outboxIds, person: structuredClone(person) });
      else orphans.push(...outboxIds); // the person is gone from this unit altogether: nothing left to send
    }
    if (orphans.length) this.ack(orphans);
    return batch;
  }

  ack(outboxIds: readonly string[]): void {
    const done = new Set(outboxIds);
    this.outbox = this.outbox.filter((e) => !done.has(e.id));
  }

  applyRemote(page: RemotePage): void {
    for (const r of page.people) {
      const cur = this.records.get(r.person.id);
      if (cur && compareStamps(stamp(r.person), stamp(cur)) <= 0) continue;
      this.records.set(r.person.id, r.person);
      if (r.templateIssues.length) this.templateIssues.set(r.person.id, r.templateIssues);
      else this.templateIssues.delete(r.person.id);
      if (r.importedV1.length) this.importedV1.set(r.person.id, r.importedV1);
      if (r.repush) this.outbox.push({ id: randomUUID(), kind: 'person', personId: r.person.id });
    }
    this.rejected.push(...page.rejected);
    if (page.snapshotComplete) {
      const pending = new Set(this.outbox.flatMap((e) => (e.kind === 'person' ? [e.personId] : [])));
      for (const id of [...this.records.keys()]) {
        if (!page.snapshotComplete.seenIds.has(id) && !pending.has(id)) this.records.delete(id);
      }
    }
    if (page.cursor !== null) this.cursor_ = page.cursor;
    this.pagesApplied++;
  }

  cursor(): string | null {
    return this.cursor_;
  }

  setCursor(c: string | null): void {
    this.cursor_ = c;
  }

  requeueAll(): void {
    for (const id of this.records.keys()) this.outbox.push({ id: randomUUID(), kind: 'person', personId: id });
  }

  digest(): { count: number; sha256: string } {
    return peopleDigest(this.livePeople());
  }
}

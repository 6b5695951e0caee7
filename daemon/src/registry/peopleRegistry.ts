import type { EventBus } from '../events.js';
import { Gallery, type GalleryEntry, type MatchResult } from '../gallery/gallery.js';
import type { Logger } from '../logging.js';
import { BaseService } from '../service.js';
import type { AuditRepo } from '../store/auditRepo.js';
import type { Store } from '../store/store.js';
import { isoNow } from '../store/time.js';
import { EnrollError } from '../vision/enrollError.js';
import type { Box } from '../vision/types.js';
import { PeopleTable, type NewPerson, type PeopleFilter, type Person, type PersonKey, type PersonPatch, type PersonStatus } from './peopleTable.js';
import { RevisionTable } from './revisionTable.js';
import { TemplatesTable } from './templatesTable.js';
import { ThumbnailsTable } from './thumbnailsTable.js';
import { ChipsTable } from './chipsTable.js';
import { TombstonesTable } from './tombstonesTable.js';
import type { PersonSyncStamp, SyncedPersonRow } from './peopleTable.js';
import { weeklyWindowSchema } from '../config/schema.js';

/** The longest person name any writer (admin, CLI, sync) may store. */
export const PERSON_NAME_MAX = 100;

/** Why a person name is refused, or null: the one rule for every way a person is created. */
export function personNameProblem(name: string): string | null {
  const n = name.trim();
  if (!n) return 'name: a name is required';
  if (n.length > PERSON_NAME_MAX) return `name: at most ${PERSON_NAME_MAX} characters (got ${n.length})`;
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(n)) return 'name: must not contain control characters';
  return null;
}

export type { Person, PersonPatch, PersonStatus, PersonKey, PeopleFilter } from './peopleTable.js';

/** Where a template came from. */
export type TemplateSource = 'upload' | 'camera' | 'cli' | 'sync' | 'reembed';

/** One face analysed for enrollment: its embedding (L2-normalised) and quality. */
export interface EnrollmentFace {
  embedding: Float32Array;
  quality: number;
  /** The face box in the image it came from (for the thumbnail). */
  box?: Box | null;
  /** The image's name, for messages (`photo 2.jpg: already enrolled as …`). */
  name?: string;
  /** The face's model-independent aligned chip (PNG, registry/chipsTable.ts), kept for re-embedding under another model. */
  chip?: Uint8Array | null;
}

export interface EnrollInput {
  /** A new person, or an existing person's id to add templates to. */
  person: { name: string; externalId?: string | null } | { id: string };
  faces: EnrollmentFace[];
  /** The embedder the faces were embedded with (manifest id). */
  modelId: string;
  source: TemplateSource;
  /** Cosine similarity at or above which a face is "already enrolled" as someone else (access.threshold). */
  duplicateThreshold: number;
  /** A small JPEG crop of the face, kept on the unit (null: none, e.g. thumbnails switched off). */
  thumbnail?: Buffer | null;
  /** Who did it, for the audit log: admin:<user>, cli, sync:<unit>. */
  actor: string;
}

export interface EnrollOutcome {
  person: Person;
  templates: number;
  created: boolean;
}

/** A 1:N answer with the best person's identity as the registry knows it (status included). */
export interface Identification extends MatchResult {
  /** The best person (also for no_match and ambiguous), or null for an empty gallery. */
  person: { id: string; name: string; status: PersonStatus } | null;
  /** The runner-up, by name. */
  secondName: string | null;
}

/** A page of the people list with the data the admin shows per row. */
export interface PersonRow extends Person {
  /** templates of every model */
  templates: number;
  /** templates of the running embedder (the ones the door matches); null when no embedder is active */
  currentTemplates: number | null;
  /**
   * True when the person has no template of the running embedder: the door does not recognise them
   * (it never compares across models) until they are enrolled again.
   */
  needsReenrollment: boolean;
  hasThumbnail: boolean;
}

/** The fields of a person that travel as they are, in a SyncPerson and in the sync protocol's record. */
export type SyncPersonFields = Pick<
  SyncPerson,
  'deleted' | 'name' | 'status' | 'externalId' | 'validFrom' | 'validUntil' | 'schedule' | 'notes' | 'enrolledAt'
>;

/** Those fields of any record that has them (the one list of what a synced person carries besides id, stamp and templates). */
export function syncPersonFields(p: SyncPersonFields): SyncPersonFields {
  const { deleted, name, status, externalId, validFrom, validUntil, schedule, notes, enrolledAt } = p;
  return { deleted, name, status, externalId, validFrom, validUntil, schedule, notes, enrolledAt };
}

/** A person as sync sends and receives it: the whole record at one version, templates in clear (sync/localStore.ts PersonData). */
export interface SyncPerson {
  id: string;
  stamp: PersonSyncStamp;
  deleted: boolean;
  name: string;
  status: PersonStatus;
  externalId: string | null;
  validFrom: string | null;
  validUntil: string | null;
  schedule: unknown[] | null;
  notes: string | null;
  enrolledAt: string;
  templates: Array<{ id: string; modelId: string; embedding: Float32Array; quality: number | null }>;
}

/** What a pulled page may do to the registry, inside ONE transaction with the sync bookkeeping. */
export interface RegistrySyncTx {
  /** The local stamp of the person (live or tombstone), or null when this unit never knew them. */
  stamp(id: string): (PersonSyncStamp & { deleted: boolean }) | null;
  /** Writes a winning pulled record (a deletion removes the person and keeps the tombstone). */
  put(p: SyncPerson): void;
  /** Forgets a person entirely (a snapshot did not name them): no tombstone. */
  drop(id: string): void;
}

/** How often a running unit looks for changes made by another process (the CLI). */
const REVISION_POLL_MS = 2000;

/**
 * The one owner of the people, their face templates and thumbnails, and of the in-memory gallery
 * built from them. Every writer goes through here — the admin, `blinkd enroll` and `people remove`,
 * and later sync — and every reader asks it — the door's decision, the admin's live view,
 * `blinkd identify`, the enrollment duplicate check.
 *
 * One membership rule for the gallery: the templates of the active embedder (its manifest id) of
 * every person, ACTIVE and DEACTIVATED alike. Identity is identity: a deactivated person is
 * recognised and reported with their status (the door denies them as `deactivated`, the live view
 * names them as deactivated, a duplicate enrollment of them is refused) instead of being called a
 * stranger — and a look-alike of a deactivated person cannot slip through on a wide margin.
 * Templates of another embedder are never matched.
 *
 * Every change commits in one transaction with a revision bump and an audit entry, then updates
 * the gallery and emits 'people.changed'. Changes by another process are picked up by polling the
 * revision (every 2 s while the service runs).
 */
/** A pulled record the registry cannot take as it is (nothing of it is written). */
export class SyncRecordError extends Error {
  constructor(
    readonly personId: string,
    message: string,
  ) {
    super(`person ${personId}: ${message}`);
    this.name = 'SyncRecordError';
  }
}

export class PeopleRegistry extends BaseService {
  private readonly people: PeopleTable;
  private readonly templates: TemplatesTable;
  private readonly thumbnails: ThumbnailsTable;
  private readonly chips: ChipsTable;
  private readonly revisions: RevisionTable;
  private readonly tombstones: TombstonesTable;
  private gallery: Gallery | null = null;
  private model: { id: string; dim: number } | null = null;
  /** The revision the gallery reflects. */
  private revision = -1;
  rebuilds = 0;

  constructor(
    private readonly store: Store,
    private readonly audit: AuditRepo,
    bus: EventBus,
    private readonly log: Logger,
    /** The running embedder (from the vision service), asked when the service starts. */
    private readonly embedder: () => { id: string; dim: number } | null = () => null,
    /** This unit's id (unit.id): the author of its changes in sync. */
    private readonly unitId = '',
  ) {
    super('registry', bus);
    this.people = new PeopleTable(store.db, unitId);
    this.templates = new TemplatesTable(store.db);
    this.thumbnails = new ThumbnailsTable(store.db);
    this.chips = new ChipsTable(store.db);
    this.revisions = new RevisionTable(store.db);
    this.tombstones = new TombstonesTable(store.db);
  }

  protected async onStart(): Promise<void> {
    const e = this.embedder();
    if (e) {
      this.model = { id: e.id, dim: e.dim };
      this.gallery = this.newGallery(e.dim);
      await this.gallery.accelerate();
      await this.rebuildAsync();
    }
    this.every(REVISION_POLL_MS, () => this.pollRevision());
  }

  protected override async onStop(): Promise<void> {
    await this.gallery?.release();
  }

  /** Builds the gallery for this embedder (manifest id and embedding dimension). */
  activate(modelId: string, dim: number): void {
    this.model = { id: modelId, dim };
    this.gallery = this.newGallery(dim);
    this.rebuild();
  }

  /** The gallery reads the exact rows of a large (compact) gallery from the templates table, by template id. */
  private newGallery(dim: number): Gallery {
    return new Gallery(dim, { exactRows: (ids) => this.templates.embeddingsByIds(ids) });
  }

  activeModel(): { id: string; dim: number } | null {
    return this.model;
  }

  // ---- reads ------------------------------------------------------------------------------

  get(id: string): Person | undefined {
    return this.people.get(id);
  }

  byExternalId(externalId: string): Person | undefined {
    return this.people.byExternalId(externalId);
  }

  /** People matching the filter, in name order (the CLI's list; the admin pages with page()). */
  list(filter: PeopleFilter & { limit?: number } = {}): Person[] {
    return this.people.list({ ...filter, limit: filter.limit ?? 10_000_000 });
  }

  count(status?: PersonStatus): number {
    return this.people.count(status);
  }

  /**
   * One page in name order from a cursor key (see PeopleTable.listPage), with the total and the
   * page's position, read in one snapshot so they agree.
   */
  page(q: { filter: PeopleFilter; limit: number; offset?: number; after?: PersonKey; before?: PersonKey; descending?: boolean }): {
    items: PersonRow[];
    total: number;
    position: number;
  } {
    const { filter, limit, offset, after, before, descending } = q;
    const { items, total, position } = this.store.db
      .transaction(() => {
        const total = this.people.countMatching(filter);
        if (offset !== undefined) return { total, position: offset, items: this.people.listPage({ ...filter, limit, offset, descending }) };
        let page = this.people.listPage({ ...filter, limit, after, before, descending });
        // Fewer than a page before the key (people were removed ahead of it): show the first page.
        if (before && page.length < limit) page = this.people.listPage({ ...filter, limit, descending });
        const first = page[0];
        const position = first ? this.people.countMatching({ ...filter, before: first, descending }) : after ? total : 0;
        return { total, position, items: page };
      })
      .deferred();
    return { items: this.rows(items), total, position };
  }

  /** Adds each person's template count and thumbnail flag (reading only these people's rows). */
  rows(people: Person[]): PersonRow[] {
    const ids = people.map((p) => p.id);
    const counts = this.templates.countsFor(ids);
    const current = this.model ? this.templates.countsFor(ids, this.model.id) : null;
    const thumbs = this.thumbnails.haveThumbnail(ids);
    return people.map((p) => {
      const currentTemplates = current ? (current.get(p.id) ?? 0) : null;
      return { ...p, templates: counts.get(p.id) ?? 0, currentTemplates, needsReenrollment: currentTemplates === 0, hasThumbnail: thumbs.has(p.id) };
    });
  }

  row(id: string): PersonRow | undefined {
    const p = this.people.get(id);
    return p ? this.rows([p])[0] : undefined;
  }

  /** Names of these people (ids not found are left out). */
  names(ids: readonly string[]): Map<string, string> {
    const out = new Map<string, string>();
    for (const id of new Set(ids)) {
      const p = this.people.get(id);
      if (p) out.set(id, p.name);
    }
    return out;
  }

  thumbnail(personId: string): Buffer | undefined {
    return this.thumbnails.latest(personId);
  }

  /** People with no template of the running embedder (0 when none is active): "re-enrollment needed". */
  needingReenrollment(): number {
    if (!this.model) return 0;
    return this.people.count() - this.templates.peopleWithModel(this.model.id);
  }

  /**
   * People the active embedder has no template of but who have enrollment chips: the ones the
   * re-embedder can bring back (registry/reembedder.ts). Empty when no embedder is active.
   */
  awaitingReembedding(): string[] {
    if (!this.model) return [];
    const withChips = this.chips.people();
    const current = this.templates.countsFor(withChips, this.model.id);
    return withChips.filter((id) => !current.get(id));
  }

  /** A person's aligned enrollment chips (PNG) with their quality; they never leave the unit. */
  chipsOf(personId: string): Array<{ png: Buffer; quality: number; alignment: string }> {
    return this.chips.forPerson(personId).map((c) => ({ png: c.png, quality: c.quality, alignment: c.alignment }));
  }

  templateCount(personId?: string): number {
    return personId ? this.templates.countForPerson(personId) : this.templates.count();
  }

  // ---- matching ---------------------------------------------------------------------------

  /** People searchable now (with a template of the active embedder). */
  searchable(): number {
    return this.gallery?.people ?? 0;
  }

  /** The door's 1:N decision (threshold + margin), scored off the event loop for large galleries. */
  async match(embedding: Float32Array, threshold: number, margin: number): Promise<Identification> {
    if (!this.gallery || this.gallery.size === 0)
      return this.describe({ decision: 'no_match', personId: null, score: 0, margin: 0, secondPersonId: null, secondScore: 0 });
    return this.describe(await this.gallery.matchAsync(embedding, threshold, margin));
  }

  /** The k best people for an embedding (each by their best template of the running embedder), off the event loop for large galleries. */
  async search(embedding: Float32Array, k: number): Promise<Array<{ personId: string; score: number }>> {
    if (!this.gallery || this.gallery.size === 0) return [];
    return (await this.gallery.searchAsync(embedding, k)).map((s) => ({ personId: s.personId, score: s.score }));
  }

  /** The same, synchronously (the live view, `blinkd identify`). */
  identify(embedding: Float32Array, threshold: number, margin: number): Identification {
    if (!this.gallery || this.gallery.size === 0)
      return this.describe({ decision: 'no_match', personId: null, score: 0, margin: 0, secondPersonId: null, secondScore: 0 });
    return this.describe(this.gallery.match(embedding, threshold, margin));
  }

  private describe(m: MatchResult): Identification {
    const p = m.personId ? this.people.get(m.personId) : undefined;
    const second = m.secondPersonId ? this.people.get(m.secondPersonId) : undefined;
    return { ...m, person: p ? { id: p.id, name: p.name, status: p.status } : null, secondName: second?.name ?? null };
  }

  // ---- writes -----------------------------------------------------------------------------

  /**
   * Enrolls a new person from analysed faces, or adds templates to an existing one. Refuses (an
   * EnrollError 'duplicate', nothing written) a face that matches someone else at or above the
   * threshold — any status: a deactivated person is still that person. Check and write happen
   * without yielding, so two enrollments of the same face cannot both pass.
   */
  enroll(req: EnrollInput): EnrollOutcome {
    if (req.faces.length === 0) throw new EnrollError('no_face', 'no faces given (1 or more; 3–5 recommended)');
    let existing: Person | undefined;
    if ('id' in req.person) {
      existing = this.people.get(req.person.id);
      if (!existing) throw new EnrollError('not_found', `no person with id ${req.person.id}`);
    } else {
      const problem = personNameProblem(req.person.name);
      if (problem) throw new EnrollError('invalid', problem);
    }
    this.checkDuplicates(req, existing?.id ?? null);
    const now = isoNow();
    const person = this.store.transaction(() => {
      const p =
        existing ??
        this.people.create({
          name: (req.person as { name: string }).name.trim(),
          externalId: (req.person as { externalId?: string | null }).externalId ?? null,
        } satisfies NewPerson);
      for (const f of req.faces) this.templates.add(p.id, req.modelId, f.embedding, f.quality, req.source);
      if (existing) this.people.touch(p.id);
      if (req.thumbnail) this.thumbnails.add(p.id, req.thumbnail, now);
      for (const f of req.faces) if (f.chip) this.chips.add(p.id, Buffer.from(f.chip.buffer, f.chip.byteOffset, f.chip.byteLength), f.quality, now);
      this.store.syncOutbox.personChanged(p.id);
      this.audit.record(req.actor, existing ? 'person.templates_added' : 'person.enrolled', `person:${p.id}`, {
        name: p.name,
        templates: req.faces.length,
        model: req.modelId,
        source: req.source,
      });
      this.revision = this.revisions.bump();
      return p;
    });
    if (this.model?.id === req.modelId && this.gallery) {
      this.replaceInGallery(person.id);
    }
    this.bus.emit('people.changed', { personId: person.id, action: existing ? 'templates' : 'created' });
    return { person, templates: req.faces.length, created: !existing };
  }

  /** Edits a person (name, external id, validity, schedule, notes, status). Undefined when there is no such person. */
  update(id: string, patch: PersonPatch, actor: string): Person | undefined {
    const current = this.people.get(id);
    if (!current) return undefined;
    if (patch.name !== undefined) {
      const problem = personNameProblem(patch.name);
      if (problem) throw new EnrollError('invalid', problem);
    }
    const updated = this.store.transaction(() => {
      const u = this.people.update(id, patch)!;
      const changed = Object.keys(patch).filter(
        (k) => JSON.stringify((patch as Record<string, unknown>)[k]) !== JSON.stringify((current as unknown as Record<string, unknown>)[k]),
      );
      const action =
        patch.status && patch.status !== current.status ? (patch.status === 'DEACTIVATED' ? 'person.deactivated' : 'person.reactivated') : 'person.updated';
      this.audit.record(actor, action, `person:${id}`, { name: u.name, changed });
      this.store.syncOutbox.personChanged(id);
      this.revision = this.revisions.bump();
      return u;
    });
    this.bus.emit('people.changed', { personId: id, action: 'updated' });
    return updated;
  }

  /**
   * The one way to remove a person: their thumbnails, templates and the person row go in one
   * transaction, audited as `person.deleted`, and the gallery forgets them before this returns.
   * Null when there is no such person.
   */
  remove(id: string, actor: string): { person: Person; templatesErased: number; thumbnailsErased: number; chipsErased: number } | null {
    const person = this.people.get(id);
    if (!person) return null;
    const erased = this.store.transaction(() => {
      const stamp = this.people.stamp(id)!;
      const thumbnailsErased = this.thumbnails.removeForPerson(id);
      const chipsErased = this.chips.removeForPerson(id);
      const templatesErased = this.templates.removeForPerson(id);
      this.people.remove(id);
      // The deletion is the person's next version: it wins over every older one, on every unit.
      this.tombstones.put({ personId: id, stamp: { version: stamp.version + 1, updatedAt: isoNow(), unitId: this.unitId }, enrolledAt: person.createdAt });
      this.store.syncOutbox.personChanged(id);
      // Deleting is erasure (deactivate to keep someone's history): their attendance goes with
      // them (ON DELETE CASCADE), the door's decisions stay as its security record under the now
      // unresolvable person id with the name removed, and the audit log keeps what was done to
      // "person:<id>" without the name.
      const decisionsKept = this.store.events.forgetPersonName(id);
      this.audit.forgetName(`person:${id}`);
      this.audit.record(actor, 'person.deleted', `person:${id}`, { templatesErased, thumbnailsErased, chipsErased, decisionsKept });
      this.revision = this.revisions.bump();
      return { templatesErased, thumbnailsErased, chipsErased };
    });
    this.gallery?.replacePerson(id, []);
    if (!this.store.flushErased()) this.log.warn({ personId: id }, 'erased biometrics stay in the WAL until the next checkpoint (a reader held it)');
    this.bus.emit('people.changed', { personId: id, action: 'removed' });
    return { person, ...erased };
  }

  // ---- sync ---------------------------------------------------------------------------------

  /** A person's whole record for sync (a tombstone for a deleted one), or null when unknown. */
  syncRecord(id: string): SyncPerson | null {
    const p = this.people.get(id);
    if (p) {
      return {
        id,
        stamp: this.people.stamp(id)!,
        deleted: false,
        name: p.name,
        status: p.status,
        externalId: p.externalId,
        validFrom: p.validFrom,
        validUntil: p.validUntil,
        schedule: p.schedule,
        notes: p.notes,
        enrolledAt: p.createdAt,
        templates: this.templates.forPerson(id).map((t) => ({ id: t.uid, modelId: t.modelId, embedding: t.embedding, quality: t.quality })),
      };
    }
    const t = this.tombstones.get(id);
    if (!t) return null;
    return {
      id,
      stamp: t.stamp,
      deleted: true,
      name: '',
      status: 'DEACTIVATED',
      externalId: null,
      validFrom: null,
      validUntil: null,
      schedule: null,
      notes: null,
      enrolledAt: t.enrolledAt,
      templates: [],
    };
  }

  /** Ids of every person this unit knows, tombstones included (a full requeue). */
  syncIds(): string[] {
    return [...this.people.versions().map((v) => v.id), ...this.tombstones.ids()];
  }

  /** Id and version of every live person (the sync digest). */
  syncVersions(): Array<{ id: string; version: number }> {
    return this.people.versions();
  }

  /** People with no template of the active embedder: they need re-enrollment on this unit (e.g. imported from the original app). */
  reenrollmentNeeded(): number {
    if (!this.model) return 0;
    return this.people.count() - this.templates.peopleWithModel(this.model.id);
  }

  /**
   * Applies pulled changes: `plan` decides (last writer wins) and writes through the RegistrySyncTx,
   * in ONE transaction together with whatever else it writes (the cursor, the outbox), audited
   * and with a revision bump; the gallery is updated after the commit and 'people.changed' told.
   * A pulled record is validated here (a schedule the unit could not read is refused whole).
   */
  applySynced<T>(actor: string, plan: (tx: RegistrySyncTx) => T): T {
    const touched = new Set<string>();
    let erased = false;
    const tx: RegistrySyncTx = {
      stamp: (id) => {
        const s = this.people.stamp(id);
        if (s) return { ...s, deleted: false };
        const t = this.tombstones.get(id);
        return t ? { ...t.stamp, deleted: true } : null;
      },
      put: (p) => {
        touched.add(p.id);
        const existed = this.people.get(p.id);
        if (p.deleted) {
          if (existed) {
            this.thumbnails.removeForPerson(p.id);
            this.chips.removeForPerson(p.id);
            this.templates.removeForPerson(p.id);
            this.people.remove(p.id);
            erased = true;
            // Erasure as in remove(): decisions kept without the name, no name left in the audit log.
            const decisionsKept = this.store.events.forgetPersonName(p.id);
            this.audit.forgetName(`person:${p.id}`);
            this.audit.record(actor, 'person.deleted', `person:${p.id}`, { version: p.stamp.version, decisionsKept });
          }
          this.tombstones.put({ personId: p.id, stamp: p.stamp, enrolledAt: p.enrolledAt });
          return;
        }
        const schedule = p.schedule === null ? null : weeklyWindowSchema.array().max(64).safeParse(p.schedule);
        if (schedule && !schedule.success)
          throw new SyncRecordError(p.id, `schedule is not a list of weekly windows: ${schedule.error.issues[0]?.message ?? ''}`);
        let externalId = p.externalId;
        if (externalId !== null) {
          const holder = this.people.byExternalId(externalId);
          if (holder && holder.id !== p.id) {
            this.log.warn({ person: p.id, externalId, heldBy: holder.id }, 'pulled person has an external id another person holds here: kept without it');
            externalId = null;
          }
        }
        const row: SyncedPersonRow = {
          id: p.id,
          externalId,
          name: p.name,
          status: p.status,
          validFrom: p.validFrom,
          validUntil: p.validUntil,
          schedule: schedule ? schedule.data : null,
          notes: p.notes,
          createdAt: p.enrolledAt,
          stamp: p.stamp,
        };
        this.tombstones.remove(p.id);
        this.people.putSynced(row);
        const had = this.templates.forPerson(p.id);
        const same = had.length === p.templates.length && had.every((t) => p.templates.some((n) => n.id === t.uid));
        if (!same) {
          this.templates.removeForPerson(p.id);
          for (const t of p.templates) this.templates.add(p.id, t.modelId, t.embedding, t.quality ?? 0, 'sync', t.id);
          erased ||= had.length > 0;
        }
        this.audit.record(actor, existed ? 'person.updated' : 'person.enrolled', `person:${p.id}`, {
          name: p.name,
          status: p.status,
          version: p.stamp.version,
          templates: p.templates.length,
          source: 'sync',
        });
      },
      drop: (id) => {
        touched.add(id);
        if (this.people.get(id)) {
          this.thumbnails.removeForPerson(id);
          this.chips.removeForPerson(id);
          this.templates.removeForPerson(id);
          this.people.remove(id);
          erased = true;
          this.audit.record(actor, 'person.deleted', `person:${id}`, { reason: 'not on the sync server (snapshot)' });
        }
        this.tombstones.remove(id);
      },
    };
    const result = this.store.transaction(() => {
      const r = plan(tx);
      if (touched.size) this.revision = this.revisions.bump();
      return r;
    });
    if (touched.size === 0) return result;
    for (const id of touched) this.replaceInGallery(id);
    if (erased) this.store.flushErased();
    for (const id of touched) this.bus.emit('people.changed', { personId: id, action: 'updated' });
    return result;
  }

  /** Re-reads every template of the active embedder (the reload_people command; changes by another process). */
  reload(): { people: number; templates: number } {
    if (this.gallery?.accelerated) {
      // A running unit: rebuilt off the main thread's hot path (a compact gallery's projection runs on onnxruntime).
      this.reloadInBackground();
      return { people: this.people.count(), templates: this.templates.count(this.model?.id) };
    }
    this.rebuild();
    this.bus.emit('people.changed', { personId: null, action: 'reload' });
    return { people: this.people.count(), templates: this.gallery?.size ?? 0 };
  }

  private reloadInBackground(): void {
    if (this.reloading) return;
    this.reloading = true;
    void this.rebuildAsync()
      .then(() => this.bus.emit('people.changed', { personId: null, action: 'reload' }))
      .catch((err: unknown) => this.log.warn({ err }, 'people registry: gallery reload failed'))
      .finally(() => (this.reloading = false));
  }

  /** Deletes thumbnails older than `days` (0 = every thumbnail): the admin.thumbnailRetentionDays rule. */
  pruneThumbnails(now: Date, days: number): number {
    const n = this.thumbnails.pruneBefore(days <= 0 ? null : new Date(now.getTime() - days * 86_400_000).toISOString());
    if (n > 0) {
      this.revisions.bump();
      this.store.flushErased();
    }
    return n;
  }

  health(): Record<string, unknown> {
    return {
      people: this.people.count(),
      active: this.people.count('ACTIVE'),
      templates: this.templates.count(),
      model: this.model?.id ?? null,
      searchable: this.searchable(),
      // enrolled with another embedder only: not recognised until enrolled again (docs/RECOGNITION.md)
      needsReenrollment: this.needingReenrollment(),
      galleryTemplates: this.gallery?.size ?? 0,
      revision: this.revision,
    };
  }

  // ---- internals --------------------------------------------------------------------------

  /** Puts one person's templates of the active embedder (none: removes them) into the gallery. */
  private replaceInGallery(personId: string): void {
    if (!this.model || !this.gallery) return;
    const ts = this.templates.forPerson(personId).filter((t) => t.modelId === this.model!.id && t.embedding.length === this.model!.dim);
    this.gallery.replacePerson(
      personId,
      ts.map((t) => t.embedding),
      ts.map((t) => t.id),
    );
  }

  private rebuild(): void {
    if (!this.model || !this.gallery) return;
    const { id, dim } = this.model;
    const revision = this.revisions.current();
    const entries: GalleryEntry[] = [];
    // One query for the whole gallery (a rebuild runs on the main thread).
    for (const t of this.templates.forModel(id)) {
      if (t.embedding.length !== dim) {
        this.log.warn({ template: t.id, person: t.personId, values: t.embedding.length, dim }, 'template of the wrong size for the embedder: skipped');
        continue;
      }
      entries.push({ personId: t.personId, embedding: t.embedding, key: t.id });
    }
    this.gallery.load(entries);
    this.revision = revision;
    this.rebuilds++;
  }

  /** Rows per page of the asynchronous rebuild (small pages: little garbage per page, a lower RSS peak). */
  private static readonly PAGE = 1024;

  /**
   * The same rebuild page by page, projected on onnxruntime when the gallery is compact: the
   * service's start and its revision poll. The gallery swaps its contents in at the end; a local
   * change meanwhile moves the revision on, so the next poll rebuilds again.
   */
  private async rebuildAsync(): Promise<void> {
    if (!this.model || !this.gallery) return;
    const { id, dim } = this.model;
    const revision = this.revisions.current();
    const templates = this.templates;
    const log = this.log;
    function* pages(): Generator<Array<{ personId: string; embedding: Float32Array; key: number }>> {
      for (let after = 0; ;) {
        const page = templates.pageForModel(id, after, PeopleRegistry.PAGE);
        if (page.length === 0) return;
        after = page[page.length - 1]!.id;
        const ok = page.filter((t) => {
          if (t.embedding.length === dim) return true;
          log.warn({ template: t.id, person: t.personId, values: t.embedding.length, dim }, 'template of the wrong size for the embedder: skipped');
          return false;
        });
        yield ok.map((t) => ({ personId: t.personId, embedding: t.embedding, key: t.id }));
      }
    }
    await this.gallery.loadAsync(pages(), templates.count(id));
    this.revision = revision;
    this.rebuilds++;
  }

  private reloading = false;

  private pollRevision(): void {
    if (!this.store.db.open) return;
    try {
      const current = this.revisions.current();
      if (current === this.revision) return;
      if (this.reloading) return;
      this.log.info({ from: this.revision, to: current }, 'people changed in another process: gallery reloaded');
      this.reload();
    } catch (err) {
      this.log.warn({ err }, 'people registry: revision check failed');
    }
  }

  /** Throws EnrollError 'duplicate' when a face matches someone other than `self` at or above the threshold. */
  private checkDuplicates(req: EnrollInput, self: string | null): void {
    let g: Gallery | null = null;
    if (this.model?.id === req.modelId && this.gallery) g = this.gallery;
    else {
      // Another embedder than the active one (a CLI run with a different model): compare with its templates.
      const entries = this.templates.forModel(req.modelId).filter((t) => t.embedding.length === req.faces[0]!.embedding.length);
      if (entries.length === 0) return;
      g = new Gallery(req.faces[0]!.embedding.length);
      g.load(entries.map((t) => ({ personId: t.personId, embedding: t.embedding })));
    }
    if (g.size === 0) return;
    req.faces.forEach((f, i) => {
      const best = g.search(f.embedding, 2).find((s) => s.personId !== self);
      if (best && best.score >= req.duplicateThreshold) {
        const p = this.people.get(best.personId);
        const who = p ? `${p.name} (${p.id})${p.status === 'DEACTIVATED' ? ', deactivated' : ''}` : best.personId;
        const name = f.name ?? `image ${i + 1}`;
        throw new EnrollError('duplicate', `${name}: this face is already enrolled as ${who} (similarity ${best.score.toFixed(3)})`, i, {
          personId: best.personId,
          personName: p?.name ?? null,
          score: best.score,
        });
      }
    });
  }
}

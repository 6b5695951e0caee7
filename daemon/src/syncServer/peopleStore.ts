/**
 * The organisation's shared registry of people on the sync server: the owner of the people
 * table. Units push whole records (last writer wins by version stamp, sync/lww.ts) and pull
 * what changed after their cursor; the original system's clients upsert and list through the
 * legacy routes. The server never sees a template in clear: it stores envelopes as given.
 */
import { compareStamps, type VersionStamp } from '../sync/lww.js';
import { peopleDigest } from '../sync/digest.js';
import type { EnvelopeV1Wire, PersonRecordWire, PushOutcome, TemplateWire } from '../sync/protocol.js';
import { inList, type Queryable, type Sql } from './db/sql.js';
import { invalid } from './errors.js';
import { KeyRingsRepo } from './keyRingsRepo.js';
import { OrgsRepo } from './orgsRepo.js';

interface PersonRow {
  org_id: string;
  id: string;
  name: string;
  status: string;
  model_mode: string;
  enrolled_at: string;
  encrypted_envelope_json: string | null;
  external_id: string | null;
  valid_from: string | null;
  valid_until: string | null;
  schedule_json: string | null;
  notes: string | null;
  templates_json: string;
  photo_json: string | null;
  version: number;
  updated_at: string;
  origin_unit: string;
  deleted: number;
  deleted_at: string | null;
  pushed_by: string;
  seq: number;
  created_at: string;
}

/** The original relay's user, exactly as its API has it. */
export interface LegacyUser {
  id: string;
  name: string;
  encrypted_envelope_json: Record<string, unknown> | null;
  model_mode: string;
  enrolled_at: string;
  status: string;
}

/** The model id a v1 (original app) template carries: never used for matching by another model. */
export const legacyModelId = (modelMode: string) => `legacy-v1:${modelMode || 'unknown'}`;
export const LEGACY_UNIT = 'legacy';
const LEGACY_DIM = 128;

const COLUMNS = [
  'org_id',
  'id',
  'name',
  'status',
  'model_mode',
  'enrolled_at',
  'encrypted_envelope_json',
  'external_id',
  'valid_from',
  'valid_until',
  'schedule_json',
  'notes',
  'templates_json',
  'photo_json',
  'version',
  'updated_at',
  'origin_unit',
  'deleted',
  'deleted_at',
  'pushed_by',
  'seq',
  'created_at',
] as const;
// enrolled_at and created_at keep their first value (the original's rule for enrolled_at).
const UPSERT = `INSERT INTO people (${COLUMNS.join(', ')}) VALUES (${inList(1, COLUMNS.length)})
ON CONFLICT (org_id, id) DO UPDATE SET ${COLUMNS.filter((c) => !['org_id', 'id', 'enrolled_at', 'created_at'].includes(c))
  .map((c) => `${c} = EXCLUDED.${c}`)
  .join(', ')}`;

type RowValues = Omit<PersonRow, 'org_id' | 'seq' | 'created_at' | 'pushed_by'>;

function rowToWire(r: PersonRow): PersonRecordWire {
  return {
    id: r.id,
    version: Number(r.version),
    updated_at: r.updated_at,
    unit_id: r.origin_unit,
    deleted: Number(r.deleted) === 1,
    name: r.name,
    status: r.status,
    external_id: r.external_id,
    valid_from: r.valid_from,
    valid_until: r.valid_until,
    schedule: r.schedule_json ? (JSON.parse(r.schedule_json) as unknown[]) : null,
    notes: r.notes,
    enrolled_at: r.enrolled_at,
    templates: JSON.parse(r.templates_json) as TemplateWire[],
    photo: r.photo_json ? (JSON.parse(r.photo_json) as PersonRecordWire['photo']) : null,
  };
}

function rowToLegacy(r: PersonRow): LegacyUser {
  return {
    id: r.id,
    name: r.name,
    encrypted_envelope_json: r.encrypted_envelope_json ? (JSON.parse(r.encrypted_envelope_json) as Record<string, unknown>) : null,
    model_mode: r.model_mode,
    enrolled_at: r.enrolled_at,
    status: r.status,
  };
}

const stampOf = (r: { version: number; deleted: number | boolean; updated_at: string; origin_unit: string }): VersionStamp => ({
  version: Number(r.version),
  deleted: r.deleted === true || Number(r.deleted) === 1,
  updatedAt: r.updated_at,
  unitId: r.origin_unit,
});

function recordValues(p: PersonRecordWire, now: string): RowValues {
  if (p.deleted) {
    // A tombstone keeps only what ordering needs: the name, templates and everything else are erased.
    return {
      id: p.id,
      name: '',
      status: 'DEACTIVATED',
      model_mode: '',
      enrolled_at: p.enrolled_at,
      encrypted_envelope_json: null,
      external_id: null,
      valid_from: null,
      valid_until: null,
      schedule_json: null,
      notes: null,
      templates_json: '[]',
      photo_json: null,
      version: p.version,
      updated_at: p.updated_at,
      origin_unit: p.unit_id,
      deleted: 1,
      deleted_at: now,
    };
  }
  return {
    id: p.id,
    name: p.name,
    status: p.status,
    model_mode: p.templates[0]?.model_id ?? '',
    enrolled_at: p.enrolled_at,
    encrypted_envelope_json: null,
    external_id: p.external_id ?? null,
    valid_from: p.valid_from ?? null,
    valid_until: p.valid_until ?? null,
    schedule_json: p.schedule ? JSON.stringify(p.schedule) : null,
    notes: p.notes ?? null,
    templates_json: JSON.stringify(p.templates.map((t) => ({ id: t.id, model_id: t.model_id, dim: t.dim, quality: t.quality ?? null, envelope: t.envelope }))),
    photo_json: p.photo ? JSON.stringify(p.photo) : null,
    version: p.version,
    updated_at: p.updated_at,
    origin_unit: p.unit_id,
    deleted: 0,
    deleted_at: null,
  };
}

function legacyValues(u: LegacyUser, version: number, unit: string, now: string): RowValues {
  const env = u.encrypted_envelope_json;
  const v1: EnvelopeV1Wire | null = env ? { ciphertext: String(env.ciphertext), iv: String(env.iv), tag: String(env.tag) } : null;
  const templates: TemplateWire[] = v1 ? [{ id: `v1:${u.id}`, model_id: legacyModelId(u.model_mode), dim: LEGACY_DIM, quality: null, envelope: v1 }] : [];
  return {
    id: u.id,
    name: u.name,
    status: u.status,
    model_mode: u.model_mode,
    enrolled_at: u.enrolled_at,
    encrypted_envelope_json: env ? JSON.stringify(env) : null,
    external_id: null,
    valid_from: null,
    valid_until: null,
    schedule_json: null,
    notes: null,
    templates_json: JSON.stringify(templates),
    photo_json: null,
    version,
    updated_at: now,
    origin_unit: unit,
    deleted: 0,
    deleted_at: null,
  };
}

export interface PullPage {
  changes: PersonRecordWire[];
  nextSince: number;
  hasMore: boolean;
  snapshot: boolean;
  /** Why a snapshot starts here: no cursor yet, the cursor is older than the tombstones kept, or ahead of the server (restored from a backup). */
  snapshotReason: SnapshotReason | null;
  head: number;
}

export type SnapshotReason = 'fresh' | 'horizon' | 'ahead';

export class PeopleStore {
  constructor(
    private readonly sql: Sql,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private async upsert(q: Queryable, org: string, v: RowValues & { pushed_by: string }, seq: number, now: string): Promise<void> {
    const row: PersonRow = { ...v, org_id: org, seq, created_at: now };
    await q.query(
      UPSERT,
      COLUMNS.map((c) => row[c] as string | number | null),
    );
  }

  private static async existing(q: Queryable, org: string, ids: string[]): Promise<Map<string, VersionStamp>> {
    const map = new Map<string, VersionStamp>();
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += 500) {
      const chunk = unique.slice(i, i + 500);
      const rows = await q.query<{ id: string; version: number; deleted: number; updated_at: string; origin_unit: string }>(
        `SELECT id, version, deleted, updated_at, origin_unit FROM people WHERE org_id = $1 AND id IN (${inList(2, chunk.length)})`,
        [org, ...chunk],
      );
      for (const r of rows) map.set(r.id, stampOf(r));
    }
    return map;
  }

  /**
   * A unit's records, each applied when it wins over what is stored (last writer wins),
   * acknowledged as duplicate when it is the stored write, as stale when it lost. The change
   * counter is locked first, so concurrent pushes of one organisation decide one at a time.
   *
   * `since` is the unit's pull cursor. When it is older than the newest purged tombstone, a
   * record the server does not hold with a version above 1 is an edit of someone who may
   * have been deleted (and the tombstone purged) while the unit was away: it is acknowledged
   * as stale rather than resurrecting the person. A new person (version 1) is applied.
   */
  async push(
    org: string,
    unit: string,
    people: PersonRecordWire[],
    since?: number,
  ): Promise<{ results: Array<{ id: string; version: number; outcome: PushOutcome }>; head: number }> {
    // unit_id is who wrote this version: normally the pushing device, but a unit giving a restored
    // server back what it lost pushes other units' writes unchanged (so a second unit doing the
    // same is acknowledged as a duplicate). pushed_by keeps which device actually sent it.
    people.forEach((p, i) => {
      if (Number.isNaN(Date.parse(p.updated_at))) throw invalid(['body', 'people', i, 'updated_at'], 'not a valid date-time', p.updated_at);
    });
    const now = this.now().toISOString();
    return this.sql.tx(async (q) => {
      const first = await OrgsRepo.reserve(q, org, 'people', people.length);
      const kids = await KeyRingsRepo.kids(q, org);
      const usage = new Map<string, number>();
      people.forEach((p, i) => {
        const envelopes = [...p.templates.map((t) => t.envelope), ...(p.photo ? [p.photo.envelope] : [])];
        envelopes.forEach((e, j) => {
          const kid = (e as { kid: string }).kid;
          if (!kids.has(kid))
            throw invalid(
              ['body', 'people', i, j < p.templates.length ? 'templates' : 'photo'],
              `envelope key id "${kid}" is not in the organisation's key ring`,
              kid,
            );
          usage.set(kid, (usage.get(kid) ?? 0) + 1);
        });
      });
      const stored = await PeopleStore.existing(
        q,
        org,
        people.map((p) => p.id),
      );
      const beforeHorizon = since !== undefined && since < (await OrgsRepo.value(q, org, 'people_horizon'));
      const results: Array<{ id: string; version: number; outcome: PushOutcome }> = [];
      for (const [i, p] of people.entries()) {
        const stamp: VersionStamp = { version: p.version, deleted: p.deleted, updatedAt: p.updated_at, unitId: p.unit_id };
        const cur = stored.get(p.id);
        const cmp = cur ? compareStamps(stamp, cur) : beforeHorizon && p.version > 1 ? -1 : 1;
        if (cmp > 0) {
          await this.upsert(q, org, { ...recordValues(p, now), pushed_by: unit }, first + i, now);
          stored.set(p.id, stamp);
        }
        results.push({ id: p.id, version: p.version, outcome: cmp > 0 ? 'applied' : cmp === 0 ? 'duplicate' : 'stale' });
      }
      await KeyRingsRepo.addUsage(q, org, usage);
      return { results, head: first + people.length - 1 };
    });
  }

  /** The original's upsert: last writer wins by arrival, the version goes up by one, enrolled_at keeps its first value. */
  async legacyUpsert(org: string, unit: string, users: LegacyUser[]): Promise<string[]> {
    if (users.length === 0) return [];
    const now = this.now().toISOString();
    return this.sql.tx(async (q) => {
      const first = await OrgsRepo.reserve(q, org, 'people', users.length);
      const stored = await PeopleStore.existing(
        q,
        org,
        users.map((u) => u.id),
      );
      for (const [i, u] of users.entries()) {
        const version = (stored.get(u.id)?.version ?? 0) + 1;
        await this.upsert(q, org, { ...legacyValues(u, version, unit, now), pushed_by: unit }, first + i, now);
        stored.set(u.id, { version, deleted: false, updatedAt: now, unitId: unit });
      }
      return users.map((u) => u.id);
    });
  }

  /** Every person not deleted (DEACTIVATED included), in the original's shape. */
  async legacyList(org: string): Promise<LegacyUser[]> {
    const rows = await this.sql.query<PersonRow>('SELECT * FROM people WHERE org_id = $1 AND deleted = 0 ORDER BY created_at, id', [org]);
    return rows.map(rowToLegacy);
  }

  /**
   * Changes after `since`, oldest first, at most `limit`. With since 0, or older than the newest
   * purged tombstone (the unit could have missed a deletion), it is a snapshot from the start:
   * the unit must drop whatever the snapshot did not mention once it has the last page.
   * A cursor ahead of the counter (the server was restored from an older backup) also starts over.
   * The next cursor is the last row's number, never the counter's head: a number above the last
   * row may belong to a transaction that has not committed yet.
   */
  async pull(org: string, since: number, limit: number, continuingSnapshot: boolean): Promise<PullPage> {
    const q: Queryable = this.sql;
    const head = await OrgsRepo.value(q, org, 'people');
    let reason: SnapshotReason | null = null;
    if (!continuingSnapshot) {
      // Older than the newest purged tombstone, or ahead of the server (restored from a backup): start over.
      if (since === 0) reason = 'fresh';
      else if (since > head) reason = 'ahead';
      else if (since < (await OrgsRepo.value(q, org, 'people_horizon'))) reason = 'horizon';
      if (reason) since = 0;
    }
    const snapshot = continuingSnapshot || reason !== null;
    const rows = await q.query<PersonRow>('SELECT * FROM people WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3', [org, since, limit + 1]);
    const page = rows.slice(0, limit);
    return {
      changes: page.map(rowToWire),
      nextSince: page.length ? Number(page[page.length - 1]!.seq) : since,
      hasMore: rows.length > limit,
      snapshot,
      snapshotReason: reason,
      head,
    };
  }

  async digest(org: string): Promise<{ count: number; sha256: string; head: number }> {
    const head = await OrgsRepo.value(this.sql, org, 'people');
    const rows = await this.sql.query<{ id: string; version: number }>('SELECT id, version FROM people WHERE org_id = $1 AND deleted = 0', [org]);
    return { ...peopleDigest(rows.map((r) => ({ id: r.id, version: Number(r.version) }))), head };
  }

  /** Removes tombstones older than the cutoff and raises the horizon: a cursor below it gets a snapshot. */
  async purgeTombstones(org: string, olderThan: Date): Promise<number> {
    return this.sql.tx(async (q) => {
      const rows = await q.query<{ seq: number }>('DELETE FROM people WHERE org_id = $1 AND deleted = 1 AND deleted_at < $2 RETURNING seq', [
        org,
        olderThan.toISOString(),
      ]);
      if (rows.length) await OrgsRepo.raise(q, org, 'people_horizon', Math.max(...rows.map((r) => Number(r.seq))));
      return rows.length;
    });
  }

  async counts(org: string): Promise<{ people: number; tombstones: number }> {
    const rows = await this.sql.query<{ deleted: number; n: number }>('SELECT deleted, COUNT(*) AS n FROM people WHERE org_id = $1 GROUP BY deleted', [org]);
    return {
      people: Number(rows.find((r) => Number(r.deleted) === 0)?.n ?? 0),
      tombstones: Number(rows.find((r) => Number(r.deleted) === 1)?.n ?? 0),
    };
  }
}

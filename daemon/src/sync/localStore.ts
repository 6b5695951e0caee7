/**
 * The port between the sync client (sync/client.ts) and the unit's own data. The unit side
 * implements SyncLocalStore on its people registry and outbox; the client only ever hands it
 * plain data (embeddings in clear, already opened and checked) and takes plain data from it
 * (it seals the envelopes itself). sync/memoryLocalStore.ts is a complete in-memory
 * implementation that the tests and the load generator use, and that shows the semantics.
 */
import type { PersonStatus } from './protocol.js';

export interface TemplateData {
  /** Globally unique (a uuid): it is bound into the envelope. */
  id: string;
  /** The embedder's model id. Only templates of the unit's own model are ever matched. */
  modelId: string;
  embedding: Float32Array;
  quality: number | null;
}

export interface PhotoData {
  id: string;
  mime: 'image/jpeg' | 'image/png' | 'image/webp';
  bytes: Uint8Array;
}

/**
 * A person's whole state at one version (not a diff). Ordering is last writer wins by
 * sync/lww.ts compareStamps({version, deleted, updatedAt, unitId}); a deletion is a record
 * with deleted: true (a tombstone: name erased, no templates).
 */
export interface PersonData {
  id: string;
  version: number;
  updatedAt: string;
  /** The unit that wrote this version (the device id); 'legacy' for the original app. */
  unitId: string;
  deleted: boolean;
  name: string;
  status: PersonStatus;
  externalId: string | null;
  validFrom: string | null;
  validUntil: string | null;
  schedule: unknown[] | null;
  notes: string | null;
  enrolledAt: string;
  templates: TemplateData[];
  photo: PhotoData | null;
}

export interface AttendanceData {
  /** Globally unique (a uuid): the server keeps the first row with an id and acknowledges repeats. */
  id: string;
  personId: string;
  timestamp: string;
  kind: 'CHECK_IN' | 'CHECK_OUT';
  punctuality: 'ON_TIME' | 'LATE' | null;
}

/** Unacknowledged outbox entries, oldest first. One person may be named by several entries: send its current state once. */
export interface OutboxBatch {
  people: Array<{ outboxIds: string[]; person: PersonData }>;
  attendance: Array<{ outboxId: string; row: AttendanceData }>;
}

/** A pulled person, opened and checked. */
export interface RemotePerson {
  person: PersonData;
  /** This unit re-sealed the record (a v1 import became v2, version + 1): queue it in the outbox in the same transaction. */
  repush: boolean;
  /** Templates that could not be used, in words (a v1 template without the v1 password configured, or that did not open). */
  templateIssues: string[];
  /** v1 templates imported, and which plaintext encoding decoded. */
  importedV1: Array<{ templateId: string; encoding: 'json' | 'float32le' }>;
}

export interface RemotePage {
  /** Apply each that wins over the local state by compareStamps; a winning deletion removes the person and their templates. */
  people: RemotePerson[];
  /** Records refused (an envelope that does not authenticate: tampered, moved, wrong key): nothing of them is applied. */
  rejected: Array<{ personId: string; version: number; reason: string }>;
  /** Store this cursor with the page, in the same transaction. null: keep the stored one (a page in the middle of a snapshot). */
  cursor: string | null;
  /**
   * Set on the last page of a full snapshot: every person the snapshot named is in seenIds;
   * remove the local people it did not name, except those with unacknowledged outbox entries.
   */
  snapshotComplete: { seenIds: ReadonlySet<string> } | null;
}

export interface SyncLocalStore {
  /** Up to `limit` unacknowledged outbox entries (people and attendance together), oldest first. */
  nextOutboxBatch(limit: number): OutboxBatch | Promise<OutboxBatch>;
  /** The server acknowledged these entries (applied, duplicate or stale): remove them. */
  ack(outboxIds: readonly string[]): void | Promise<void>;
  /** Applies a pulled page and stores its cursor in ONE transaction, so an interrupted sync never claims to be up to date. */
  applyRemote(page: RemotePage): void | Promise<void>;
  /** The stored pull cursor; null before the first complete pull. */
  cursor(): string | null | Promise<string | null>;
  /**
   * Queue every person this unit holds (tombstones included) for push, in one transaction: the
   * server was restored from an older backup and has lost what it acknowledged since. Pushing
   * them again is safe (last writer wins; what the server has is acknowledged as a duplicate).
   */
  requeueAll(): void | Promise<void>;
  /** Count and SHA-256 of the live people (sync/digest.ts peopleDigest) for drift detection. */
  digest(): { count: number; sha256: string } | Promise<{ count: number; sha256: string }>;
}

import { randomUUID } from 'node:crypto';
import { endianness } from 'node:os';
import type Database from 'better-sqlite3';
import type { Db } from '../store/database.js';
import { isoNow } from '../store/time.js';

export interface FaceTemplate {
  id: number;
  /** Globally unique id (a uuid): the template's id in sync, bound into its envelope. */
  uid: string;
  personId: string;
  modelId: string;
  embedding: Float32Array;
  quality: number;
  source: string;
  createdAt: string;
}

interface TemplateRow {
  id: number;
  uid: string | null;
  person_id: string;
  model_id: string;
  dim: number;
  embedding: Buffer;
  quality: number;
  source: string;
  created_at: string;
}

const LITTLE_ENDIAN = endianness() === 'LE';

/** Float32 little-endian bytes, the stored form of an embedding (a plain copy on LE machines: x64, arm64). */
export function embeddingToBlob(v: Float32Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
  const out = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) out.writeFloatLE(v[i] as number, i * 4);
  return out;
}

export function blobToEmbedding(b: Buffer): Float32Array {
  // better-sqlite3 hands each blob over in its own ArrayBuffer of exactly its size: view it (no
  // copy: a 100k-template gallery load then allocates each row once, not twice). A Buffer that is a
  // slice of something larger, or not 4-byte aligned, is copied so no larger memory is kept alive.
  if (LITTLE_ENDIAN && b.byteOffset === 0 && b.buffer.byteLength === b.length && b.length % 4 === 0) return new Float32Array(b.buffer);
  if (LITTLE_ENDIAN) return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  const out = new Float32Array(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(i * 4);
  return out;
}

function toTemplate(r: TemplateRow): FaceTemplate {
  return {
    id: r.id,
    uid: r.uid ?? String(r.id),
    personId: r.person_id,
    modelId: r.model_id,
    embedding: blobToEmbedding(r.embedding),
    quality: r.quality,
    source: r.source,
    createdAt: r.created_at,
  };
}

export class TemplatesTable {
  /** embeddingsByIds runs on every search of a compact gallery: prepared once, rows as arrays. */
  private byIds: Database.Statement<[string], [number, Buffer]> | null = null;

  constructor(private readonly db: Db) {}

  add(personId: string, modelId: string, embedding: Float32Array, quality: number, source = 'upload', uid: string = randomUUID()): FaceTemplate {
    const now = isoNow();
    const info = this.db
      .prepare('INSERT INTO face_templates (uid, person_id, model_id, dim, embedding, quality, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(uid, personId, modelId, embedding.length, embeddingToBlob(embedding), quality, source, now);
    return { id: Number(info.lastInsertRowid), uid, personId, modelId, embedding, quality, source, createdAt: now };
  }

  forPerson(personId: string): FaceTemplate[] {
    return (this.db.prepare('SELECT * FROM face_templates WHERE person_id = ? ORDER BY id').all(personId) as TemplateRow[]).map(toTemplate);
  }

  /** Templates of every person (ACTIVE and DEACTIVATED) for one model, in one query. */
  forModel(modelId: string): FaceTemplate[] {
    return (this.db.prepare('SELECT * FROM face_templates WHERE model_id = ? ORDER BY person_id, id').all(modelId) as TemplateRow[]).map(toTemplate);
  }

  /**
   * One page of a model's templates in id order after `afterId` (id, person, embedding only):
   * the gallery's load reads the table page by page, so a large gallery's FP32 rows are never
   * all in memory at once.
   */
  pageForModel(modelId: string, afterId: number, limit: number): Array<{ id: number; personId: string; embedding: Float32Array }> {
    const rows = this.db
      .prepare('SELECT id, person_id, embedding FROM face_templates WHERE model_id = ? AND id > ? ORDER BY id LIMIT ?')
      .all(modelId, afterId, limit) as Array<{ id: number; person_id: string; embedding: Buffer }>;
    return rows.map((r) => ({ id: r.id, personId: r.person_id, embedding: blobToEmbedding(r.embedding) }));
  }

  /** The embeddings of these templates by id (a removed one is missing): a compact gallery's exact rows. */
  embeddingsByIds(ids: readonly number[]): Map<number, Float32Array> {
    this.byIds ??= this.db.prepare<[string], [number, Buffer]>('SELECT id, embedding FROM face_templates WHERE id IN (SELECT value FROM json_each(?))').raw();
    const rows = this.byIds.all(JSON.stringify(ids));
    return new Map(rows.map(([id, embedding]) => [id, blobToEmbedding(embedding)]));
  }

  /** Template counts of these people (all models, or one), for list pages: reads only their rows. */
  countsFor(personIds: readonly string[], modelId?: string): Map<string, number> {
    const rows = (
      modelId === undefined
        ? this.db
            .prepare('SELECT person_id, count(*) AS n FROM face_templates WHERE person_id IN (SELECT value FROM json_each(?)) GROUP BY person_id')
            .all(JSON.stringify(personIds))
        : this.db
            .prepare(
              'SELECT person_id, count(*) AS n FROM face_templates WHERE model_id = ? AND person_id IN (SELECT value FROM json_each(?)) GROUP BY person_id',
            )
            .all(modelId, JSON.stringify(personIds))
    ) as Array<{ person_id: string; n: number }>;
    return new Map(rows.map((r) => [r.person_id, r.n]));
  }

  /** People (ids) among these with at least one template of `modelId`. */
  withModel(personIds: readonly string[], modelId: string): Set<string> {
    const rows = this.db
      .prepare('SELECT DISTINCT person_id FROM face_templates WHERE model_id = ? AND person_id IN (SELECT value FROM json_each(?))')
      .all(modelId, JSON.stringify(personIds)) as Array<{ person_id: string }>;
    return new Set(rows.map((r) => r.person_id));
  }

  countForPerson(personId: string): number {
    return (this.db.prepare('SELECT count(*) AS n FROM face_templates WHERE person_id = ?').get(personId) as { n: number }).n;
  }

  count(modelId?: string): number {
    const row = modelId
      ? (this.db.prepare('SELECT count(*) AS n FROM face_templates WHERE model_id = ?').get(modelId) as { n: number })
      : (this.db.prepare('SELECT count(*) AS n FROM face_templates').get() as { n: number });
    return row.n;
  }

  /** People with at least one template of `modelId`. */
  peopleWithModel(modelId: string): number {
    return (this.db.prepare('SELECT count(DISTINCT person_id) AS n FROM face_templates WHERE model_id = ?').get(modelId) as { n: number }).n;
  }

  removeForPerson(personId: string): number {
    return this.db.prepare('DELETE FROM face_templates WHERE person_id = ?').run(personId).changes;
  }
}

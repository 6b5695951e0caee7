import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { blobToEmbedding, embeddingToBlob } from '../../src/registry/templatesTable.js';

describe('template blobs (registry/templatesTable.ts)', () => {
  const v = Float32Array.from({ length: 512 }, (_, i) => Math.sin(i) / 3);

  it('round-trips through SQLite, and a blob that owns its memory is viewed, not copied', () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (b BLOB)');
    db.prepare('INSERT INTO t VALUES (?)').run(embeddingToBlob(v));
    const blob = (db.prepare('SELECT b FROM t').get() as { b: Buffer }).b;
    const e = blobToEmbedding(blob);
    expect(Array.from(e)).toEqual(Array.from(v));
    // better-sqlite3 gives each blob its own ArrayBuffer: the embedding is that memory
    expect(e.buffer).toBe(blob.buffer);
    db.close();
  });

  it('copies a blob that is a slice of a larger buffer (so the larger buffer is not kept alive) or misaligned', () => {
    const big = Buffer.alloc(4 + 512 * 4 + 4);
    embeddingToBlob(v).copy(big, 4);
    const slice = big.subarray(4, 4 + 512 * 4);
    const e = blobToEmbedding(slice);
    expect(Array.from(e)).toEqual(Array.from(v));
    expect(e.buffer).not.toBe(big.buffer);
    expect(e.buffer.byteLength).toBe(512 * 4);
    const odd = Buffer.alloc(1 + 512 * 4);
    embeddingToBlob(v).copy(odd, 1);
    expect(Array.from(blobToEmbedding(odd.subarray(1)))).toEqual(Array.from(v));
  });
});

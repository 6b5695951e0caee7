import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { EventBus } from '../../src/events.js';
import { createLogger } from '../../src/logging.js';
import { PeopleRegistry } from '../../src/registry/peopleRegistry.js';
import { Store } from '../../src/store/store.js';
import { l2normalize } from '../../src/util/vector.js';
import { tempDir } from '../helpers/blinkd.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function randomEmbedding(dim: number): Float32Array {
  return l2normalize(Float32Array.from({ length: dim }, () => Math.random() * 2 - 1));
}

async function noiseJpeg(): Promise<Buffer> {
  const px = Buffer.from(Array.from({ length: 96 * 96 * 3 }, () => Math.floor(Math.random() * 256)));
  return sharp(px, { raw: { width: 96, height: 96, channels: 3 } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** A random 112×112 PNG standing in for an aligned face chip (registry/chipsTable.ts). */
async function noiseChip(): Promise<Buffer> {
  const px = Buffer.from(Array.from({ length: 112 * 112 * 3 }, () => Math.floor(Math.random() * 256)));
  return sharp(px, { raw: { width: 112, height: 112, channels: 3 } })
    .png()
    .toBuffer();
}

/** Every byte the unit keeps for its database: the file, its WAL and the shared-memory index. */
function onDisk(file: string): Buffer {
  return Buffer.concat([file, `${file}-wal`, `${file}-shm`].filter((f) => existsSync(f)).map((f) => readFileSync(f)));
}

const bytesOf = (v: Float32Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/**
 * Deleting a person must erase their biometrics from the disk, not only from the tables: SQLite
 * leaves deleted cells in free space and old page versions in the WAL, where a carving tool finds
 * the template floats and the thumbnail JPEG of someone who asked to be forgotten.
 */
describe('erasing a person', () => {
  it('leaves none of their template, face chip or thumbnail bytes in the database file or its WAL, while the unit keeps running', async () => {
    const t = tempDir('blink-erase-');
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'blink.db');
    const store = Store.open(file);
    cleanups.push(() => store.close());
    const registry = new PeopleRegistry(store, store.audit, new EventBus(), createLogger('silent'));
    const enroll = async (name: string, faces: Float32Array[], thumbnail: Buffer, chips?: Buffer[]) =>
      registry.enroll({
        person: { name },
        faces: await Promise.all(faces.map(async (embedding, i) => ({ embedding, quality: 0.9, chip: chips?.[i] ?? (await noiseChip()) }))),
        modelId: 'test-128',
        source: 'cli',
        duplicateThreshold: 0.99,
        thumbnail,
        actor: 'test',
      });
    // neighbours share the pages, so the deleted cells sit inside pages that stay in use
    for (let i = 0; i < 5; i++) await enroll(`Neighbour ${i}`, [randomEmbedding(128)], await noiseJpeg());
    const faces = [randomEmbedding(128), randomEmbedding(128), randomEmbedding(128)];
    const thumb = await noiseJpeg();
    const chips = [await noiseChip(), await noiseChip(), await noiseChip()];
    const gone = (await enroll('Forget Me Quixotically', faces, thumb, chips)).person;
    // the door's decisions about them, and an edit of their record (the audit log keeps the name)
    const decisions = [0, 1, 2].map((i) =>
      store.events.insert({
        result: 'GRANTED',
        reason: 'ok',
        personId: gone.id,
        personName: gone.name,
        score: 0.8,
        ts: new Date(Date.now() - i * 1000).toISOString(),
      }),
    );
    store.attendance.add({ personId: gone.id, day: '2026-12-01', kind: 'CHECK_IN', status: 'ON_TIME', ts: decisions[0]!.ts, eventId: decisions[0]!.id });
    registry.update(gone.id, { notes: 'leaves in December' }, 'test');
    for (let i = 5; i < 10; i++) await enroll(`Neighbour ${i}`, [randomEmbedding(128)], await noiseJpeg());
    const thumbPiece = thumb.subarray(200, 456);
    // sanity: before the deletion the bytes are there to be found (else the check below proves nothing)
    expect(onDisk(file).includes(bytesOf(faces[1]!))).toBe(true);
    expect(onDisk(file).includes(thumbPiece)).toBe(true);
    const chipPieces = chips.map((c) => c.subarray(100, 356));
    for (const piece of chipPieces) expect(onDisk(file).includes(piece)).toBe(true);
    expect(onDisk(file).includes(Buffer.from('Quixotically'))).toBe(true);

    expect(registry.remove(gone.id, 'test')).toMatchObject({ templatesErased: 3, thumbnailsErased: 1, chipsErased: 3 });
    const disk = onDisk(file);
    for (const f of faces) expect(disk.includes(bytesOf(f).subarray(0, 64)), 'template bytes on disk').toBe(false);
    expect(disk.includes(thumbPiece), 'thumbnail bytes on disk').toBe(false);
    for (const piece of chipPieces) expect(disk.includes(piece), 'face chip bytes on disk').toBe(false);
    expect(registry.chipsOf(gone.id)).toEqual([]);
    // erasure covers the name: not in decisions, audit entries or free pages; the decisions stay
    expect(disk.includes(Buffer.from('Quixotically')), 'the name on disk').toBe(false);
    const kept = store.events.query({ personId: gone.id, limit: 10 });
    expect(kept.map((e) => [e.result, e.personName])).toEqual([
      ['GRANTED', null],
      ['GRANTED', null],
      ['GRANTED', null],
    ]);
    expect(store.attendance.query({ personId: gone.id, limit: 10 })).toEqual([]);
    expect(store.audit.recent(1)[0]).toMatchObject({ action: 'person.deleted', target: `person:${gone.id}` });
    // the neighbours are intact
    expect(registry.count()).toBe(10);
    expect(registry.templateCount()).toBe(10);
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM face_chips').get()).toEqual({ n: 10 });
  });
});

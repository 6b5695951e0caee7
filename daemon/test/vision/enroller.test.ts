import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { operatingPointsFor } from '../../src/access/operatingPoint.js';
import { EventBus } from '../../src/events.js';
import { createLogger } from '../../src/logging.js';
import { enrollFromPhotos, type PhotoEnrollment } from '../../src/registry/enrollFromPhotos.js';
import { PeopleRegistry } from '../../src/registry/peopleRegistry.js';
import { TemplatesTable } from '../../src/registry/templatesTable.js';
import { Store } from '../../src/store/store.js';
import { decodeImage } from '../../src/vision/decode.js';
import { Enroller } from '../../src/vision/enroller.js';
import { EnrollError } from '../../src/vision/enrollError.js';
import { FacePipeline } from '../../src/vision/pipeline.js';
import { DATA, SKIP_DATA } from './sharedData.js';

const face = (...p: string[]): Buffer => readFileSync(join(DATA, 'faces', ...p));
const img = (identity: string, i: number): { name: string; data: Buffer } => {
  const f = readdirSync(join(DATA, 'faces', identity)).sort()[i]!;
  return { name: f, data: face(identity, f) };
};

describe.skipIf(SKIP_DATA)('enrollment with real photos (Enroller analysis + the people registry)', () => {
  let pipeline: FacePipeline;
  let dir: string;
  let store: Store;
  let registry: PeopleRegistry;
  let enroller: Enroller;
  const bus = new EventBus();
  const changes: unknown[] = [];
  // the door's operating point for this registry's embedder and gallery, read at use (it follows the people enrolled)
  const point = () => operatingPointsFor(parseConfig({}, 'defaults'), registry).thresholds();

  beforeAll(async () => {
    pipeline = await FacePipeline.create({ precision: 'int8', antispoof: false, liveness: false, intraOpThreads: 1 });
    dir = mkdtempSync(join(tmpdir(), 'blink-enroll-'));
    store = Store.open(join(dir, 'db.sqlite'));
    registry = new PeopleRegistry(store, store.audit, bus, createLogger('silent'));
    registry.activate(pipeline.embedderId(), pipeline.embeddingDim);
    enroller = new Enroller(pipeline);
    bus.on(changes, 'people.changed', (e) => void changes.push(e));
  });
  afterAll(async () => {
    store?.close();
    await pipeline?.release();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const counts = (): [number, number] => [registry.count(), registry.templateCount()];
  const enroll = (req: Pick<PhotoEnrollment, 'person' | 'images'>) =>
    enrollFromPhotos(async (imgs) => ({ modelId: enroller.modelId, faces: await enroller.analyzeAll(imgs) }), registry, {
      ...req,
      source: 'cli',
      actor: 'test',
      duplicateThreshold: point().threshold,
      keepThumbnail: false,
    });
  async function refused(p: Promise<unknown>): Promise<EnrollError> {
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EnrollError);
    return err as EnrollError;
  }

  it('enrolls a person from several photos, stores templates under the manifest model id and emits people.changed', async () => {
    const r = await enroll({ person: { name: 'Barack Obama' }, images: [img('obama', 0), img('obama', 1)] });
    expect(r.templates).toBe(2);
    expect(r.modelId).toBe('mobilefacenet512-int8');
    expect(new TemplatesTable(store.db).forPerson(r.person.id).map((t) => t.modelId)).toEqual(['mobilefacenet512-int8', 'mobilefacenet512-int8']);
    expect(changes).toContainEqual({ personId: r.person.id, action: 'created' });
    expect(r.images.every((i) => i.quality.overall > 0)).toBe(true);
  });

  it('identifies the enrolled person from a different photo, and not a different person', async () => {
    const probe = await pipeline.describeLargestFace(await decodeImage(img('obama', 2).data));
    const m = registry.identify(probe!.face.embedding!, point().threshold, point().margin);
    expect(m.decision).toBe('match');
    expect(m.person?.name).toBe('Barack Obama');
    const stranger = await pipeline.describeLargestFace(await decodeImage(img('biden', 0).data));
    expect(registry.identify(stranger!.face.embedding!, point().threshold, point().margin).decision).toBe('no_match');
  });

  it('refuses a face already enrolled as someone else, naming them, and writes nothing', async () => {
    const before = counts();
    const err = await refused(enroll({ person: { name: 'Not Obama' }, images: [img('biden', 0), img('obama', 2)] }));
    expect(err.kind).toBe('duplicate');
    expect(err.imageIndex).toBe(1);
    expect(err.message).toMatch(/Barack Obama/);
    expect(err.details.personName).toBe('Barack Obama');
    expect(counts()).toEqual(before);
  });

  it('refuses non-images, faceless images and group photos with typed errors, writing nothing', async () => {
    const before = counts();
    expect((await refused(enroll({ person: { name: 'X' }, images: [img('biden', 0), { name: 'notes.txt', data: Buffer.from('hello') }] }))).kind).toBe(
      'not_an_image',
    );
    const noFace = readdirSync(join(DATA, 'faces', 'no_face')).sort()[0]!;
    expect((await refused(enroll({ person: { name: 'X' }, images: [{ name: noFace, data: face('no_face', noFace) }] }))).kind).toBe('no_face');
    const multi = await refused(enroll({ person: { name: 'X' }, images: [{ name: 'couple', data: face('group_photos', 'deepface__couple.jpg') }] }));
    expect(multi.kind).toBe('multiple_faces');
    expect(counts()).toEqual(before);
  });

  it('refuses a blurred photo as poor_quality with the reason', async () => {
    const before = counts();
    const blurred = await sharp(img('kit_harington', 0).data).blur(6).jpeg().toBuffer();
    const err = await refused(enroll({ person: { name: 'Blurry' }, images: [{ name: 'blurred.jpg', data: blurred }] }));
    expect(err.kind).toBe('poor_quality');
    expect((err.details.reasons as string[]).join(' ')).toMatch(/blurry/);
    expect(counts()).toEqual(before);
  });
});

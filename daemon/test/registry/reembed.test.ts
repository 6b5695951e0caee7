import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { operatingPointsFor } from '../../src/access/operatingPoint.js';
import { EnrollClient } from '../../src/admin/enrollClient.js';
import { parseConfig } from '../../src/config/load.js';
import { EventBus } from '../../src/events.js';
import { createLogger } from '../../src/logging.js';
import { enrollFromPhotos } from '../../src/registry/enrollFromPhotos.js';
import { PeopleRegistry } from '../../src/registry/peopleRegistry.js';
import { Reembedder } from '../../src/registry/reembedder.js';
import { Store } from '../../src/store/store.js';
import { testDataDir } from '../../src/system/paths.js';
import { pipelineOptions } from '../../src/vision/pipelineOptions.js';
import { tempDir } from '../helpers/blinkd.js';

const FACES = join(testDataDir(), 'faces');
const haveData = existsSync(join(FACES, 'amy', 'amy1.png'));
if (!haveData && process.env.CI) throw new Error(`test data missing at ${FACES} (set BLINK_TEST_DATA)`);

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const photos = (...paths: string[]) => paths.map((p) => ({ name: basename(p), data: readFileSync(join(FACES, p)) }));

/** The enrollment worker (a real thread, real models) for the embedder `vision.recognitionModel` names. */
function worker(recognitionModel: string): EnrollClient {
  const config = parseConfig({ vision: { recognitionModel } }, 'test');
  const client = new EnrollClient(() => pipelineOptions(config.vision, { passive: false }));
  cleanups.push(() => client.stop());
  return client;
}

/**
 * Switching the embedder must not strand enrolled people: the aligned chips kept at enrollment are
 * embedded again by the new model in the background, and only people without chips are left
 * "re-enrollment needed".
 */
describe.runIf(haveData)('re-embedding enrollment chips after an embedder switch (real models, real photos)', () => {
  it('enrolled under faceapi-resnet, restarted with mobilefacenet512: chips become new templates, the person is matched again, a person without chips stays flagged', async () => {
    const t = tempDir('blink-reembed-');
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'blink.db');

    // ---- model A: enroll Amy and Biden from photos, Jack without chips (as a pre-chip enrollment)
    const a = worker('faceapi-resnet');
    let store = Store.open(file);
    let registry = new PeopleRegistry(store, store.audit, new EventBus(), createLogger('silent'));
    const analyze = (images: Parameters<EnrollClient['analyzePhotos']>[0]) => a.analyzePhotos(images);
    const amy = await enrollFromPhotos(analyze, registry, {
      person: { name: 'Amy' },
      images: photos('amy/amy1.png', 'amy/amy2.png', 'amy/amy3.png'),
      source: 'upload',
      actor: 'test',
      duplicateThreshold: 1.01,
      keepThumbnail: false,
    });
    expect(amy.modelId).toBe('faceapi-resnet-int8');
    const biden = await enrollFromPhotos(analyze, registry, {
      person: { name: 'Biden' },
      images: photos('biden/biden.jpg'),
      source: 'upload',
      actor: 'test',
      duplicateThreshold: 1.01,
      keepThumbnail: false,
    });
    const jackFaces = await a.analyzePhotos(photos('deepface_jack/img16.jpg', 'deepface_jack/img17.jpg'));
    const jack = registry.enroll({
      person: { name: 'Jack' },
      faces: jackFaces.faces.map((f) => ({ embedding: f.embedding, quality: f.quality.overall })),
      modelId: jackFaces.modelId,
      source: 'cli',
      duplicateThreshold: 1.01,
      actor: 'test',
    });
    // the chips are the faces aligned to the 112×112 template, PNG, written with the templates
    expect(registry.chipsOf(amy.person.id)).toHaveLength(3);
    expect(registry.chipsOf(biden.person.id)).toHaveLength(1);
    expect(registry.chipsOf(jack.person.id)).toHaveLength(0);
    const chip = registry.chipsOf(amy.person.id)[0]!;
    expect(chip.alignment).toBe('arcface112');
    expect(chip.png.subarray(1, 4).toString()).toBe('PNG');
    expect(chip.png.readUInt32BE(16)).toBe(112);
    await a.stop();
    store.close();

    // ---- the unit restarts with model B (the default, MobileFaceNet-512)
    const b = worker('mobilefacenet512');
    const probe = await b.analyzePhotos(photos('amy/amy4.png'));
    const modelB = { id: probe.modelId, dim: probe.faces[0]!.embedding.length };
    expect(modelB).toEqual({ id: 'mobilefacenet512-int8', dim: 512 });
    store = Store.open(file);
    cleanups.push(() => store.close());
    const bus = new EventBus();
    registry = new PeopleRegistry(store, store.audit, bus, createLogger('silent'), () => modelB);
    await registry.start();
    cleanups.push(() => registry.stop());
    expect(registry.health()).toMatchObject({ model: modelB.id, searchable: 0, needsReenrollment: 3 });
    expect(registry.awaitingReembedding().sort()).toEqual([amy.person.id, biden.person.id].sort());
    const op = operatingPointsFor(parseConfig({}, 'defaults'), registry);

    const reembedder = new Reembedder(
      registry,
      (chips) => b.embedChips(chips),
      bus,
      createLogger('silent'),
      () => op.thresholds().threshold,
    );
    const started = Date.now();
    await reembedder.start();
    cleanups.push(() => reembedder.stop());
    const progress = await reembedder.idle();
    const ms = Date.now() - started;
    expect(progress).toEqual({ model: modelB.id, state: 'done', total: 2, done: 2, failed: 0 });
    expect(reembedder.health()).toEqual(progress);
    expect(ms).toBeLessThan(30_000);

    const rows = new Map(registry.rows(registry.list()).map((r) => [r.name, r]));
    expect(rows.get('Amy')).toMatchObject({ templates: 6, currentTemplates: 3, needsReenrollment: false });
    expect(rows.get('Biden')).toMatchObject({ templates: 2, currentTemplates: 1, needsReenrollment: false });
    expect(rows.get('Jack')).toMatchObject({ templates: 2, currentTemplates: 0, needsReenrollment: true });
    expect(registry.health()).toMatchObject({ searchable: 2, needsReenrollment: 1 });

    // Amy's fourth photo (never enrolled), embedded by B, is matched to Amy at the door's operating point.
    const { threshold, margin } = op.thresholds();
    const m = registry.identify(probe.faces[0]!.embedding, threshold, margin);
    expect(m, `score ${m.score}, threshold ${threshold}`).toMatchObject({ decision: 'match', person: { id: amy.person.id } });
    // and the chip-made templates agree with embedding the photos directly with B
    const direct = await b.analyzePhotos(photos('amy/amy1.png'));
    const [best] = await registry.search(direct.faces[0]!.embedding, 1);
    expect(best).toMatchObject({ personId: amy.person.id });
    expect(best!.score).toBeGreaterThan(0.9);

    // Started again, it finds nothing left to do (Jack has no chips): no templates added, the last run's numbers stay.
    await reembedder.stop();
    await reembedder.start();
    expect(await reembedder.idle()).toEqual(progress);
    expect(registry.templateCount()).toBe(10);
    const audit = store.db.prepare("SELECT COUNT(*) AS n FROM audit_log WHERE actor = 'system:reembed'").get() as { n: number };
    expect(audit.n).toBe(2);
    console.log(
      `re-embedded 2 people (4 chips) in ${ms} ms; Amy photo 4 scored ${m.score.toFixed(3)} (threshold ${threshold.toFixed(3)}); amy1 direct vs chip-made ${best!.score.toFixed(3)}`,
    );
  }, 120_000);

  it('a chip that does not embed counts as failed and leaves that person "re-enrollment needed"; a person removed meanwhile is not counted', async () => {
    const t = tempDir('blink-reembed-fail-');
    cleanups.push(t.cleanup);
    const store = Store.open(join(t.dir, 'blink.db'));
    cleanups.push(() => store.close());
    const bus = new EventBus();
    const b = worker('mobilefacenet512');
    const registry = new PeopleRegistry(store, store.audit, bus, createLogger('silent'), () => ({ id: 'mobilefacenet512-int8', dim: 512 }));
    // chips are model-independent: the ones B's worker cut serve for a person whose templates are another model's
    const good = await b.analyzePhotos(photos('biden/biden.jpg'));
    const old = (seed: number) => Float32Array.from({ length: 128 }, (_, i) => (i === seed ? 1 : 0));
    const enrollOld = (name: string, chip: Uint8Array) =>
      registry.enroll({
        person: { name },
        faces: [{ embedding: old(name.length), quality: 0.8, chip }],
        modelId: 'faceapi-resnet-int8',
        source: 'cli',
        duplicateThreshold: 1.01,
        actor: 'test',
      }).person;
    const biden = enrollOld('Biden', good.faces[0]!.chip);
    const broken = enrollOld('Broken Chip', Buffer.from('not a png at all'));
    const gone = enrollOld('Gone Soon', good.faces[0]!.chip);
    await registry.start();
    cleanups.push(() => registry.stop());
    // the second person is removed while the first is being embedded
    const reembedder = new Reembedder(
      registry,
      async (chips) => {
        if (registry.get(gone.id)) registry.remove(gone.id, 'test');
        return b.embedChips(chips);
      },
      bus,
      createLogger('silent'),
      () => 0.99,
    );
    await reembedder.start();
    cleanups.push(() => reembedder.stop());
    expect(await reembedder.idle()).toEqual({ model: 'mobilefacenet512-int8', state: 'done', total: 2, done: 1, failed: 1 });
    expect(registry.row(biden.id)).toMatchObject({ currentTemplates: 1, needsReenrollment: false });
    expect(registry.row(broken.id)).toMatchObject({ currentTemplates: 0, needsReenrollment: true });
    expect(registry.get(gone.id)).toBeUndefined();
  }, 120_000);
});

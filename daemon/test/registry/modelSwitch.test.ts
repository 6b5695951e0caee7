import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { operatingPointsFor } from '../../src/access/operatingPoint.js';
import { parseConfig } from '../../src/config/load.js';
import { EventBus } from '../../src/events.js';
import { createLogger } from '../../src/logging.js';
import { PeopleRegistry } from '../../src/registry/peopleRegistry.js';
import { Store } from '../../src/store/store.js';
import { l2normalize } from '../../src/util/vector.js';
import { BLINKD, tempDir } from '../helpers/blinkd.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

let seed = 7;
function embedding(dim: number): Float32Array {
  return l2normalize(Float32Array.from({ length: dim }, () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1));
}

const OLD = 'faceapi-resnet-int8';
const NEW = 'mobilefacenet512-int8';

/**
 * The default embedder changed (dlib ResNet 128-d → MobileFaceNet-512): people enrolled before the
 * switch have only templates of the old model. The door never compares across models, so they are
 * not recognised — and must be reported as "re-enrollment needed" rather than silently missing.
 */
describe('switching the embedder', () => {
  function unit() {
    const t = tempDir('blink-switch-');
    cleanups.push(t.cleanup);
    const store = Store.open(join(t.dir, 'blink.db'));
    cleanups.push(() => store.close());
    const registry = new PeopleRegistry(store, store.audit, new EventBus(), createLogger('silent'));
    const enroll = (person: { name: string } | { id: string }, modelId: string, faces: Float32Array[]) =>
      registry.enroll({ person, faces: faces.map((e) => ({ embedding: e, quality: 0.9 })), modelId, source: 'cli', duplicateThreshold: 0.99, actor: 'test' });
    return { dir: t.dir, store, registry, enroll };
  }

  it('people with only another model’s templates are never matched and are reported as re-enrollment needed until enrolled again', () => {
    const { registry, enroll } = unit();
    const oldFaces = new Map<string, Float32Array>();
    for (const name of ['Ada', 'Bob']) {
      const e = embedding(128);
      const r = enroll({ name }, OLD, [e]);
      oldFaces.set(r.person.id, e);
    }
    const cyd = enroll({ name: 'Cyd' }, NEW, [embedding(512)]).person;
    registry.activate(NEW, 512);

    expect(registry.searchable()).toBe(1);
    expect(registry.health()).toMatchObject({ model: NEW, searchable: 1, needsReenrollment: 2 });
    const rows = new Map(registry.rows(registry.list()).map((r) => [r.name, r]));
    expect(rows.get('Ada')).toMatchObject({ templates: 1, currentTemplates: 0, needsReenrollment: true });
    expect(rows.get('Bob')).toMatchObject({ templates: 1, currentTemplates: 0, needsReenrollment: true });
    expect(rows.get('Cyd')).toMatchObject({ templates: 1, currentTemplates: 1, needsReenrollment: false });

    // No probe of the new model ever names Ada or Bob: their templates are not in the gallery.
    for (let i = 0; i < 50; i++) {
      const m = registry.identify(embedding(512), -1, 0);
      expect(m.person?.id).toBe(cyd.id);
    }
    // An old-model embedding is not compared with the new gallery at all.
    expect(() => registry.identify(oldFaces.values().next().value!, 0, 0)).toThrow(/probe has 128 values, the gallery holds 512/);

    // The operating point counts the searchable people only (1), not everyone on file (3)...
    const op = operatingPointsFor(parseConfig({}, 'defaults'), registry);
    expect(op.current()).toMatchObject({ model: NEW, people: 1 });
    // ...and Ada enrolled again with the new model is matched, no longer flagged, and raises the threshold.
    const before = op.thresholds().threshold;
    const ada = [...rows.values()].find((r) => r.name === 'Ada')!;
    const adaNew = embedding(512);
    enroll({ id: ada.id }, NEW, [adaNew]);
    expect(registry.row(ada.id)).toMatchObject({ templates: 2, currentTemplates: 1, needsReenrollment: false });
    expect(registry.health()).toMatchObject({ searchable: 2, needsReenrollment: 1 });
    expect(registry.identify(adaNew, 0.9, 0.01)).toMatchObject({ decision: 'match', person: { id: ada.id } });
    expect(op.thresholds().threshold).toBeGreaterThan(before);
  });

  it('blinkd people list names the people who need re-enrollment for the configured embedder', () => {
    const { dir, store, enroll } = unit();
    enroll({ name: 'Ada' }, OLD, [embedding(128)]);
    enroll({ name: 'Cyd' }, NEW, [embedding(512)]);
    store.close();
    const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BLINK_'))), BLINK_STORE__DATA_DIR: dir };
    const text = spawnSync(process.execPath, [BLINKD, 'people', 'list'], { cwd: dir, env, encoding: 'utf8' });
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/Ada {2}ACTIVE {2}1 template\(s\) {2}re-enrollment needed \(no mobilefacenet512-int8 template\)/);
    expect(text.stdout).toMatch(/Cyd {2}ACTIVE {2}1 template\(s\)\n/);
    const json = spawnSync(process.execPath, [BLINKD, 'people', 'list', '--json'], { cwd: dir, env, encoding: 'utf8' });
    expect(json.status, json.stderr).toBe(0);
    const people = JSON.parse(json.stdout) as Array<{ name: string; needsReenrollment: boolean; currentTemplates: number }>;
    expect(people.map((p) => [p.name, p.needsReenrollment, p.currentTemplates])).toEqual([
      ['Ada', true, 0],
      ['Cyd', false, 1],
    ]);
  });
});

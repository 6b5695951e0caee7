import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events.js';
import { Gallery, decide } from '../../src/gallery/gallery.js';
import { PeopleRegistry } from '../../src/registry/peopleRegistry.js';
import { TemplatesTable } from '../../src/registry/templatesTable.js';
import { createLogger } from '../../src/logging.js';
import { Store } from '../../src/store/store.js';

function unit(dim: number, hot: number, spill = 0, spillAt = (hot + 1) % dim): Float32Array {
  const v = new Float32Array(dim);
  v[hot] = 1;
  v[spillAt] = spill;
  return v;
}

describe('Gallery', () => {
  it('returns the top-k people by their best template, best first', () => {
    const g = new Gallery(8);
    g.load([
      { personId: 'ann', embedding: unit(8, 0) },
      { personId: 'ann', embedding: unit(8, 1) },
      { personId: 'bob', embedding: unit(8, 2) },
      { personId: 'cy', embedding: unit(8, 3) },
    ]);
    expect(g.size).toBe(4);
    expect(g.people).toBe(3);
    const top = g.search(unit(8, 1, 0.5, 2), 3);
    expect(top.map((t) => t.personId)).toEqual(['ann', 'bob', 'cy']);
    expect(top[0]!.score).toBeCloseTo(1 / Math.sqrt(1.25), 5);
    expect(top[0]!.row).toBe(1);
    expect(g.search(unit(8, 1), 1)).toHaveLength(1);
  });

  it('decides match / no_match / ambiguous by threshold and margin over the best OTHER person', () => {
    const g = new Gallery(4);
    g.load([
      { personId: 'twin-a', embedding: Float32Array.from([1, 0.1, 0, 0]) },
      { personId: 'twin-b', embedding: Float32Array.from([1, 0.12, 0, 0]) },
      { personId: 'other', embedding: Float32Array.from([0, 0, 1, 0]) },
    ]);
    const probeTwin = Float32Array.from([1, 0.1, 0, 0]);
    const amb = g.match(probeTwin, 0.9, 0.02);
    expect(amb.decision).toBe('ambiguous');
    expect(amb.personId).toBe('twin-a');
    expect(amb.secondPersonId).toBe('twin-b');
    expect(amb.margin).toBeLessThan(0.02);
    expect(g.match(Float32Array.from([0, 0, 1, 0.05]), 0.9, 0.02).decision).toBe('match');
    const none = g.match(Float32Array.from([0, 0, 0, 1]), 0.9, 0.02);
    expect(none.decision).toBe('no_match');
    expect(decide([], 0.5, 0.1).decision).toBe('no_match');
  });

  it('gives the same answer through the onnxruntime GEMV path as through scalar JS', async () => {
    const g = new Gallery(128);
    let s = 7;
    const rnd = (): number => ((s = (s * 1103515245 + 12345) % 2147483648), s / 2147483648 - 0.5);
    const entries = Array.from({ length: 5000 }, (_, i) => ({ personId: `p${i % 1700}`, embedding: Float32Array.from({ length: 128 }, rnd) }));
    g.load(entries);
    await g.accelerate(1);
    try {
      const probe = entries[4321]!.embedding;
      const a = g.search(probe, 5);
      const b = await g.searchAsync(probe, 5);
      expect(b.map((x) => x.personId)).toEqual(a.map((x) => x.personId));
      expect(b[0]!.score).toBeCloseTo(1, 5);
      expect(b[0]!.personId).toBe(`p${4321 % 1700}`);
    } finally {
      await g.release();
    }
  });

  it('refuses embeddings of the wrong dimension', () => {
    const g = new Gallery(4);
    expect(() => g.load([{ personId: 'x', embedding: new Float32Array(3) }])).toThrow(/3 values/);
    expect(() => g.search(new Float32Array(5))).not.toThrow(); // empty gallery: nothing to compare
    g.load([{ personId: 'x', embedding: new Float32Array([1, 0, 0, 0]) }]);
    expect(() => g.search(new Float32Array(5))).toThrow(/5 values/);
  });
});

describe('PeopleRegistry (the one gallery: the door, the live view, identify and the duplicate check)', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const face = (v: number[]) => ({ embedding: Float32Array.from(v), quality: 0.9 });
  const enroll = (r: PeopleRegistry, name: string, v: number[], modelId = 'model-a') =>
    r.enroll({ person: { name }, faces: [face(v)], modelId, source: 'cli', duplicateThreshold: 0.99, actor: 'test' }).person;

  it("holds the active model's templates of everyone, deactivated included, and follows every change through the registry", async () => {
    dir = mkdtempSync(join(tmpdir(), 'blink-gallery-'));
    const store = Store.open(join(dir, 'db.sqlite'));
    const bus = new EventBus();
    const changes: string[] = [];
    bus.on(changes, 'people.changed', (e) => void changes.push(e.action));
    const registry = new PeopleRegistry(store, store.audit, bus, createLogger('silent'));
    try {
      const ann = enroll(registry, 'Ann', [1, 0, 0, 0]);
      const templates = new TemplatesTable(store.db);
      templates.add(ann.id, 'model-b', Float32Array.from([0, 1, 0, 0]), 0.9); // another embedder: never matched
      templates.add(ann.id, 'model-a', Float32Array.from([1, 0, 0]), 0.9); // wrong dimension: skipped
      registry.activate('model-a', 4);
      expect(registry.searchable()).toBe(1);
      expect(registry.identify(Float32Array.from([0, 1, 0, 0]), 0.9, 0.02).decision).toBe('no_match');
      const bob = enroll(registry, 'Bob', [0, 0, 1, 0]);
      // The registry's own write updates the gallery at once: no event round trip, no rebuild from the database.
      expect(await registry.match(Float32Array.from([0, 0, 1, 0]), 0.9, 0.02)).toMatchObject({
        decision: 'match',
        personId: bob.id,
        person: { name: 'Bob', status: 'ACTIVE' },
      });
      // A deactivated person stays recognisable and is reported with their status.
      registry.update(bob.id, { status: 'DEACTIVATED' }, 'test');
      expect(registry.identify(Float32Array.from([0, 0, 1, 0]), 0.9, 0.02)).toMatchObject({ decision: 'match', person: { id: bob.id, status: 'DEACTIVATED' } });
      // …and a duplicate enrollment of them is refused, naming them.
      expect(() => enroll(registry, 'Bobby', [0, 0, 1, 0])).toThrow(/already enrolled as Bob .*deactivated/);
      const removed = registry.remove(bob.id, 'test');
      expect(removed).toMatchObject({ templatesErased: 1 });
      expect(registry.identify(Float32Array.from([0, 0, 1, 0]), 0.9, 0.02).decision).toBe('no_match');
      expect(changes).toEqual(['created', 'created', 'updated', 'removed']);
      expect(store.audit.recent(10).map((a) => a.action)).toEqual(['person.deleted', 'person.deactivated', 'person.enrolled', 'person.enrolled']);
    } finally {
      await registry.stop();
      store.close();
    }
  });

  it('a change made by another process (the CLI) reaches a running registry through the revision, without a restart', async () => {
    dir = mkdtempSync(join(tmpdir(), 'blink-gallery-'));
    const file = join(dir, 'db.sqlite');
    const store = Store.open(file);
    const bus = new EventBus();
    const running = new PeopleRegistry(store, store.audit, bus, createLogger('silent'), () => ({ id: 'model-a', dim: 4 }));
    await running.start();
    const other = Store.open(file);
    try {
      const cli = new PeopleRegistry(other, other.audit, new EventBus(), createLogger('silent'));
      const cara = enroll(cli, 'Cara', [0, 0, 0, 1]);
      expect(running.searchable()).toBe(0);
      const deadline = Date.now() + 5000;
      while (running.searchable() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(running.identify(Float32Array.from([0, 0, 0, 1]), 0.9, 0.02)).toMatchObject({ decision: 'match', personId: cara.id });
      cli.remove(cara.id, 'cli');
      while (running.searchable() === 1 && Date.now() < deadline + 5000) await new Promise((r) => setTimeout(r, 100));
      expect(running.identify(Float32Array.from([0, 0, 0, 1]), 0.9, 0.02).decision).toBe('no_match');
    } finally {
      await running.stop();
      other.close();
      store.close();
    }
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../src/events.js';
import { Gallery, decide } from '../../src/gallery/gallery.js';
import { AccessGallery } from '../../src/access/accessGallery.js';
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

describe("AccessGallery (the door runtime's gallery)", () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('rebuilds from the store on people.changed, with the templates of its model only, deactivated people included', async () => {
    dir = mkdtempSync(join(tmpdir(), 'blink-gallery-'));
    const store = Store.open(join(dir, 'db.sqlite'));
    const bus = new EventBus();
    const warnings: string[] = [];
    const gallery = new AccessGallery(
      store,
      bus,
      'model-a',
      4,
      () => ({ threshold: 0.9, margin: 0.02 }),
      (m) => warnings.push(m),
    );
    try {
      const ann = store.people.create({ name: 'Ann' });
      store.templates.add(ann.id, 'model-a', Float32Array.from([1, 0, 0, 0]), 0.9);
      store.templates.add(ann.id, 'model-b', Float32Array.from([0, 1, 0, 0]), 0.9);
      store.templates.add(ann.id, 'model-a', Float32Array.from([1, 0, 0]), 0.9); // wrong dimension: skipped, warned
      await gallery.start();
      expect(gallery.gallery.size).toBe(1);
      expect(warnings).toHaveLength(1);
      const bob = store.people.create({ name: 'Bob' });
      store.templates.add(bob.id, 'model-a', Float32Array.from([0, 0, 1, 0]), 0.9);
      expect((await gallery.match(Float32Array.from([0, 0, 1, 0]))).decision).toBe('no_match');
      bus.emit('people.changed', { personId: bob.id, action: 'created' });
      const m = await gallery.match(Float32Array.from([0, 0, 1, 0]));
      expect(m).toMatchObject({ decision: 'match', personId: bob.id });
      // A deactivated person stays recognisable, so the decision can say "deactivated" instead of "unknown".
      store.people.update(bob.id, { status: 'DEACTIVATED' });
      bus.emit('people.changed', { personId: bob.id, action: 'updated' });
      expect(await gallery.match(Float32Array.from([0, 0, 1, 0]))).toMatchObject({ decision: 'match', personId: bob.id });
      store.people.remove(bob.id);
      bus.emit('people.changed', { personId: bob.id, action: 'removed' });
      expect((await gallery.match(Float32Array.from([0, 0, 1, 0]))).decision).toBe('no_match');
      expect(gallery.rebuilds).toBe(4);
    } finally {
      await gallery.close();
      store.close();
    }
  });
});

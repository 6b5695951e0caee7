import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusteredGallery, lfwEmbeddings, probesFor, Rng, type RealFaces, type SyntheticGallery } from '../../src/bench/galleryData.js';
import { quantizeColumn, quantizeProbe } from '../../src/gallery/coarseCodes.js';
import { Gallery, topRows, type GalleryEntry } from '../../src/gallery/gallery.js';
import { TemplatesTable } from '../../src/registry/templatesTable.js';
import { PeopleTable } from '../../src/registry/peopleTable.js';
import { Store } from '../../src/store/store.js';
import { SKIP_DATA } from '../vision/sharedData.js';

/** A compact gallery at test sizes: no FP32 budget, a 64-d coarse subspace, 32 candidate rows. */
const COMPACT = { exactBudgetBytes: 0, coarseDim: 64, candidates: 32 };
const THRESHOLD = 0.5;
const MARGIN = 0.05;

/** The gallery's templates in a real SQLite table; the exact rows come from it by template id. */
function seeded(store: Store, g: SyntheticGallery, modelId: string): GalleryEntry[] {
  const people = new PeopleTable(store.db, 'test');
  const templates = new TemplatesTable(store.db);
  const ids = g.people.map((_, p) => people.create({ name: `P${p}` }).id);
  return store.transaction(() =>
    g.templates.map((t, i) => {
      const personId = ids[g.templatePerson[i]!]!;
      return { personId, embedding: t, key: templates.add(personId, modelId, t, 1, 'cli').id };
    }),
  );
}

describe.skipIf(SKIP_DATA)('compact gallery on real embeddings (coarse subspace + exact FP32 re-score)', () => {
  let real: RealFaces;
  let dir: string;
  let store: Store;
  let templates: TemplatesTable;
  let entries: GalleryEntry[];
  let g: SyntheticGallery;

  beforeAll(async () => {
    real = await lfwEmbeddings(80, 2);
    dir = mkdtempSync(join(tmpdir(), 'blink-gallery-'));
    store = Store.open(join(dir, 'g.db'));
    templates = new TemplatesTable(store.db);
    g = clusteredGallery(real, 1500, 2);
    entries = seeded(store, g, real.modelId);
  }, 120_000);
  afterAll(() => {
    store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const compactGallery = (): Gallery => {
    const c = new Gallery(real.dim, { ...COMPACT, exactRows: (ids) => templates.embeddingsByIds(ids) });
    c.load(entries);
    return c;
  };

  it('gives the same decision, person, runner-up and exact scores as the exact search', () => {
    const exact = new Gallery(real.dim);
    exact.load(entries);
    const c = compactGallery();
    expect(c.compact).toBe(true);
    expect(exact.compact).toBe(false);
    const probes = probesFor(real, g, 300);
    let same = 0;
    const decisions = new Set<string>();
    for (const p of probes) {
      const a = exact.match(p, THRESHOLD, MARGIN);
      const b = c.match(p, THRESHOLD, MARGIN);
      decisions.add(a.decision);
      if (a.personId === b.personId && a.secondPersonId === b.secondPersonId) {
        same++;
        expect(b.decision).toBe(a.decision);
        // the compact gallery's scores are exact FP32 cosines, not coarse ones
        expect(b.score).toBeCloseTo(a.score, 5);
        expect(b.margin).toBeCloseTo(a.margin, 5);
      }
    }
    expect(same / probes.length).toBeGreaterThanOrEqual(0.99);
    // the probes exercise real decisions, not one kind only
    expect(decisions.has('match')).toBe(true);
    expect(decisions.size).toBeGreaterThan(1);
  });

  it('finds the exact best person for >= 99.9 % of probes, synchronously and on onnxruntime', async () => {
    const exact = new Gallery(real.dim);
    exact.load(entries);
    const sync = compactGallery();
    const accel = new Gallery(real.dim, { ...COMPACT, exactRows: (ids) => templates.embeddingsByIds(ids) });
    await accel.accelerate(1);
    try {
      await accel.loadAsync([entries.slice(0, 1000), entries.slice(1000)], entries.length);
      expect(accel.compact).toBe(true);
      const probes = probesFor(real, g, 1000, new Rng(5));
      let hitSync = 0;
      let hitAccel = 0;
      for (const p of probes) {
        const want = exact.search(p, 1)[0]!.personId;
        if (sync.search(p, 1)[0]!.personId === want) hitSync++;
        if ((await accel.searchAsync(p, 1))[0]!.personId === want) hitAccel++;
      }
      expect(hitSync / probes.length).toBeGreaterThanOrEqual(0.999);
      expect(hitAccel / probes.length).toBeGreaterThanOrEqual(0.999);
    } finally {
      await accel.release();
    }
  });

  it('scores the INT8 coarse rows bit-identically in JS and on onnxruntime, before and after replacePerson, whatever the page sizes', async () => {
    // total under-stated: the builder grows (re-lays the column-major codes out) as pages come
    const accel = new Gallery(real.dim, { ...COMPACT, exactRows: (ids) => templates.embeddingsByIds(ids) });
    await accel.accelerate(1);
    try {
      await accel.loadAsync([entries.slice(0, 700), entries.slice(700, 1900), entries.slice(1900)], 500);
      expect(accel.size).toBe(entries.length);
      const probes = probesFor(real, g, 20, new Rng(11));
      const check = async (): Promise<void> => {
        for (const p of probes) {
          const js = await accel.coarseScores(p, 'js');
          const onnx = await accel.coarseScores(p, 'onnx');
          expect(onnx.length).toBe(accel.size);
          expect(Buffer.from(onnx.buffer).equals(Buffer.from(js.buffer))).toBe(true);
          expect(await accel.searchAsync(p, 2)).toEqual(accel.search(p, 2));
        }
      };
      await check();
      // a person in the middle of the rows changes: their rows move to the end, the columns are re-cut
      const changed = entries[1501]!.personId;
      const fresh = probesFor(real, g, 2, new Rng(12));
      const keys = fresh.map((t) => templates.add(changed, real.modelId, t, 1, 'cli').id);
      accel.replacePerson(changed, fresh, keys);
      await check();
      expect((await accel.searchAsync(fresh[0]!, 1))[0]!.personId).toBe(changed);
    } finally {
      await accel.release();
    }
  });

  it('re-scores from the source: a template removed there is no longer matched', () => {
    const c = compactGallery();
    const target = entries[10]!;
    const before = c.search(target.embedding, 2);
    expect(before[0]!.personId).toBe(target.personId);
    expect(before[0]!.score).toBeCloseTo(1, 5);
    store.db.prepare('DELETE FROM face_templates WHERE person_id = ?').run(target.personId);
    try {
      expect(c.search(target.embedding, 2).map((s) => s.personId)).not.toContain(target.personId);
    } finally {
      const t = new TemplatesTable(store.db);
      for (const e of entries) if (e.personId === target.personId) e.key = t.add(e.personId, real.modelId, e.embedding, 1, 'cli').id;
    }
  });

  it('replacePerson keeps the subspace, projects the new rows and needs their keys', () => {
    const c = compactGallery();
    const people = c.people;
    const probe = probesFor(real, g, 1, new Rng(9))[0]!;
    const newcomer = new PeopleTable(store.db, 'test').create({ name: 'Newcomer' }).id;
    const key = templates.add(newcomer, real.modelId, probe, 1, 'cli').id;
    expect(() => c.replacePerson(newcomer, [probe])).toThrow(/key/);
    c.replacePerson(newcomer, [probe], [key]);
    expect(c.people).toBe(people + 1);
    const m = c.match(probe, THRESHOLD, MARGIN);
    expect(m.personId).toBe(newcomer);
    expect(m.score).toBeCloseTo(1, 5);
    c.replacePerson(newcomer, []);
    expect(c.people).toBe(people);
    expect(c.has(newcomer)).toBe(false);
  });
});

describe('compact gallery edge cases', () => {
  const rows = new Map<number, Float32Array>();
  const source = (ids: readonly number[]) => new Map(ids.filter((i) => rows.has(i)).map((i) => [i, rows.get(i)!]));
  const vec = (...v: number[]) => Float32Array.from([...v, ...new Array(8 - v.length).fill(0)]);

  it('a one-person, one-template gallery: match on itself, margin = score', () => {
    rows.set(1, vec(1, 2, 3));
    const c = new Gallery(8, { exactBudgetBytes: 0, coarseDim: 2, exactRows: source });
    c.load([{ personId: 'ann', embedding: rows.get(1)!, key: 1 }]);
    expect(c.compact).toBe(true);
    const m = c.match(vec(1, 2, 3), 0.9, 0.1);
    expect(m.decision).toBe('match');
    expect(m.score).toBeCloseTo(1, 6);
    expect(m.margin).toBeCloseTo(1, 6);
    expect(m.secondPersonId).toBeNull();
  });

  it('two people with the same template tie: ambiguous, margin 0, from exact scores', () => {
    rows.set(2, vec(0, 1, 1));
    rows.set(3, vec(0, 1, 1));
    rows.set(4, vec(1, 0, 0, 1));
    const c = new Gallery(8, { exactBudgetBytes: 0, coarseDim: 2, candidates: 2, exactRows: source });
    c.load([
      { personId: 'twin-a', embedding: rows.get(2)!, key: 2 },
      { personId: 'twin-b', embedding: rows.get(3)!, key: 3 },
      { personId: 'other', embedding: rows.get(4)!, key: 4 },
    ]);
    const m = c.match(vec(0, 1, 1), 0.9, 0.02);
    expect(m.decision).toBe('ambiguous');
    expect(m.margin).toBe(0);
    expect([m.personId, m.secondPersonId].sort()).toEqual(['twin-a', 'twin-b']);
  });

  it('a gallery within the FP32 budget (or without a source) stays exact', () => {
    const a = new Gallery(8, { exactRows: source });
    a.load([{ personId: 'ann', embedding: vec(1), key: 1 }]);
    expect(a.compact).toBe(false);
    const b = new Gallery(8, { exactBudgetBytes: 0 });
    b.load([{ personId: 'ann', embedding: vec(1) }]);
    expect(b.compact).toBe(false);
  });

  it('a compact gallery refuses templates without a key and of the wrong size', () => {
    const c = new Gallery(8, { exactBudgetBytes: 0, coarseDim: 2, exactRows: source });
    expect(() => c.load([{ personId: 'ann', embedding: vec(1) }])).toThrow(/no key/);
    expect(() => c.load([{ personId: 'ann', embedding: new Float32Array(4), key: 1 }])).toThrow(/4 values/);
  });

  it('quantises rows and probes symmetrically within half a step, an all-zero row to zero', () => {
    const x = Float32Array.from([0.5, -0.25, 0.125, 0, -0.5, 0.3]);
    const codes = new Int8Array(6 * 3);
    const s = quantizeColumn(x, 0, 6, codes, 1, 3);
    expect(s).toBeCloseTo(0.5 / 127, 9);
    for (let k = 0; k < 6; k++) {
      expect(Math.abs(codes[k * 3 + 1]! * s - x[k]!)).toBeLessThanOrEqual(s / 2 + 1e-9);
      expect(codes[k * 3]).toBe(0); // other rows untouched
    }
    expect([codes[0 * 3 + 1], codes[4 * 3 + 1]]).toEqual([127, -127]);
    expect(quantizeColumn(new Float32Array(6), 0, 6, codes, 2, 3)).toBe(0);
    expect(Array.from(quantizeProbe(Float32Array.from([1, -1, 0.5])))).toEqual([255, 1, 192]);
    expect(Array.from(quantizeProbe(new Float32Array(3)))).toEqual([128, 128, 128]);
  });

  it('topRows picks the k largest', () => {
    const s = Float32Array.from([0.1, 0.9, 0.3, 0.8, -1, 0.85]);
    expect(topRows(s, 6, 3).sort()).toEqual([1, 3, 5]);
    expect(topRows(s, 2, 3).sort()).toEqual([0, 1]);
  });
});

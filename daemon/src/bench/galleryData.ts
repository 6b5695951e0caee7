/**
 * Gallery test data for the gallery and cold-start benches (and the gallery tests): real
 * 512-d embeddings of the LFW photos in the shared data, and synthetic people CLUSTERED around
 * them (each person a real face blended with a second one plus noise, each template the person
 * plus noise), seeded into a real SQLite database through the registry's tables.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PeopleTable } from '../registry/peopleTable.js';
import { TemplatesTable } from '../registry/templatesTable.js';
import type { Store } from '../store/store.js';
import { testDataDir } from '../system/paths.js';
import { l2normalize } from '../util/vector.js';
import { decodeImage } from '../vision/decode.js';
import { FacePipeline } from '../vision/pipeline.js';

export interface RealFaces {
  /** The embedder's manifest id. */
  modelId: string;
  dim: number;
  faces: Array<{ person: string; embedding: Float32Array }>;
}

/** Embeds up to `max` LFW photos (a few per person, in name order) with the default int8 pipeline. */
export async function lfwEmbeddings(max: number, perPerson = 3): Promise<RealFaces> {
  const dir = join(testDataDir(), 'faces-lfw');
  if (!existsSync(dir)) throw new Error(`the LFW photos are missing: ${dir} (BLINK_TEST_DATA)`);
  const pipeline = await FacePipeline.create({ precision: 'int8', antispoof: false, liveness: false, intraOpThreads: 1 });
  const faces: RealFaces['faces'] = [];
  try {
    const people = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    outer: for (const person of people) {
      const sub = join(dir, person);
      let n = 0;
      for (const f of readdirSync(sub)
        .filter((x) => /\.(jpe?g|png)$/i.test(x))
        .sort()) {
        if (n >= perPerson) break;
        const r = await pipeline.process(await decodeImage(readFileSync(join(sub, f))), { passive: false });
        const face = r.faces[0];
        if (!face?.embedding) continue;
        faces.push({ person, embedding: l2normalize(Float32Array.from(face.embedding)) });
        n++;
        if (faces.length >= max) break outer;
      }
    }
    return { modelId: pipeline.embedderId(), dim: pipeline.embeddingDim, faces };
  } finally {
    await pipeline.release();
  }
}

/** A small deterministic generator (xorshift32 + Box-Muller). */
export class Rng {
  constructor(private s = 0x2545f491) {}
  next(): number {
    let s = this.s;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.s = s >>> 0;
    return this.s / 0x100000000;
  }
  gauss(): number {
    return Math.sqrt(-2 * Math.log(this.next() + 1e-12)) * Math.cos(2 * Math.PI * this.next());
  }
}

function around(base: Float32Array, sigma: number, rng: Rng): Float32Array {
  const v = new Float32Array(base.length);
  for (let i = 0; i < v.length; i++) v[i] = base[i]! + sigma * rng.gauss();
  return l2normalize(v);
}

export interface SyntheticGallery {
  people: Float32Array[];
  /** templates[i] belongs to people[templatePerson[i]] */
  templates: Float32Array[];
  templatePerson: Int32Array;
}

/** `people` synthetic identities around the real faces, `perPerson` templates each. */
export function clusteredGallery(real: RealFaces, people: number, perPerson: number, rng = new Rng()): SyntheticGallery {
  const d = real.dim;
  const ps: Float32Array[] = [];
  const templates: Float32Array[] = [];
  const templatePerson = new Int32Array(people * perPerson);
  for (let p = 0; p < people; p++) {
    const a = real.faces[Math.floor(rng.next() * real.faces.length)]!.embedding;
    const b = real.faces[Math.floor(rng.next() * real.faces.length)]!.embedding;
    const w = rng.next() * 0.5;
    const v = new Float32Array(d);
    for (let i = 0; i < d; i++) v[i] = a[i]! * (1 - w) + b[i]! * w + 0.02 * rng.gauss();
    l2normalize(v);
    ps.push(v);
    for (let t = 0; t < perPerson; t++) {
      templatePerson[templates.length] = p;
      templates.push(around(v, 0.03, rng));
    }
  }
  return { people: ps, templates, templatePerson };
}

/** Probes: even ones a new capture of an enrolled person, odd ones a real face (an impostor or a look-alike). */
export function probesFor(real: RealFaces, g: SyntheticGallery, n: number, rng = new Rng(77)): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) out.push(around(g.people[Math.floor(rng.next() * g.people.length)]!, 0.04, rng));
    else out.push(around(real.faces[Math.floor(rng.next() * real.faces.length)]!.embedding, 0.02, rng));
  }
  return out;
}

/** Writes the gallery's people (p0, p1, …) and templates into the database in one transaction; returns the person ids. */
export function seedGallery(store: Store, modelId: string, g: SyntheticGallery): string[] {
  const people = new PeopleTable(store.db, 'bench');
  const templates = new TemplatesTable(store.db);
  const ids: string[] = [];
  store.transaction(() => {
    g.people.forEach((_, p) => ids.push(people.create({ name: `Person ${p}` }).id));
    g.templates.forEach((t, i) => templates.add(ids[g.templatePerson[i]!]!, modelId, t, 1, 'cli'));
  });
  return ids;
}

import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { l2normalize } from '../util/vector.js';
import { loadModelManifest, modelFor, verifyModels } from '../vision/modelManifest.js';
import { defaultModelsDir } from '../vision/modelSet.js';

/** Galleries at least this big are scored by onnxruntime (vectorised, off the event loop) when accelerated. */
export const ACCELERATE_MIN_ROWS = 2048;

/**
 * The in-memory gallery: every template of every ACTIVE person as rows of one contiguous
 * Float32Array (row-major, L2-normalised), so a 1:N search is one pass of dot products
 * (cosine similarity) over memory that streams through the cache.
 */
export interface GalleryEntry {
  personId: string;
  embedding: Float32Array;
}

export interface PersonScore {
  personId: string;
  /** Best cosine similarity over the person's templates. */
  score: number;
  /** Index of the best template row. */
  row: number;
}

export type MatchDecision = 'match' | 'no_match' | 'ambiguous';

export interface MatchResult {
  decision: MatchDecision;
  /** The best person (also set when the decision is no_match/ambiguous, for logging). */
  personId: string | null;
  score: number;
  /** Best score minus the best score of any OTHER person (score when the gallery holds one person). */
  margin: number;
  secondPersonId: string | null;
  secondScore: number;
}

export class Gallery {
  private matrix: Float32Array;
  private rowPerson: Int32Array;
  private personIds: string[] = [];
  private scores: Float32Array;
  private personBest: Float32Array;
  private personBestRow: Int32Array;
  private rows = 0;
  private session: ort.InferenceSession | null = null;
  private galleryTensor: ort.Tensor | null = null;

  constructor(readonly dim: number) {
    if (!Number.isInteger(dim) || dim <= 0) throw new Error(`gallery dimension must be a positive integer, got ${dim}`);
    this.matrix = new Float32Array(0);
    this.rowPerson = new Int32Array(0);
    this.scores = new Float32Array(0);
    this.personBest = new Float32Array(0);
    this.personBestRow = new Int32Array(0);
  }

  get size(): number {
    return this.rows;
  }

  get people(): number {
    return this.personIds.length;
  }

  /** Replaces the contents. Embeddings are copied and normalised; a wrong dimension is an error. */
  load(entries: readonly GalleryEntry[]): void {
    const personIndex = new Map<string, number>();
    const matrix = new Float32Array(entries.length * this.dim);
    const rowPerson = new Int32Array(entries.length);
    entries.forEach((e, r) => {
      if (e.embedding.length !== this.dim) throw new Error(`template of ${e.personId} has ${e.embedding.length} values, the gallery holds ${this.dim}`);
      let p = personIndex.get(e.personId);
      if (p === undefined) personIndex.set(e.personId, (p = personIndex.size));
      rowPerson[r] = p;
      const row = matrix.subarray(r * this.dim, (r + 1) * this.dim);
      row.set(e.embedding);
      l2normalize(row);
    });
    this.matrix = matrix;
    this.rowPerson = rowPerson;
    this.personIds = [...personIndex.keys()];
    this.rows = entries.length;
    this.galleryTensor = null;
    this.scores = new Float32Array(entries.length);
    this.personBest = new Float32Array(this.personIds.length);
    this.personBestRow = new Int32Array(this.personIds.length);
  }

  /**
   * Replaces one person's rows (none = removes the person) without reading anything else again:
   * one pass that copies the other rows into a new matrix. For a change to one person in a large
   * gallery this is a memory copy, not a rebuild from the database.
   */
  replacePerson(personId: string, embeddings: readonly Float32Array[]): void {
    const keep: GalleryEntry[] = [];
    const d = this.dim;
    for (let r = 0; r < this.rows; r++) {
      const id = this.personIds[this.rowPerson[r]!]!;
      if (id !== personId) keep.push({ personId: id, embedding: this.matrix.subarray(r * d, (r + 1) * d) });
    }
    for (const e of embeddings) keep.push({ personId, embedding: e });
    this.load(keep);
  }

  /** Is this person in the gallery? */
  has(personId: string): boolean {
    return this.personIds.includes(personId);
  }

  /** Cosine similarity of the (normalised) probe against every row, into a reused buffer. */
  private scoreAll(probe: Float32Array): Float32Array {
    if (probe.length !== this.dim) throw new Error(`probe has ${probe.length} values, the gallery holds ${this.dim}`);
    const q = l2normalize(Float32Array.from(probe));
    const m = this.matrix;
    const d = this.dim;
    const out = this.scores;
    const d4 = d - (d % 4);
    for (let r = 0, base = 0; r < this.rows; r++, base += d) {
      let s0 = 0,
        s1 = 0,
        s2 = 0,
        s3 = 0;
      for (let i = 0; i < d4; i += 4) {
        s0 += m[base + i]! * q[i]!;
        s1 += m[base + i + 1]! * q[i + 1]!;
        s2 += m[base + i + 2]! * q[i + 2]!;
        s3 += m[base + i + 3]! * q[i + 3]!;
      }
      for (let i = d4; i < d; i++) s0 += m[base + i]! * q[i]!;
      out[r] = s0 + s1 + s2 + s3;
    }
    return out;
  }

  /** The k best PEOPLE (each by their best template), best first. Synchronous, scalar JS. */
  search(probe: Float32Array, k = 5): PersonScore[] {
    if (this.rows === 0) return [];
    return this.topPeople(this.scoreAll(probe), k);
  }

  /**
   * Loads the GEMV session (once): afterwards searchAsync/matchAsync score large galleries
   * with onnxruntime's vectorised MatMul on its own threads. The graph is the manifest's
   * `search` model (scores[N,1] = gallery[N,D] · probe[D,1], N and D symbolic), checked
   * against its sha256 like every model file.
   */
  async accelerate(threads = 1, modelsDir = defaultModelsDir()): Promise<void> {
    if (this.session) return;
    const entry = modelFor(loadModelManifest(modelsDir), 'search');
    verifyModels(modelsDir, [entry.id]);
    this.session = await ort.InferenceSession.create(join(modelsDir, entry.file), { intraOpNumThreads: threads, interOpNumThreads: 1 });
  }

  get accelerated(): boolean {
    return this.session !== null;
  }

  async searchAsync(probe: Float32Array, k = 5): Promise<PersonScore[]> {
    if (this.rows === 0) return [];
    if (!this.session || this.rows < ACCELERATE_MIN_ROWS) return this.search(probe, k);
    if (probe.length !== this.dim) throw new Error(`probe has ${probe.length} values, the gallery holds ${this.dim}`);
    const q = l2normalize(Float32Array.from(probe));
    this.galleryTensor ??= new ort.Tensor('float32', this.matrix, [this.rows, this.dim]);
    const res = await this.session.run({ gallery: this.galleryTensor, probe: new ort.Tensor('float32', q, [this.dim, 1]) });
    return this.topPeople(res.scores!.data as Float32Array, k);
  }

  async matchAsync(probe: Float32Array, threshold: number, margin: number): Promise<MatchResult> {
    return decide(await this.searchAsync(probe, 2), threshold, margin);
  }

  async release(): Promise<void> {
    const s = this.session;
    this.session = null;
    await s?.release().catch(() => {});
  }

  private topPeople(scores: Float32Array, k: number): PersonScore[] {
    const best = this.personBest.fill(-Infinity);
    const bestRow = this.personBestRow;
    const rp = this.rowPerson;
    for (let r = 0; r < this.rows; r++) {
      const p = rp[r]!;
      if (scores[r]! > best[p]!) {
        best[p] = scores[r]!;
        bestRow[p] = r;
      }
    }
    // partial selection of the top k people
    const top: PersonScore[] = [];
    for (let p = 0; p < best.length; p++) {
      const s = best[p]!;
      if (top.length < k || s > top[top.length - 1]!.score) {
        const entry = { personId: this.personIds[p]!, score: s, row: bestRow[p]! };
        let i = top.length;
        if (top.length < k) top.push(entry);
        else i = k - 1;
        while (i > 0 && top[i - 1]!.score < s) {
          top[i] = top[i - 1]!;
          i--;
        }
        top[i] = entry;
      }
    }
    return top;
  }

  /**
   * Open-set decision: the best person is a match only when their score reaches `threshold`
   * AND beats the best OTHER person by at least `margin`; a close second makes it ambiguous.
   */
  match(probe: Float32Array, threshold: number, margin: number): MatchResult {
    return decide(this.search(probe, 2), threshold, margin);
  }
}

/** Open-set decision over the two best people (see Gallery.match). */
export function decide(top: readonly Pick<PersonScore, 'personId' | 'score'>[], threshold: number, margin: number): MatchResult {
  const [first, second] = top;
  if (!first) return { decision: 'no_match', personId: null, score: 0, margin: 0, secondPersonId: null, secondScore: 0 };
  const secondScore = second ? second.score : 0;
  const m = first.score - (second ? second.score : 0);
  const decision: MatchDecision = first.score < threshold ? 'no_match' : m < margin ? 'ambiguous' : 'match';
  return { decision, personId: first.personId, score: first.score, margin: m, secondPersonId: second?.personId ?? null, secondScore };
}

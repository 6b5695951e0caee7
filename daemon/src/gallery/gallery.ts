import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { l2normalize } from '../util/vector.js';
import { codeSums, COARSE_PROBE_OFFSET, GALLERY_COARSE, quantizeColumn, quantizeProbe, relayout } from './coarseCodes.js';
import { matmulJs, principalBasis, principalBasisSync, type MatMul } from './subspace.js';
import { loadModelManifest, modelFor, verifyModels } from '../vision/modelManifest.js';
import { defaultModelsDir, sessionOptions } from '../vision/modelSet.js';

/** Galleries at least this big are scored by onnxruntime (vectorised, off the event loop) when accelerated. */
export const ACCELERATE_MIN_ROWS = 2048;

/**
 * Above this many bytes of FP32 rows (64 MB: 32k templates at 512-d, 128k at 128-d) a gallery
 * with an exact-row source keeps only the projected rows in memory (see Gallery).
 */
export const EXACT_BUDGET_BYTES = 64 * 1024 * 1024;
/** Dimensions of the principal subspace the compact gallery's coarse search runs in. */
export const COARSE_DIM = 128;
/** Template rows the coarse search hands to the exact re-score. */
export const CANDIDATES = 128;
/** Rows of the sample the principal subspace is found from. */
const SAMPLE_ROWS = 4096;

/**
 * The in-memory gallery: every template of the gallery's people, in one of two forms.
 *
 * - **exact** (the gallery fits EXACT_BUDGET_BYTES, or has no exact-row source): the rows of one
 *   contiguous Float32Array (row-major, L2-normalised), so a 1:N search is one pass of dot
 *   products (cosine similarity) over memory that streams through the cache.
 * - **compact** (larger galleries with an exact-row source, e.g. 100k templates at 512-d): only
 *   the rows projected onto the gallery's COARSE_DIM-dimensional principal subspace stay in
 *   memory, quantised to INT8 with one scale per row (a sixteenth of the FP32 bytes at 512-d:
 *   12.8 MB for 100k rows) and stored column-major [coarseDim, rows], so the coarse pass is one
 *   U8S8 GEMV (`gallery-coarse-int8`) that streams the codes once. A search scores the codes
 *   against the quantised projected probe (the coarse pass), takes the CANDIDATES best rows,
 *   reads their FP32 templates from the source (the owner of the templates: the registry's
 *   SQLite table, by template id) and re-scores them exactly. Every score a search returns — and
 *   so every match / no_match / ambiguous decision and margin — is an exact FP32 cosine; the
 *   coarse pass only chooses which rows get scored.
 */
export interface GalleryEntry {
  personId: string;
  embedding: Float32Array;
  /** The template's id at the exact-row source (needed for a compact gallery). */
  key?: number;
}

/** The exact FP32 templates of these keys (a key whose template is gone is left out). */
export type ExactRows = (keys: readonly number[]) => Map<number, Float32Array>;

export interface GalleryOptions {
  /** Where exact rows come from when the gallery is too big to hold them (see Gallery). */
  exactRows?: ExactRows;
  /** Default EXACT_BUDGET_BYTES. */
  exactBudgetBytes?: number;
  /** Default COARSE_DIM (capped at the dimension). */
  coarseDim?: number;
  /** Default CANDIDATES. */
  candidates?: number;
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
  /** exact: the normalised FP32 rows [rows, dim] (empty when compact). */
  private matrix: Float32Array;
  /** compact: the INT8 codes of the projected rows, column-major [coarseDim, rows]. */
  private codes: Int8Array = new Int8Array(0);
  /** compact: each row's scale (projected row ≈ rowScale[r] × its codes). */
  private rowScale: Float32Array = new Float32Array(0);
  /** compact: COARSE_PROBE_OFFSET × each row's code sum (what the offset probe adds to its integer score). */
  private rowOffset: Float64Array = new Float64Array(0);
  private rowPerson: Int32Array;
  /** Each row's key at the exact-row source (compact only). */
  private rowKey: Float64Array = new Float64Array(0);
  /** Compact: the rows of person p are personRows[personRowStart[p] .. personRowStart[p + 1]). */
  private personRowStart: Int32Array = new Int32Array(1);
  private personRows: Int32Array = new Int32Array(0);
  /** The principal basis [dim, coarseDim] (compact only). */
  private basis: Float32Array | null = null;
  private personIds: string[] = [];
  private scores: Float32Array;
  /** compact, JS path: the integer coarse scores (reused). */
  private intScores: Int32Array = new Int32Array(0);
  private personBest: Float32Array;
  private personBestRow: Int32Array;
  private rows = 0;
  private session: ort.InferenceSession | null = null;
  private matmulSession: ort.InferenceSession | null = null;
  private coarseSession: ort.InferenceSession | null = null;
  /** The stored rows as onnxruntime's input (exact: the FP32 matrix; compact: the INT8 codes), made on first use. */
  private galleryTensor: ort.Tensor | null = null;
  private readonly exactRows: ExactRows | null;
  private readonly budget: number;
  private readonly coarseDim: number;
  private readonly candidates: number;

  constructor(
    readonly dim: number,
    options: GalleryOptions = {},
  ) {
    if (!Number.isInteger(dim) || dim <= 0) throw new Error(`gallery dimension must be a positive integer, got ${dim}`);
    this.exactRows = options.exactRows ?? null;
    this.budget = options.exactBudgetBytes ?? EXACT_BUDGET_BYTES;
    this.coarseDim = Math.min(dim, options.coarseDim ?? COARSE_DIM);
    this.candidates = options.candidates ?? CANDIDATES;
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

  /** Holds only projected rows (exact rows are read from the source for each search)? */
  get compact(): boolean {
    return this.basis !== null;
  }

  /** Would a gallery of this many rows be compact? */
  private wantsCompact(rows: number): boolean {
    return this.exactRows !== null && rows * this.dim * 4 > this.budget && this.coarseDim < this.dim;
  }

  /**
   * Replaces the contents. Embeddings are copied and normalised; a wrong dimension is an error.
   * A gallery that comes out compact is projected here in JS (slow for 100k rows: prefer
   * loadAsync with the gallery accelerated).
   */
  load(entries: readonly GalleryEntry[]): void {
    if (this.wantsCompact(entries.length)) {
      const sample = this.sampleOf([entries]);
      const basis = principalBasisSync(sample.data, sample.rows, this.dim, this.coarseDim);
      const b = this.compactBuilder(entries.length, basis);
      b.add(entries, (a, n) => matmulJs(a, n, this.dim, basis, this.coarseDim));
      b.finish();
      return;
    }
    this.loadExact(entries);
  }

  /**
   * The same from pages of entries (e.g. read from SQLite page by page: the FP32 rows of a
   * compact gallery are never all in memory at once), `total` rows in all. Projections and the
   * subspace run on onnxruntime when accelerated.
   */
  async loadAsync(pages: Iterable<readonly GalleryEntry[]>, total: number): Promise<void> {
    if (!this.wantsCompact(total)) {
      const all: GalleryEntry[] = [];
      for (const p of pages) for (const e of p) all.push(e);
      this.loadExact(all);
      return;
    }
    // The subspace comes from the first pages (up to SAMPLE_ROWS rows; ids are in enrollment order).
    const it = pages[Symbol.iterator]();
    const head: Array<readonly GalleryEntry[]> = [];
    let headRows = 0;
    while (headRows < SAMPLE_ROWS) {
      const next = it.next();
      if (next.done) break;
      head.push(next.value);
      headRows += next.value.length;
    }
    const sample = this.sampleOf(head);
    const mm = this.matmul();
    // Built aside and swapped in at the end: searches meanwhile see the previous contents.
    const basis = await principalBasis(sample.data, sample.rows, this.dim, this.coarseDim, mm);
    const b = this.compactBuilder(total, basis);
    const project = (a: Float32Array, n: number) => mm(a, n, this.dim, basis, this.coarseDim);
    for (const page of head) await b.addAsync(page, project);
    for (let page = it.next(); !page.done; page = it.next()) await b.addAsync(page.value, project);
    b.finish();
  }

  /** Normalised copies of up to SAMPLE_ROWS rows of the first pages. */
  private sampleOf(pages: ReadonlyArray<readonly GalleryEntry[]>): { data: Float32Array; rows: number } {
    const d = this.dim;
    const rows = Math.min(
      SAMPLE_ROWS,
      pages.reduce((n, p) => n + p.length, 0),
    );
    const all = pages.flat();
    const step = all.length / Math.max(1, rows);
    const data = new Float32Array(rows * d);
    for (let i = 0; i < rows; i++) {
      const e = all[Math.floor(i * step)]!;
      this.checkDim(e);
      const row = data.subarray(i * d, (i + 1) * d);
      row.set(e.embedding);
      l2normalize(row);
    }
    return { data, rows };
  }

  private checkDim(e: GalleryEntry): void {
    if (e.embedding.length !== this.dim) throw new Error(`template of ${e.personId} has ${e.embedding.length} values, the gallery holds ${this.dim}`);
  }

  private matmul(): MatMul {
    const s = this.matmulSession;
    if (!s) return matmulJs;
    return async (a, n, d, b, p) => {
      const r = await s.run({ a: new ort.Tensor('float32', a, [n, d]), b: new ort.Tensor('float32', b, [d, p]) });
      return r.c!.data as Float32Array;
    };
  }

  /** Fills the projected matrix page by page (normalised FP32 copies of one page at a time). */
  private compactBuilder(total: number, basis: Float32Array) {
    const d = this.dim;
    const p = this.coarseDim;
    const personIndex = new Map<string, number>();
    let cap = Math.max(total, 1);
    let codes: Int8Array = new Int8Array(cap * p);
    let scale = new Float32Array(cap);
    let rowPerson = new Int32Array(cap);
    let rowKey = new Float64Array(cap);
    let rows = 0;
    // One staging buffer for every page (normalised FP32 rows on their way to the projection).
    let staging = new Float32Array(0);
    const stage = (page: readonly GalleryEntry[]): Float32Array => {
      if (staging.length < page.length * d) staging = new Float32Array(page.length * d);
      const a = staging.subarray(0, page.length * d);
      page.forEach((e, i) => {
        this.checkDim(e);
        if (e.key === undefined) throw new Error(`template of ${e.personId} has no key: a compact gallery reads exact rows by key`);
        const row = a.subarray(i * d, (i + 1) * d);
        row.set(e.embedding);
        l2normalize(row);
      });
      return a;
    };
    const put = (page: readonly GalleryEntry[], projected: Float32Array): void => {
      if (rows + page.length > cap) {
        const grown = Math.max(cap * 2, rows + page.length);
        codes = relayout(codes, cap, grown, rows, p);
        cap = grown;
        const sc = new Float32Array(cap);
        sc.set(scale);
        scale = sc;
        const rp = new Int32Array(cap);
        rp.set(rowPerson);
        rowPerson = rp;
        const rk = new Float64Array(cap);
        rk.set(rowKey);
        rowKey = rk;
      }
      for (let i = 0; i < page.length; i++) scale[rows + i] = quantizeColumn(projected, i * p, p, codes, rows + i, cap);
      page.forEach((e, i) => {
        let pi = personIndex.get(e.personId);
        if (pi === undefined) personIndex.set(e.personId, (pi = personIndex.size));
        rowPerson[rows + i] = pi;
        rowKey[rows + i] = e.key!;
      });
      rows += page.length;
    };
    return {
      add: (page: readonly GalleryEntry[], project: (a: Float32Array, n: number) => Float32Array): void => {
        if (page.length > 0) put(page, project(stage(page), page.length));
      },
      addAsync: async (page: readonly GalleryEntry[], project: (a: Float32Array, n: number) => Promise<Float32Array> | Float32Array): Promise<void> => {
        if (page.length > 0) put(page, await project(stage(page), page.length));
      },
      finish: (): void => {
        this.basis = basis;
        this.installCompact(
          rows === cap ? codes : relayout(codes, cap, rows, rows, p),
          scale.slice(0, rows),
          rowPerson.slice(0, rows),
          rowKey.slice(0, rows),
          personIndex,
          rows,
        );
      },
    };
  }

  private loadExact(entries: readonly GalleryEntry[]): void {
    this.basis = null;
    this.rowKey = new Float64Array(0);
    this.codes = new Int8Array(0);
    this.rowScale = new Float32Array(0);
    this.rowOffset = new Float64Array(0);
    const personIndex = new Map<string, number>();
    const matrix = new Float32Array(entries.length * this.dim);
    const rowPerson = new Int32Array(entries.length);
    entries.forEach((e, r) => {
      this.checkDim(e);
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
   * gallery this is a memory copy, not a rebuild from the database. A compact gallery keeps its
   * subspace and projects the new rows (their `keys` are needed).
   */
  replacePerson(personId: string, embeddings: readonly Float32Array[], keys?: readonly number[]): void {
    if (this.basis) {
      if ((keys ?? []).length !== embeddings.length) throw new Error('a compact gallery needs the key of every new template');
      this.replaceCompact(personId, embeddings, keys ?? []);
      return;
    }
    const keep: GalleryEntry[] = [];
    const d = this.dim;
    for (let r = 0; r < this.rows; r++) {
      const id = this.personIds[this.rowPerson[r]!]!;
      if (id !== personId) keep.push({ personId: id, embedding: this.matrix.subarray(r * d, (r + 1) * d) });
    }
    embeddings.forEach((e, i) => keep.push({ personId, embedding: e, key: keys?.[i] }));
    this.loadExact(keep);
  }

  private replaceCompact(personId: string, embeddings: readonly Float32Array[], keys: readonly number[]): void {
    const p = this.coarseDim;
    const keepRows: number[] = [];
    for (let r = 0; r < this.rows; r++) if (this.personIds[this.rowPerson[r]!] !== personId) keepRows.push(r);
    const rows = keepRows.length + embeddings.length;
    const codes = new Int8Array(rows * p);
    const scale = new Float32Array(rows);
    const rowPerson = new Int32Array(rows);
    const rowKey = new Float64Array(rows);
    const personIndex = new Map<string, number>();
    const index = (id: string): number => {
      let pi = personIndex.get(id);
      if (pi === undefined) personIndex.set(id, (pi = personIndex.size));
      return pi;
    };
    // The kept rows as runs of consecutive rows: each code column is copied run by run.
    const runs: Array<[from: number, to: number, at: number]> = [];
    keepRows.forEach((r, i) => {
      const last = runs[runs.length - 1];
      if (last && last[1] === r) last[1] = r + 1;
      else runs.push([r, r + 1, i]);
      scale[i] = this.rowScale[r]!;
      rowPerson[i] = index(this.personIds[this.rowPerson[r]!]!);
      rowKey[i] = this.rowKey[r]!;
    });
    for (let k = 0; k < p; k++) for (const [from, to, at] of runs) codes.set(this.codes.subarray(k * this.rows + from, k * this.rows + to), k * rows + at);
    embeddings.forEach((e, j) => {
      this.checkDim({ personId, embedding: e });
      const i = keepRows.length + j;
      scale[i] = quantizeColumn(matmulJs(l2normalize(Float32Array.from(e)), 1, this.dim, this.basis!, p), 0, p, codes, i, rows);
      rowPerson[i] = index(personId);
      rowKey[i] = keys[j]!;
    });
    this.installCompact(codes, scale, rowPerson, rowKey, personIndex, rows);
  }

  /** Makes these INT8 projected rows the compact gallery: its row owners, keys, people and scratch buffers. */
  private installCompact(
    codes: Int8Array,
    rowScale: Float32Array,
    rowPerson: Int32Array,
    rowKey: Float64Array,
    personIndex: Map<string, number>,
    rows: number,
  ): void {
    this.matrix = new Float32Array(0);
    this.codes = codes;
    this.rowScale = rowScale;
    this.rowOffset = Float64Array.from(codeSums(codes, rows, this.coarseDim), (s) => s * COARSE_PROBE_OFFSET);
    this.rowPerson = rowPerson;
    this.rowKey = rowKey;
    this.personIds = [...personIndex.keys()];
    this.rows = rows;
    this.galleryTensor = null;
    this.scores = new Float32Array(rows);
    this.personBest = new Float32Array(this.personIds.length);
    this.personBestRow = new Int32Array(this.personIds.length);
    this.indexPeople();
  }

  /** Each person's rows (CSR), so the re-score can score all of a candidate person's templates. */
  private indexPeople(): void {
    const n = this.personIds.length;
    const start = new Int32Array(n + 1);
    for (let r = 0; r < this.rows; r++) start[this.rowPerson[r]! + 1]!++;
    for (let p = 0; p < n; p++) start[p + 1] = start[p + 1]! + start[p]!;
    const fill = start.slice(0, n);
    const rows = new Int32Array(this.rows);
    for (let r = 0; r < this.rows; r++) rows[fill[this.rowPerson[r]!]!++] = r;
    this.personRowStart = start;
    this.personRows = rows;
  }

  /** Is this person in the gallery? */
  has(personId: string): boolean {
    return this.personIds.includes(personId);
  }

  private normalisedProbe(probe: Float32Array): Float32Array {
    if (probe.length !== this.dim) throw new Error(`probe has ${probe.length} values, the gallery holds ${this.dim}`);
    return l2normalize(Float32Array.from(probe));
  }

  /** Compact: the probe's projection onto the subspace, quantised as the coarse graph reads it. */
  private probeCodes(q: Float32Array): Uint8Array {
    return quantizeProbe(matmulJs(q, 1, this.dim, this.basis!, this.coarseDim));
  }

  /**
   * Compact: the coarse scores in JS, the same integer dot products as the coarse graph (sums of
   * at most 128 × 127 × 255 are exact in an Int32Array), offset removed and scaled alike.
   */
  private coarseAll(pc: Uint8Array): Float32Array {
    const n = this.rows;
    this.intScores = this.intScores.length === n ? this.intScores.fill(0) : new Int32Array(n);
    const acc = this.intScores;
    const codes = this.codes;
    for (let k = 0; k < this.coarseDim; k++) {
      const w = pc[k]!;
      for (let r = 0, base = k * n; r < n; r++) acc[r] = acc[r]! + codes[base + r]! * w;
    }
    return this.scaled(acc);
  }

  /** Coarse integer scores (the JS loop's or the graph's int32 output): offset removed, times each row's scale. */
  private scaled(raw: Int32Array): Float32Array {
    const out = this.scores;
    const scale = this.rowScale;
    const offset = this.rowOffset;
    for (let r = 0; r < this.rows; r++) out[r] = (raw[r]! - offset[r]!) * scale[r]!;
    return out;
  }

  /** Exact: dot product of the normalised probe with every stored row, into a reused buffer. */
  private scoreAll(q: Float32Array): Float32Array {
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

  /** The k best PEOPLE (each by their best template, exact FP32 cosine), best first. Synchronous, scalar JS. */
  search(probe: Float32Array, k = 5): PersonScore[] {
    if (this.rows === 0) return [];
    const q = this.normalisedProbe(probe);
    return this.basis ? this.rescored(q, this.coarseAll(this.probeCodes(q)), k) : this.topPeople(this.scoreAll(q), k);
  }

  /** Compact: the coarse scores of the quantised probe, by the JS loop or by the coarse graph (bit-identical). */
  async coarseScores(probe: Float32Array, engine: 'js' | 'onnx'): Promise<Float32Array> {
    if (!this.basis) throw new Error('coarse scores exist only in a compact gallery');
    const pc = this.probeCodes(this.normalisedProbe(probe));
    if (engine === 'js') return Float32Array.from(this.coarseAll(pc));
    return Float32Array.from(await this.coarseOnnx(pc));
  }

  private async coarseOnnx(pc: Uint8Array): Promise<Float32Array> {
    if (!this.coarseSession) throw new Error('the gallery is not accelerated');
    this.galleryTensor ??= new ort.Tensor('int8', this.codes, [this.coarseDim, this.rows]);
    const res = await this.coarseSession.run({ probe: new ort.Tensor('uint8', pc, [1, this.coarseDim]), codes: this.galleryTensor });
    return this.scaled(res.scores!.data as Int32Array);
  }

  /**
   * Compact: the people owning the CANDIDATES rows with the best coarse scores, every template of
   * theirs read from the source and scored exactly, the k best of them (exact scores: a person's
   * score is their best template, as in an exact gallery).
   */
  private rescored(q: Float32Array, coarse: Float32Array, k: number): PersonScore[] {
    const people = new Set<number>();
    for (const r of topRows(coarse, this.rows, Math.max(this.candidates, k))) people.add(this.rowPerson[r]!);
    const rows: number[] = [];
    for (const p of people) for (let i = this.personRowStart[p]!; i < this.personRowStart[p + 1]!; i++) rows.push(this.personRows[i]!);
    const exact = this.exactRows!(rows.map((r) => this.rowKey[r]!));
    const best = new Map<number, { score: number; row: number }>();
    for (const r of rows) {
      const v = exact.get(this.rowKey[r]!);
      if (!v || v.length !== this.dim) continue; // removed since the gallery was built
      // cosine of the stored row (not necessarily normalised) with the normalised probe
      let dot = 0;
      let norm = 0;
      for (let i = 0; i < this.dim; i++) {
        dot += v[i]! * q[i]!;
        norm += v[i]! * v[i]!;
      }
      const s = norm > 0 ? dot / Math.sqrt(norm) : 0;
      const p = this.rowPerson[r]!;
      const b = best.get(p);
      if (!b || s > b.score) best.set(p, { score: s, row: r });
    }
    return [...best.entries()]
      .map(([p, b]) => ({ personId: this.personIds[p]!, score: b.score, row: b.row }))
      .sort((a, b) => b.score - a.score)
      .slice(0, k);
  }

  /**
   * Loads the GEMV session (once): afterwards searchAsync/matchAsync score large galleries
   * with onnxruntime's vectorised MatMul on its own threads. The graph is the manifest's
   * `search` model (scores[N,1] = gallery[N,D] · probe[D,1], N and D symbolic), checked
   * against its sha256 like every model file.
   */
  async accelerate(threads = 1, modelsDir = defaultModelsDir()): Promise<void> {
    if (this.session) return;
    const manifest = loadModelManifest(modelsDir);
    const entry = modelFor(manifest, 'search');
    const mm = modelFor(manifest, 'search', GALLERY_MATMUL);
    const coarse = modelFor(manifest, 'search', GALLERY_COARSE);
    verifyModels(modelsDir, [entry.id, mm.id, coarse.id]);
    const so = sessionOptions({ intraOpThreads: threads });
    this.session = await ort.InferenceSession.create(join(modelsDir, entry.file), so);
    this.matmulSession = await ort.InferenceSession.create(join(modelsDir, mm.file), so);
    this.coarseSession = await ort.InferenceSession.create(join(modelsDir, coarse.file), so);
  }

  get accelerated(): boolean {
    return this.session !== null;
  }

  async searchAsync(probe: Float32Array, k = 5): Promise<PersonScore[]> {
    if (this.rows === 0) return [];
    if (!this.session || this.rows < ACCELERATE_MIN_ROWS) return this.search(probe, k);
    const q = this.normalisedProbe(probe);
    if (this.basis) return this.rescored(q, await this.coarseOnnx(this.probeCodes(q)), k);
    this.galleryTensor ??= new ort.Tensor('float32', this.matrix, [this.rows, this.dim]);
    const res = await this.session.run({ gallery: this.galleryTensor, probe: new ort.Tensor('float32', q, [this.dim, 1]) });
    return this.topPeople(res.scores!.data as Float32Array, k);
  }

  async matchAsync(probe: Float32Array, threshold: number, margin: number): Promise<MatchResult> {
    return decide(await this.searchAsync(probe, 2), threshold, margin);
  }

  async release(): Promise<void> {
    const s = [this.session, this.matmulSession, this.coarseSession];
    this.session = null;
    this.matmulSession = null;
    this.coarseSession = null;
    for (const x of s) await x?.release().catch(() => {});
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

/** The manifest id of the general MatMul graph (models/tools/galleryMatmul.ts). */
export const GALLERY_MATMUL = 'gallery-matmul';

/** Indices of the (up to) k largest of scores[0..n), in no particular order. */
export function topRows(scores: Float32Array, n: number, k: number): number[] {
  if (n <= k) return Array.from({ length: n }, (_, i) => i);
  const val = new Float32Array(k);
  const idx = new Int32Array(k);
  for (let i = 0; i < k; i++) {
    val[i] = scores[i]!;
    idx[i] = i;
  }
  let min = 0;
  for (let i = 1; i < k; i++) if (val[i]! < val[min]!) min = i;
  let floor = val[min]!;
  for (let r = k; r < n; r++) {
    const s = scores[r]!;
    if (s <= floor) continue;
    val[min] = s;
    idx[min] = r;
    min = 0;
    for (let i = 1; i < k; i++) if (val[i]! < val[min]!) min = i;
    floor = val[min]!;
  }
  return Array.from(idx);
}

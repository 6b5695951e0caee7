/**
 * `npm run bench -- --only gallery`: the 1:N search at 512-d (the default embedder's templates)
 * for 1k, 10k and 100k templates (two per person), through the real PeopleRegistry on a real
 * SQLite database, each size measured in a FRESH process (so its RSS is the gallery's, not the
 * seeding's). Data: synthetic people clustered around real MobileFaceNet-512 embeddings of LFW
 * photos (galleryData.ts); probes half new captures of enrolled people, half real faces.
 * Recall: the share of probes whose best person (and runner-up) equals the exact FP32 search's.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventBus } from '../events.js';
import { Gallery } from '../gallery/gallery.js';
import { createLogger } from '../logging.js';
import { PeopleRegistry } from '../registry/peopleRegistry.js';
import { Store } from '../store/store.js';
import { percentile, round2 } from '../util/stats.js';
import { clusteredGallery, lfwEmbeddings, probesFor, seedGallery } from './galleryData.js';
import type { BenchContext, BenchResult, BenchSection } from './main.js';

const SIZES: Array<[label: string, templates: number, probes: number]> = [
  ['1k', 1_000, 200],
  ['10k', 10_000, 200],
  ['100k', 100_000, 1_000],
];
/** A threshold and margin that make every probe a real decision (the scores only matter here). */
const THRESHOLD = 0.5;
const MARGIN = 0.05;

interface ChildResult {
  ms: number[];
  rssMb: number;
  compact: boolean;
  loadMs: number;
  top: Array<[string | null, string | null]>;
}

/** In the fresh process: open the database, start the registry (gallery built as blinkd builds it), time match(). */
async function child(dbFile: string, probesFile: string, modelId: string, dim: number): Promise<ChildResult> {
  const store = Store.open(dbFile);
  const registry = new PeopleRegistry(store, store.audit, new EventBus(), createLogger('warn', 2), () => ({ id: modelId, dim }));
  const t0 = performance.now();
  await registry.start();
  const loadMs = performance.now() - t0;
  // Raw little-endian float32, `dim` values per probe (no JSON text on this process's heap).
  const raw = readFileSync(probesFile);
  const all = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const probes = Array.from({ length: all.length / dim }, (_, i) => all.subarray(i * dim, (i + 1) * dim));
  for (let i = 0; i < 10; i++) await registry.match(probes[i % probes.length]!, THRESHOLD, MARGIN);
  const ms: number[] = [];
  const top: ChildResult['top'] = [];
  for (const p of probes) {
    const a = performance.now();
    const m = await registry.match(p, THRESHOLD, MARGIN);
    ms.push(performance.now() - a);
    top.push([m.personId, m.secondPersonId]);
  }
  const rssMb = round2(process.memoryUsage().rss / (1024 * 1024));
  const compact = (registry as unknown as { gallery: Gallery }).gallery.compact;
  await registry.stop();
  store.close();
  return { ms, rssMb, compact, loadMs, top };
}

function runChild(ctx: BenchContext, args: string[]): Promise<ChildResult> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.on('error', rej);
    p.on('exit', (code) => {
      if (code !== 0) rej(new Error(`gallery bench child exited with ${code}`));
      else res(JSON.parse(out) as ChildResult);
    });
    ctx.log(`gallery: child ${p.pid} for ${args[0]}`);
  });
}

export const gallerySection: BenchSection = {
  name: 'gallery',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const real = await lfwEmbeddings(400);
    ctx.log(`gallery: ${real.faces.length} real ${real.dim}-d faces (${real.modelId})`);
    const out: BenchResult = {
      gallery_data: `synthetic people clustered around ${real.faces.length} real ${real.modelId} embeddings of LFW photos, 2 templates each; probes half new captures, half real faces`,
    };
    for (const [label, n, nProbes] of SIZES) {
      const dir = mkdtempSync(join(tmpdir(), 'blink-bench-gallery-'));
      try {
        const g = clusteredGallery(real, n / 2, 2);
        const probes = probesFor(real, g, nProbes);
        const store = Store.open(join(dir, 'gallery.db'));
        const ids = seedGallery(store, real.modelId, g);
        store.close();
        // The exact answer: every FP32 row in memory, scored by the FP32 GEMV.
        const exact = new Gallery(real.dim);
        exact.load(g.templates.map((embedding, i) => ({ personId: ids[g.templatePerson[i]!]!, embedding })));
        await exact.accelerate(1);
        const truth: Array<[string | undefined, string | undefined]> = [];
        for (const p of probes) {
          const t = await exact.searchAsync(p, 2);
          truth.push([t[0]?.personId, t[1]?.personId]);
        }
        await exact.release();
        const probesFile = join(dir, 'probes.f32');
        const flat = new Float32Array(probes.length * real.dim);
        probes.forEach((p, i) => flat.set(p, i * real.dim));
        writeFileSync(probesFile, Buffer.from(flat.buffer));
        const r = await runChild(ctx, [join(dir, 'gallery.db'), probesFile, real.modelId, String(real.dim)]);
        const top1 = truth.filter((t, i) => t[0] === r.top[i]![0]).length / truth.length;
        const top2 = truth.filter((t, i) => t[0] === r.top[i]![0] && t[1] === r.top[i]![1]).length / truth.length;
        const k = `${label}_512`;
        out[`match_${k}_ms_p50`] = round2(percentile(r.ms, 50));
        out[`match_${k}_ms_p95`] = round2(percentile(r.ms, 95));
        out[`rss_${k}_mb`] = r.rssMb;
        out[`match_${k}_recall_top1`] = round2(top1 * 10000) / 10000;
        out[`match_${k}_recall_top2`] = round2(top2 * 10000) / 10000;
        out[`gallery_${k}_compact`] = r.compact;
        out[`gallery_${k}_load_ms`] = round2(r.loadMs);
        out[`gallery_${k}_probes`] = nProbes;
        ctx.log(`gallery ${label}: p50 ${out[`match_${k}_ms_p50`]} ms, rss ${r.rssMb} MB, top1 ${top1}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    return out;
  },
};

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1]) && process.argv[2] === '--child') {
  const [db, probes, modelId, dim] = process.argv.slice(3);
  child(db!, probes!, modelId!, Number(dim)).then(
    (r) => process.stdout.write(JSON.stringify(r)),
    (err: unknown) => {
      process.stderr.write(`gallery bench child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}

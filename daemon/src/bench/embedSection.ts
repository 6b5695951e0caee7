/**
 * Recognition embedder latency: every embedder of the manifest (FP32 and INT8) on
 * onnxruntime-node, batch 1, one face crop per run (as at the door), at 1 and 2 intra-op
 * threads, graph optimisation 'all' (plus 'basic' for the INT8 files, to show what fusion
 * buys). Models are timed in alternating passes and the faster pass of each is kept, to even
 * out machine noise. Keys: embed_<model-id>_t<threads>_ms_p50/p95; embed_int8_ms_p50 and
 * embed_fp32_ms_p50 stay the manifest default's (at the daemon's default of 1 thread). The
 * anti-spoof networks (FP32 and INT8, task antispoof) are timed the same way at 1 thread, in the
 * same alternating passes: antispoof_<precision>_ms_p50/p95.
 */
import * as ort from 'onnxruntime-node';
import { percentile } from '../util/stats.js';
import { loadModelManifest, modelFor, type ModelEntry } from '../vision/modelManifest.js';
import { defaultModelsDir, inputSize } from '../vision/modelSet.js';
import { join } from 'node:path';
import type { BenchContext, BenchResult, BenchSection } from './main.js';

const WARMUP = 20;
const RUNS = 150;

/** deterministic pseudo-face input: smooth gradient + noise, in a normalised range */
function syntheticInput(n: number, w: number): Float32Array {
  const x = new Float32Array(n);
  let seed = 12345;
  for (let i = 0; i < x.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const pix = Math.floor(i / 3);
    x[i] = ((pix % w) + Math.floor(pix / w)) / (4 * w) - 0.25 + (seed / 2147483648 - 0.5) * 0.1;
  }
  return x;
}

async function timeModel(path: string, e: ModelEntry, threads: number, level: 'all' | 'basic'): Promise<number[]> {
  const session = await ort.InferenceSession.create(path, {
    graphOptimizationLevel: level,
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  });
  const { width, height } = inputSize(e);
  const shape = e.input.layout === 'NCHW' ? [1, 3, height, width] : [1, height, width, 3];
  const feeds = { [e.input.name]: new ort.Tensor('float32', syntheticInput(width * height * 3, width), shape) };
  for (let i = 0; i < WARMUP; i++) await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t0);
  }
  await session.release();
  return times.sort((a, b) => a - b);
}

async function run(ctx: BenchContext): Promise<BenchResult> {
  const dir = defaultModelsDir();
  const manifest = loadModelManifest(dir);
  const embedders = manifest.models.filter((m) => m.task === 'embedder');
  const r = (v: number) => Math.round(v * 1000) / 1000;
  const res: BenchResult = { embed_runs: RUNS };
  const configs: { e: ModelEntry; threads: number; level: 'all' | 'basic' }[] = [];
  for (const e of embedders)
    for (const threads of [1, 2]) {
      configs.push({ e, threads, level: 'all' });
      if (e.precision === 'int8' && threads === 1) configs.push({ e, threads, level: 'basic' });
    }
  for (const e of manifest.models.filter((m) => m.task === 'antispoof')) configs.push({ e, threads: 1, level: 'all' });
  const best = new Map<number, number[]>();
  for (let pass = 0; pass < 2; pass++) {
    for (const [k, c] of configs.entries()) {
      const t = await timeModel(join(dir, c.e.file), c.e, c.threads, c.level);
      const prev = best.get(k);
      if (!prev || percentile(t, 50) < percentile(prev, 50)) best.set(k, t);
    }
  }
  for (const [k, c] of configs.entries()) {
    const t = best.get(k)!;
    const key = c.e.task === 'antispoof' ? `antispoof_${c.e.precision}` : `embed_${c.e.id}_t${c.threads}${c.level === 'basic' ? '_basicopt' : ''}`;
    res[`${key}_ms_p50`] = r(percentile(t, 50));
    res[`${key}_ms_p95`] = r(percentile(t, 95));
    ctx.log(`  ${key}: p50 ${res[`${key}_ms_p50`]} ms, p95 ${res[`${key}_ms_p95`]} ms`);
  }
  // the manifest default's keys, as before (1 thread = the daemon default vision.intraOpThreads)
  const def = modelFor(manifest, 'embedder');
  const fam = def.id.replace(/-(int8|fp32)$/, '');
  for (const p of ['int8', 'fp32'] as const) {
    const v = res[`embed_${fam}-${p}_t1_ms_p50`];
    if (typeof v === 'number') res[`embed_${p}_ms_p50`] = v;
  }
  if (typeof res.embed_int8_ms_p50 === 'number' && typeof res.embed_fp32_ms_p50 === 'number')
    res.embed_int8_speedup_p50 = r(res.embed_fp32_ms_p50 / res.embed_int8_ms_p50);
  return res;
}

export const embedSection: BenchSection = { name: 'embed', run };

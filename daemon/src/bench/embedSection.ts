/**
 * Recognition embedder latency: INT8 (QDQ) vs FP32 ONNX of face-api's ResNet on onnxruntime-node,
 * batch 1, same session options for both, one face crop per run (as at the door).
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { percentile } from '../util/stats.js';
import type { BenchContext, BenchResult, BenchSection } from './main.js';

const WARMUP = 20;
const RUNS = 200;

/** deterministic pseudo-face input: smooth gradient + noise in face-api's normalised range */
function syntheticInput(): Float32Array {
  const x = new Float32Array(150 * 150 * 3);
  let seed = 12345;
  for (let i = 0; i < x.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const pix = Math.floor(i / 3);
    x[i] = ((pix % 150) + Math.floor(pix / 150)) / 600 - 0.25 + (seed / 2147483648 - 0.5) * 0.1;
  }
  return x;
}

async function timeModel(path: string, input: Float32Array, threads: number): Promise<number[]> {
  const session = await ort.InferenceSession.create(path, {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
  const feeds = { input: new ort.Tensor('float32', input, [1, 150, 150, 3]) };
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
  const dir = join(ctx.repoRoot, 'models', 'onnx');
  const input = syntheticInput();
  const threads = Math.max(1, cpus().length);
  // alternate the two models twice to even out machine noise; keep the faster pass of each
  let fp32: number[] = [];
  let int8: number[] = [];
  for (let pass = 0; pass < 2; pass++) {
    const a = await timeModel(join(dir, 'embedder-faceapi-resnet.fp32.onnx'), input, threads);
    const b = await timeModel(join(dir, 'embedder-faceapi-resnet.int8.onnx'), input, threads);
    if (!fp32.length || percentile(a, 50) < percentile(fp32, 50)) fp32 = a;
    if (!int8.length || percentile(b, 50) < percentile(int8, 50)) int8 = b;
  }
  const r = (v: number) => Math.round(v * 1000) / 1000;
  const res: BenchResult = {
    embed_threads: threads,
    embed_runs: RUNS,
    embed_fp32_ms_p50: r(percentile(fp32, 50)),
    embed_fp32_ms_p95: r(percentile(fp32, 95)),
    embed_int8_ms_p50: r(percentile(int8, 50)),
    embed_int8_ms_p95: r(percentile(int8, 95)),
  };
  res.embed_int8_speedup_p50 = r(percentile(fp32, 50) / percentile(int8, 50));
  ctx.log(`  fp32 p50 ${res.embed_fp32_ms_p50} ms, int8 p50 ${res.embed_int8_ms_p50} ms, speed-up ${res.embed_int8_speedup_p50}x`);
  return res;
}

export const embedSection: BenchSection = { name: 'embed', run };

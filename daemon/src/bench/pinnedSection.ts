/**
 * Predicting the door hardware from this machine (issue: "numbers that predict a Pi").
 *
 *   frame_1core_ms_p50   the whole frame (vision section's frame and pipeline) in a child process
 *                        pinned to one core with `taskset -c 0`: what one Pi core would have to do.
 *   instructions_per_frame
 *                        `perf stat -e instructions` where the CPU exposes counters; this VM does
 *                        not (perf prints "<not supported>"), so valgrind's callgrind counts them
 *                        instead (repeatable whatever else runs): two runs of the child, with K and
 *                        with 0 counted frames after the same warm-up, differenced and divided by K.
 *   sysbench_cpu_events_per_s
 *                        `sysbench cpu --threads=1 --time=10 run` pinned to one core: a scalar
 *                        reference with published Raspberry Pi numbers (PI_REFERENCE below).
 *   pi4_frame_ms_estimate, pi5_frame_ms_estimate
 *                        the 1-core frame scaled by the measured sysbench ratio (scalar speed per
 *                        core); this is a LOWER bound on the Pi's time: the networks run in SIMD
 *                        kernels, where this machine's AVX-512 VNNI does 4–8× more int8
 *                        multiply-accumulates per cycle than a Cortex-A76 (NEON dot product) or a
 *                        Cortex-A72 (no dot product). pi*_frame_ms_estimate_simd scales the
 *                        whole frame by that throughput ratio instead (upper estimate: most of
 *                        the frame is network time). docs/BENCHMARKS.md states the method and its sources; the
 *                        hardware rows there replace both once a Pi has run the bench.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { round2 } from '../util/stats.js';
import type { FrameLoopResult } from './frameLoop.js';
import type { BenchContext, BenchResult, BenchSection } from './main.js';

const run = promisify(execFile);

/**
 * Published single-thread `sysbench cpu` (default --cpu-max-prime=10000, 10 s) on Raspberry Pi OS
 * 64-bit, no overclock: Pi 4 (Cortex-A72, 1.8 GHz) 812 events/s, Pi 5 (Cortex-A76, 2.4 GHz)
 * 1,847 events/s (zbotic.in, "Raspberry Pi 5 Benchmarks: Real Performance Numbers vs Pi 4").
 * int8 MAC throughput per core relative to this machine (AVX-512 VNNI, 64 MAC/instruction):
 * A76 SDOT 2×16 MAC/cycle at 2.4 GHz, A72 widening multiply-accumulate ≈ 2×8 at 1.8 GHz — an
 * assumption from the cores' published pipelines, to be replaced by hardware measurements.
 */
export const PI_REFERENCE = {
  pi4: { sysbench: 812, simdSlowdown: 8 },
  pi5: { sysbench: 1847, simdSlowdown: 3 },
} as const;

/**
 * Frames counted against a run of none. Callgrind's totals for the same run (start-up, model
 * load, warm-up) moved by hundreds of millions of instructions between runs on 2026-12-03, more
 * than 5 frames' share (a 5-vs-0 pair once gave 1.6 M per frame, another 95 M), so the counted
 * run must hold enough frames to dwarf that.
 */
const COUNTED_FRAMES = 20;
const WARMUP = 5;

async function has(cmd: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
}

async function pinnedFrames(loop: string): Promise<FrameLoopResult> {
  const { stdout } = await run('taskset', ['-c', '0', process.execPath, loop, '--frames', '100', '--warmup', '15'], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim()) as FrameLoopResult;
}

async function perfInstructions(loop: string, frames: number): Promise<number | null> {
  const r = await run('perf', ['stat', '-x', ',', '-e', 'instructions:u', process.execPath, loop, '--frames', String(frames), '--warmup', String(WARMUP)], {
    maxBuffer: 1 << 20,
  }).catch((err: { stderr?: string }) => ({ stderr: err.stderr ?? '' }));
  const line = r.stderr.split('\n').find((l) => l.includes('instructions'));
  const n = line ? Number(line.split(',')[0]) : NaN;
  return Number.isFinite(n) && n > 0 ? n : null;
}

async function callgrindInstructions(loop: string, frames: number): Promise<number> {
  const { stderr } = await run(
    'valgrind',
    ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, loop, '--frames', String(frames), '--warmup', String(WARMUP)],
    { maxBuffer: 16 << 20 },
  );
  const m = /Collected\s*:\s*(\d+)/.exec(stderr);
  if (!m) throw new Error('callgrind printed no "Collected" total');
  return Number(m[1]);
}

async function sysbenchEvents(): Promise<number | null> {
  if (!(await has('sysbench'))) return null;
  const { stdout } = await run('taskset', ['-c', '0', 'sysbench', 'cpu', '--threads=1', '--time=10', 'run']);
  const m = /events per second:\s*([\d.]+)/.exec(stdout);
  return m ? Number(m[1]) : null;
}

export const pinnedSection: BenchSection = {
  name: 'pinned',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const loop = join(ctx.repoRoot, 'dist', 'daemon', 'src', 'bench', 'frameLoop.js');
    const out: BenchResult = {};
    if (!(await has('taskset'))) throw new Error('taskset (util-linux) is needed for the one-core frame');
    const pinned = await pinnedFrames(loop);
    if (pinned.faces !== 1) throw new Error(`the pinned frame should hold one face, the pipeline found ${pinned.faces}`);
    out.frame_1core_ms_p50 = pinned.frame_ms_p50;
    out.frame_1core_ms_p95 = pinned.frame_ms_p95;
    ctx.log(`pinned: 1-core frame p50 ${pinned.frame_ms_p50} ms`);

    let method = 'none: neither perf counters nor valgrind';
    let perFrame: number | null = null;
    const perfK = (await has('perf')) ? await perfInstructions(loop, COUNTED_FRAMES) : null;
    if (perfK !== null) {
      const perf0 = await perfInstructions(loop, 0);
      if (perf0 !== null) {
        perFrame = (perfK - perf0) / COUNTED_FRAMES;
        method = `perf stat -e instructions:u, ${COUNTED_FRAMES} frames minus 0 frames`;
      }
    }
    if (perFrame === null && (await has('valgrind'))) {
      ctx.log(`pinned: perf has no instruction counter here; counting with callgrind (${COUNTED_FRAMES} and 0 frames, a few minutes)`);
      const k = await callgrindInstructions(loop, COUNTED_FRAMES);
      const z = await callgrindInstructions(loop, 0);
      perFrame = (k - z) / COUNTED_FRAMES;
      out.instructions_totals = `${k} with ${COUNTED_FRAMES} frames, ${z} with 0`;
      // valgrind's virtual CPU has no AVX-512, so onnxruntime runs its AVX2 kernels under it: the
      // count is for those, not for the AVX-512 VNNI kernels the timed runs use.
      method = `valgrind --tool=callgrind (perf stat: no hardware counters in this VM; AVX2 kernels under valgrind), ${COUNTED_FRAMES} frames minus 0 frames after ${WARMUP} warm-up`;
    }
    out.instructions_per_frame = perFrame === null ? null : Math.round(perFrame);
    out.instructions_method = method;

    const events = await sysbenchEvents();
    out.sysbench_cpu_events_per_s = events;
    const frame = pinned.frame_ms_p50;
    if (events !== null && frame !== null) {
      for (const [pi, ref] of Object.entries(PI_REFERENCE)) {
        const scalar = events / ref.sysbench;
        out[`${pi}_frame_ms_estimate`] = round2(frame * scalar);
        out[`${pi}_frame_ms_estimate_simd`] = round2(frame * Math.max(scalar, ref.simdSlowdown));
      }
    }
    out.pi_estimate_method =
      'frame_1core × (sysbench events/s here ÷ published Pi sysbench events/s) as the scalar lower bound; × max(that, int8 SIMD throughput ratio) as the upper estimate (docs/BENCHMARKS.md)';
    return out;
  },
};

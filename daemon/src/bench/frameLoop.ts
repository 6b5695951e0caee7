/**
 * A child process that times the whole frame on its own, for the benches that must control the
 * process from outside: pinned to one core (`taskset -c 0`) or counted by an instruction counter
 * (valgrind's callgrind where `perf stat` has no hardware counters). It runs the same pipeline and
 * the same 640×480 one-face frame as the vision section, one intra-op thread, as the vision worker
 * runs a camera stream (faces tracked from the previous mesh, the detector on its schedule:
 * `frame_tracked_ms_p50` of the vision section).
 *
 *   node dist/daemon/src/bench/frameLoop.js --frames N [--warmup W]
 *
 * Prints one JSON line: { frames, faces, frame_ms_p50, frame_ms_p95 }.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FacePipeline } from '../vision/pipeline.js';
import { percentile, round2 } from '../util/stats.js';
import { benchFrame, streamBench } from './visionSection.js';

export interface FrameLoopResult {
  frames: number;
  faces: number;
  frame_ms_p50: number | null;
  frame_ms_p95: number | null;
}

function intArg(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(argv[i + 1]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be a whole number ≥ 0, got ${argv[i + 1] ?? '(nothing)'}`);
  return v;
}

export async function frameLoop(frames: number, warmup: number): Promise<FrameLoopResult> {
  const pipeline = await FacePipeline.create({ precision: 'int8', intraOpThreads: 1, interOpThreads: 1 });
  try {
    // the vision section's stream loop: it throws when a counted frame does not hold the one face
    const ms = (await streamBench(pipeline, await benchFrame(), 1, { warmup, runs: frames })).frameMs;
    return {
      frames,
      faces: 1,
      frame_ms_p50: ms.length ? round2(percentile(ms, 50)) : null,
      frame_ms_p95: ms.length ? round2(percentile(ms, 95)) : null,
    };
  } finally {
    await pipeline.release();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const argv = process.argv.slice(2);
  frameLoop(intArg(argv, '--frames', 100), intArg(argv, '--warmup', 15))
    .then((r) => process.stdout.write(`${JSON.stringify(r)}\n`))
    .catch((err: unknown) => {
      process.stderr.write(`frame loop failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}

import { availableParallelism } from 'node:os';
import type { Config } from '../config/schema.js';
import { defaultModelsDir } from './modelSet.js';
import type { PipelineOptions } from './pipeline.js';

/**
 * `vision.intraOpThreads`: `auto` is 1 thread per model below 4 cores and 2 from 4 cores. On 2
 * cores, 2 threads measured 11.3 vs 7.5 ms per tracked frame while another process kept a core
 * busy (a unit's camera, admin and database do), and 6.3 vs 7.5 ms with the core free — the
 * situation of a 4-core Pi whose vision worker has two cores to itself (docs/BENCHMARKS.md).
 */
export function intraOpThreads(setting: Config['vision']['intraOpThreads'], cores = availableParallelism()): number {
  return setting === 'auto' ? (cores >= 4 ? 2 : 1) : setting;
}

/**
 * The face pipeline's options from the `vision` section: the one translation, used by the door's
 * vision worker, the admin's enrollment worker and the CLI. `passive` loads the anti-spoof and
 * liveness networks and MiniFASNet (the door always computes their scores — MiniFASNet decides with
 * access.liveness.pad, the others are the evidence for calibrating access.liveness.passive;
 * enrollment does not need them).
 */
export function pipelineOptions(v: Config['vision'], o: { passive: boolean; interOpThreads?: number }): PipelineOptions {
  return {
    modelsDir: v.modelsDir || defaultModelsDir(),
    recognitionModel: v.recognitionModel,
    precision: v.precision,
    detector: v.detector,
    clahe: v.clahe,
    intraOpThreads: intraOpThreads(v.intraOpThreads),
    interOpThreads: o.interOpThreads ?? v.interOpThreads,
    antispoof: o.passive,
    liveness: o.passive,
    // MiniFASNet (access.liveness.pad): the door's presentation-attack score
    pad: o.passive,
  };
}

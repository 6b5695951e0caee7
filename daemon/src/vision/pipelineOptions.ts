import type { Config } from '../config/schema.js';
import { defaultModelsDir } from './modelSet.js';
import type { PipelineOptions } from './pipeline.js';

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
    intraOpThreads: v.intraOpThreads,
    interOpThreads: o.interOpThreads ?? v.interOpThreads,
    antispoof: o.passive,
    liveness: o.passive,
    // MiniFASNet (access.liveness.pad): the door's presentation-attack score
    pad: o.passive,
  };
}

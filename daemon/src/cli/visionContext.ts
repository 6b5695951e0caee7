import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { Store } from '../store/store.js';
import { defaultModelsDir } from '../vision/modelSet.js';
import { FacePipeline } from '../vision/pipeline.js';

/** Config, store and an in-process vision pipeline for the enroll / identify CLI commands. */
export async function openVision(
  configPath: string | undefined,
  passive = false,
): Promise<{ config: Config; store: Store; pipeline: FacePipeline; close: () => Promise<void> }> {
  const { config } = loadConfig({ path: configPath });
  const v = config.vision;
  const pipeline = await FacePipeline.create({
    modelsDir: v.modelsDir || defaultModelsDir(),
    recognitionModel: v.recognitionModel,
    precision: v.precision,
    detector: v.detector,
    clahe: v.clahe,
    intraOpThreads: v.intraOpThreads,
    interOpThreads: v.interOpThreads,
    antispoof: passive,
    liveness: passive,
  });
  const store = Store.fromConfig(config);
  return {
    config,
    store,
    pipeline,
    close: async () => {
      store.close();
      await pipeline.release();
    },
  };
}

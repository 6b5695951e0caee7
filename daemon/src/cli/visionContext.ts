import { loadEffectiveConfig } from '../config/effective.js';
import type { Config } from '../config/schema.js';
import { EventBus } from '../events.js';
import { createLogger } from '../logging.js';
import { PeopleRegistry } from '../registry/peopleRegistry.js';
import { Store } from '../store/store.js';
import { operatingPointsFor, type OperatingPoints } from '../access/operatingPoint.js';
import { FacePipeline } from '../vision/pipeline.js';
import { pipelineOptions } from '../vision/pipelineOptions.js';

export interface VisionContext {
  config: Config;
  store: Store;
  registry: PeopleRegistry;
  pipeline: FacePipeline;
  /** The threshold and margin the door would use (this embedder, this gallery, access.securityLevel). */
  operatingPoint: OperatingPoints;
  close(): Promise<void>;
}

/**
 * The effective configuration, the store, the people registry (its gallery built for the
 * pipeline's embedder) and an in-process pipeline, for the enroll / identify commands. A running
 * unit notices what these commands change within seconds (registry revision).
 */
export async function openVision(configPath: string | undefined, passive = false): Promise<VisionContext> {
  const { config } = loadEffectiveConfig({ path: configPath });
  const pipeline = await FacePipeline.create(pipelineOptions(config.vision, { passive }));
  const store = Store.fromConfig(config);
  const registry = new PeopleRegistry(store, store.audit, new EventBus(), createLogger('warn'), () => null, config.unit.id);
  registry.activate(pipeline.embedderId(), pipeline.embeddingDim);
  return {
    config,
    store,
    registry,
    pipeline,
    operatingPoint: operatingPointsFor(config, registry),
    close: async () => {
      store.close();
      await pipeline.release();
    },
  };
}

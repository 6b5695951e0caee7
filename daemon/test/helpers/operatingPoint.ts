import { loadCalibration, operatingPoint, type SecurityLevel } from '../../src/access/operatingPoint.js';
import { parseConfig } from '../../src/config/load.js';
import { configuredEmbedder, defaultModelsDir } from '../../src/vision/modelSet.js';

/** The default configuration's embedder (manifest id), as blinkd resolves it. */
export function defaultEmbedderId(): string {
  return configuredEmbedder(parseConfig({}, 'defaults').vision).id;
}

/** The threshold the door uses with the default embedder for `people` enrolled at a security level (access/operatingPoint.ts). */
export function doorThreshold(people: number, level: SecurityLevel = 'standard', model = defaultEmbedderId()): number {
  return operatingPoint(loadCalibration(defaultModelsDir(), model), { level, people }).threshold;
}

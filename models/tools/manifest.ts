/**
 * models/manifest.json: what each shipped model is, where it came from, and its runtime
 * contract. Written with a fixed key order so rebuilds are byte-identical.
 */
import { createHash } from 'node:crypto';
import type { Normalization, Task } from './catalog.js';
import type { ValueInfo } from './onnxProto.js';
import type { ModelTensorSpec as TensorSpec } from '../../daemon/src/vision/modelManifest.js';

export type { TensorSpec };

export interface ManifestEntry {
  id: string;
  task: Task;
  precision: 'fp32' | 'int8';
  file: string;
  sha256: string;
  bytes: number;
  source: {
    kind: 'npm' | 'user';
    package?: string;
    version?: string;
    tarball?: string;
    integrity?: string;
    files?: { path: string; sha256: string }[];
    calibration?: { path: string; sha256: string };
    quantizedFrom?: string;
  };
  input: TensorSpec;
  outputs: TensorSpec[];
  normalization: Normalization;
  licence: string;
  notes: string;
}

export interface Manifest {
  schema: 1;
  opset: number;
  defaults: Partial<Record<Task, string>>;
  models: ManifestEntry[];
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function tensorSpecs(vs: ValueInfo[], layout?: 'NHWC'): TensorSpec[] {
  return vs.map((v) => ({
    name: v.name,
    shape: (v.shape ?? []).map((d) => (typeof d === 'number' ? d : -1)),
    dtype: 'float32',
    ...(layout ? { layout } : {}),
  }));
}

export function serializeManifest(m: Manifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

import type { PipelineOptions } from '../vision/pipeline.js';
import type { EnrollRequest, EnrollResult } from '../vision/enroller.js';
import type { Box, FaceQuality } from '../vision/types.js';

/** Messages between the admin (main thread) and its enrollment worker. */
export type ToEnrollWorker =
  | { type: 'init'; pipeline: PipelineOptions; dbFile: string }
  | { type: 'enroll'; id: number; threshold: number; request: EnrollRequest }
  | { type: 'embed'; id: number; data: Uint8Array }
  | { type: 'analyze'; id: number; data: Uint8Array }
  | { type: 'close' };

export type FromEnrollWorker =
  | { type: 'ready'; embedder: string; precision: string }
  | { type: 'enrolled'; id: number; result: EnrollResult }
  | { type: 'embedded'; id: number; embedding: Float32Array; modelId: string; precision: string }
  | { type: 'analyzed'; id: number; width: number; height: number; faces: Array<{ box: Box; quality: FaceQuality }> }
  | { type: 'error'; id: number | null; kind: string | null; message: string; imageIndex: number | null; details: Record<string, unknown> };

import type { PipelineOptions } from '../vision/pipeline.js';
import type { AnalyzedImage } from '../vision/enroller.js';
import type { Box, FaceQuality } from '../vision/types.js';

/** Messages between the admin (main thread) and its enrollment worker. The worker only analyses: it holds no database. */
export type ToEnrollWorker =
  | { type: 'init'; pipeline: PipelineOptions }
  | { type: 'analyze_photos'; id: number; images: Array<{ name: string; data: Uint8Array }> }
  | { type: 'embed'; id: number; data: Uint8Array }
  | { type: 'embed_chips'; id: number; chips: Uint8Array[] }
  | { type: 'assess'; id: number; data: Uint8Array }
  | { type: 'close' };

export type FromEnrollWorker =
  | { type: 'ready'; embedder: string; precision: string }
  | { type: 'photos_analyzed'; id: number; modelId: string; faces: AnalyzedImage[] }
  | { type: 'embedded'; id: number; embedding: Float32Array; modelId: string; precision: string }
  | { type: 'chips_embedded'; id: number; embeddings: Float32Array[]; modelId: string }
  | { type: 'assessed'; id: number; width: number; height: number; faces: Array<{ box: Box; quality: FaceQuality }> }
  | { type: 'error'; id: number | null; kind: string | null; message: string; imageIndex: number | null; details: Record<string, unknown> };

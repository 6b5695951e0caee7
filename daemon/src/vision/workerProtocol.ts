import type { PipelineOptions, ProcessOptions } from './pipeline.js';
import type { TrackingOptions } from './faceTracks.js';
import type { FrameResult } from './types.js';

/** Messages between VisionClient (main thread) and the vision worker. */
export type ToWorker =
  /** tracking: follow faces from frame to frame (camera streams); null = detect on every frame. */
  | { type: 'init'; pipeline: PipelineOptions; process: ProcessOptions; tracking: TrackingOptions | null }
  | { type: 'frame'; id: number; seq: number; capturedAt: number; width: number; height: number; format: 'jpeg' | 'rgb24'; data: Uint8Array }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; embedder: string; precision: 'int8' | 'fp32'; detector: string; dim: number }
  | { type: 'result'; id: number; result: FrameResult }
  | { type: 'error'; id: number | null; message: string };

import type { Frame } from '../camera/frame.js';
import type { FrameResult } from '../vision/types.js';
import type { RankedPerson } from './trackFusion.js';

/** What the access runtime needs from the vision worker: one frame in, faces out (off the main thread). */
export interface FrameAnalyzer {
  /** null when the frame was dropped in favour of a newer one. */
  analyze(frame: Frame): Promise<FrameResult | null>;
}

/** What it needs from the gallery: the k best people for an embedding (each by their best template), best first. */
export interface FaceMatcher {
  search(embedding: Float32Array, k: number): readonly RankedPerson[] | Promise<readonly RankedPerson[]>;
  /** People currently searchable. */
  people(): number;
}

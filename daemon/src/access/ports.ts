import type { Frame } from '../camera/frame.js';
import type { FrameResult } from '../vision/types.js';
import type { MatchResult } from '../gallery/gallery.js';

/** What the access runtime needs from the vision worker: one frame in, faces out (off the main thread). */
export interface FrameAnalyzer {
  /** null when the frame was dropped in favour of a newer one. */
  analyze(frame: Frame): Promise<FrameResult | null>;
}

/** What it needs from the gallery: an open-set 1:N decision for one embedding. */
export interface FaceMatcher {
  match(embedding: Float32Array): MatchResult | Promise<MatchResult>;
  /** People currently searchable. */
  people(): number;
}

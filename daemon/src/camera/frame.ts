/** One camera frame as it leaves a source. JPEG frames are decoded in the vision worker, not on the main thread. */
export interface Frame {
  /** Increasing per source; gaps mean frames were dropped (newest wins). */
  seq: number;
  /** Capture time, ms since the epoch (from the source where it gives one, else arrival time). */
  capturedAt: number;
  width: number;
  height: number;
  format: 'jpeg' | 'rgb24';
  data: Buffer;
}

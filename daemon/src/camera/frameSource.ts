/**
 * A camera behind one interface. A source pushes whole JPEG images with their capture
 * time; the CameraService keeps only the newest, restarts dead sources and measures rates.
 */
export interface FrameSink {
  /** One complete JPEG. capturedAt: ms since the epoch. */
  frame(jpeg: Buffer, capturedAt: number): void;
  /** The source stopped by itself: an error (restart with backoff) or the end of a play-once replay. */
  ended(reason: string, kind: 'error' | 'finished'): void;
}

export interface FrameSource {
  /** What it is, for logs and health (never includes credentials). */
  readonly description: string;
  start(sink: FrameSink): Promise<void>;
  /** Stops producing frames; safe to call in any state. */
  stop(): Promise<void>;
}

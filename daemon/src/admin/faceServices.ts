import type { AnalyzedImage, EnrollImage } from '../vision/enroller.js';
import type { Box } from '../vision/types.js';

export type { EnrollImage } from '../vision/enroller.js';

export interface Embedding {
  embedding: number[];
  dimension: number;
  model: string;
  precision: string;
}

export interface LiveFace {
  box: Box;
  /** The person the registry recognises (their status beside it), or null. */
  name: string | null;
  status: 'ACTIVE' | 'DEACTIVATED' | null;
  score: number | null;
  quality: { faceSizePx: number; sharpness: number; poseScore: number; problems: string[] } | null;
}

export interface LiveFrame {
  seq: number;
  capturedAt: number;
  width: number;
  height: number;
  jpeg: Buffer;
  faces: LiveFace[];
  /** False when the faces were not analysed (no boxes to draw). */
  analysed: boolean;
}

/**
 * What the admin needs from vision and the camera, behind one interface so the routes do not
 * reach into other subsystems. The real one (faceServicesAdapter.ts) analyses photos in the
 * admin's enrollment worker and reads the live view from the door's frames; the people registry
 * does the rest. Until vision runs, calls fail with EnrollError 'unavailable' (HTTP 503).
 */
export interface FaceServices {
  /** Null when ready, else why not (shown in the UI). */
  unavailableReason(): string | null;
  /** Enrollment photos analysed (one face each, quality gates, embedding). */
  analyzePhotos(images: EnrollImage[]): Promise<{ modelId: string; faces: AnalyzedImage[] }>;
  embed(image: Buffer): Promise<Embedding>;
  /** The newest camera frame with its faces, or null when no camera runs. */
  liveFrame(): Promise<LiveFrame | null>;
  /** The camera's newest frame analysed now by the admin's own worker (faces and quality, no names); null without a camera. */
  assessCamera(): Promise<LiveFrame | null>;
  /** Per-stage timings (ms) of the newest analysed frame, when frames flow. */
  stageTimings(): Record<string, number> | null;
  start(): void;
  stop(): Promise<void>;
}

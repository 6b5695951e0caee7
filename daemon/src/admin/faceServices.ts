import type { Person } from '../store/peopleRepo.js';
import type { EnrollErrorKind, EnrollRequest } from '../vision/enroller.js';
import type { Box } from '../vision/types.js';

/** Why a photo could not be used; mirrors the vision enroller's typed errors. */
export type FaceErrorKind = EnrollErrorKind | 'unavailable';

export class FaceError extends Error {
  constructor(
    readonly kind: FaceErrorKind,
    message: string,
    /** Which uploaded image (0-based) the error is about, when it is about one. */
    readonly imageIndex: number | null = null,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'FaceError';
  }
}

export type { EnrollImage, EnrollRequest } from '../vision/enroller.js';

export interface EnrollResult {
  person: Person;
  templates: number;
  /** Per-image quality the enroller measured. */
  images: Array<{ name: string; quality: number; box: Box | null }>;
}

export interface Embedding {
  embedding: number[];
  dimension: number;
  model: string;
  precision: string;
}

export interface LiveFace {
  box: Box;
  name: string | null;
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
 * What the admin needs from vision and the camera, behind one interface so the routes
 * do not reach into other subsystems' internals. The adapter over the real enroller,
 * embedder and camera lives in faceServicesAdapter.ts; until those run, every call
 * answers "unavailable" (HTTP 503) with a clear message.
 */
export interface FaceServices {
  /** Null when ready, else why not (shown in the UI). */
  unavailableReason(): string | null;
  enroll(req: EnrollRequest): Promise<EnrollResult>;
  embed(image: Buffer): Promise<Embedding>;
  /** The newest camera frame with its faces, or null when no camera runs. */
  liveFrame(): Promise<LiveFrame | null>;
  /**
   * The camera's newest frame analysed on demand by the admin's own worker (faces and quality,
   * no names): the enrollment page's feedback and captures. Null when there is no camera.
   */
  assessCamera?(): Promise<LiveFrame | null>;
  /** Per-stage timings (ms) of the newest analysed frame, when frames flow. */
  stageTimings?(): Record<string, number> | null;
}

export class UnavailableFaceServices implements FaceServices {
  constructor(private readonly reason = 'face recognition is not running on this unit yet (vision service not loaded)') {}
  unavailableReason(): string {
    return this.reason;
  }
  enroll(): Promise<EnrollResult> {
    return Promise.reject(new FaceError('unavailable', this.reason));
  }
  embed(): Promise<Embedding> {
    return Promise.reject(new FaceError('unavailable', this.reason));
  }
  liveFrame(): Promise<null> {
    return Promise.resolve(null);
  }
}

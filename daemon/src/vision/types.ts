/**
 * What the vision worker returns for each face in a frame. The door runtime (tracker,
 * liveness, decision) consumes only this; it never touches images or ONNX sessions.
 */
export interface Point {
  x: number;
  y: number;
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface HeadPose {
  /** Degrees; yaw > 0 = the person turns to their left (camera's right). */
  yaw: number;
  pitch: number;
  roll: number;
}

export interface FaceQuality {
  /** Inter-ocular distance in pixels. */
  faceSizePx: number;
  /** Variance of the Laplacian on the aligned crop (higher = sharper). */
  sharpness: number;
  /** Mean luminance of the aligned crop, 0..255. */
  brightness: number;
  /** 0..1, 1 = frontal. */
  poseScore: number;
  /** 0..1 combined; below the enrollment gate the face is not used for a template. */
  overall: number;
  /** Human-readable reasons the face fails the gates (empty = passes). */
  problems: string[];
}

export interface FaceObservation {
  box: Box;
  detectorScore: number;
  /** Five points: left eye centre, right eye centre, nose tip, left mouth corner, right mouth corner (image coordinates). */
  landmarks5: Point[];
  /** Eye aspect ratios from the mesh (for blink detection). */
  ear: { left: number; right: number };
  pose: HeadPose;
  /** Measured on this frame's aligned chip; on an `embedSkipped` frame of a camera stream (no chip is aligned), the quality the face's track measured last. */
  quality: FaceQuality;
  /** The passive models' scores, 0..1 where 1 = real/live; null when the model is not loaded. */
  antispoofScore: number | null;
  livenessScore: number | null;
  /** MiniFASNet "real" probability (vision/miniFasNet.ts) when the pipeline loads it (option pad); never decides alone. */
  minifasnetScore?: number | null;
  /** Set on the frames of a camera stream where the passive networks did not score this face (vision.tracking.passiveIntervalFrames): its passive scores are absent, not failed. */
  passiveSkipped?: true;
  /** Set on the frames of a camera stream where the embedder did not run on this face (vision.tracking.embedIntervalFrames): its embedding is absent, not failed. */
  embedSkipped?: true;
  /** L2-normalised embedding (null when the embedder did not run: embedSkipped, or embedding off). */
  embedding: Float32Array | null;
  /** The 468-point FaceMesh as [x, y, z]×468 in image pixels (z: depth, same scale, larger = farther). */
  mesh?: Float32Array;
  /** The mesh network's face-presence score, 0..1. */
  faceScore?: number;
}

export interface FrameTimings {
  decodeMs: number;
  detectMs: number;
  meshMs: number;
  alignMs: number;
  embedMs: number;
  antispoofMs: number;
  totalMs: number;
}

export interface FrameResult {
  seq: number;
  capturedAt: number;
  width: number;
  height: number;
  faces: FaceObservation[];
  timings: FrameTimings;
  /** Did the detector run on this frame? (Camera streams with tracking: only to find faces, vision/faceTracks.ts.) */
  detectorRan?: boolean;
}

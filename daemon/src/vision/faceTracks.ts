import { centre, LEFT_EYE_CONTOUR, MESH_POINTS, RIGHT_EYE_CONTOUR, type Mesh } from './meshIndices.js';
import type { Roi } from './models/landmarker.js';
import type { Box, FaceQuality } from './types.js';

/** When the detector runs on a camera stream (config `vision.tracking`). */
export interface TrackingOptions {
  /** While no face is tracked: the detector runs on every Nth frame. */
  newFaceIntervalFrames: number;
  /** While faces are tracked: the detector still runs on every Nth frame (re-anchors, finds faces beside them). */
  redetectIntervalFrames: number;
  /** Mesh face-presence score under which a track is lost. */
  minFaceScore: number;
  /**
   * The passive networks (Human's anti-spoof and liveness, MiniFASNet) score a tracked face on its
   * first frame and every Nth frame after (1 = every frame). The door's checks average them over
   * the track, so a face's score is not needed 30 times a second.
   */
  passiveIntervalFrames: number;
  /**
   * The embedder runs on every one of a track's first `embedFirstFrames` frames (the door's track
   * decision needs K agreeing frames, `access.trackMinFrames`: the composition root passes K, so
   * the first decision is not delayed), then on every Nth frame (1 = every frame). The door keeps
   * the track's identity between embedded frames; a face that takes over a track is caught on the
   * next embedded frame, N frames later at most (docs/EVALUATION.md "Tracking").
   */
  embedIntervalFrames: number;
  embedFirstFrames: number;
}

export const DEFAULT_TRACKING: TrackingOptions = {
  newFaceIntervalFrames: 2,
  redetectIntervalFrames: 10,
  minFaceScore: 0.5,
  passiveIntervalFrames: 3,
  embedIntervalFrames: 2,
  embedFirstFrames: 3,
};

/** MediaPipe's crop around a face from its landmarks: the landmarks' box (eye-level frame) × 1.5, square. */
export const TRACK_ROI_SCALE = 1.5;

/** Why the detector ran on a frame (null: it did not). */
export type DetectReason = 'no-track' | 'lost' | 'schedule' | null;

/** One followed face: the crop for its next mesh, and its detector box relative to the mesh's box. */
export interface Track {
  roi: Roi;
  /** The score of the detection that started (or last re-anchored) the track. */
  detectorScore: number;
  /** The detector's box in units of the mesh box (centre offset and size), from the last detection. */
  rel: { dx: number; dy: number; w: number; h: number };
  /** Frames this face has been followed for (0 on the frame it was found). */
  age: number;
  /**
   * The track's offset in the passive and embedder schedules (a count of the tracks started on
   * this stream): faces found on the same frame take their turns on different frames, so a frame
   * with several faces runs about the same work every time instead of all of it every Nth frame.
   */
  phase: number;
  /** The quality measured on the track's last embedded frame (frames the embedder skips carry it). */
  quality?: FaceQuality;
}

/** A face the mesh confirmed on this frame, with what the track carries to the next one. */
export interface MeshedFace {
  mesh: Mesh;
  faceScore: number;
  detectorScore: number;
  /** The detector's box of this face (this frame's detection, or the track's carried box). */
  detectorBox: Box;
  rel: Track['rel'];
  /** Frames followed before this one (0: found on this frame; still images are always 0). */
  age: number;
  /** The track's schedule offset (Track.phase); absent on the frame a face is found. */
  phase?: number;
  /** The track's last measured quality (Track.quality); absent on the frame a face is found. */
  quality?: FaceQuality;
}

/**
 * The crop for the next frame's mesh from this frame's mesh, as MediaPipe's face pipeline derives
 * it (face_landmarks_to_roi): rotation from the eyes (image-left eye → image-right eye), the 468
 * landmarks' bounding box in that eye-level frame, × 1.5, square on the longer side.
 */
export function roiFromMesh(mesh: Mesh, scale = TRACK_ROI_SCALE): Roi {
  const re = centre(mesh, RIGHT_EYE_CONTOUR),
    le = centre(mesh, LEFT_EYE_CONTOUR);
  const angle = Math.atan2(le.y - re.y, le.x - re.x);
  const c = Math.cos(-angle),
    s = Math.sin(-angle);
  let u0 = Infinity,
    v0 = Infinity,
    u1 = -Infinity,
    v1 = -Infinity;
  for (let i = 0; i < MESH_POINTS; i++) {
    const x = mesh[i * 3]!,
      y = mesh[i * 3 + 1]!;
    const u = c * x - s * y,
      v = s * x + c * y;
    if (u < u0) u0 = u;
    if (u > u1) u1 = u;
    if (v < v0) v0 = v;
    if (v > v1) v1 = v;
  }
  const uc = (u0 + u1) / 2,
    vc = (v0 + v1) / 2;
  // back from the eye-level frame to the image
  const cx = c * uc + s * vc,
    cy = -s * uc + c * vc;
  return { cx, cy, size: Math.max(u1 - u0, v1 - v0) * scale, angle };
}

/** A detector box in units of a mesh box (so a tracked frame can carry a detector-like box for the passive models). */
export function relativeBox(det: Box, mesh: Box): Track['rel'] {
  const w = mesh.width || 1,
    h = mesh.height || 1;
  return {
    dx: (det.x + det.width / 2 - (mesh.x + mesh.width / 2)) / w,
    dy: (det.y + det.height / 2 - (mesh.y + mesh.height / 2)) / h,
    w: det.width / w,
    h: det.height / h,
  };
}

export function applyRelative(rel: Track['rel'], mesh: Box): Box {
  const cx = mesh.x + mesh.width / 2 + rel.dx * mesh.width,
    cy = mesh.y + mesh.height / 2 + rel.dy * mesh.height;
  const w = rel.w * mesh.width,
    h = rel.h * mesh.height;
  return { x: cx - w / 2, y: cy - h / 2, width: w, height: h };
}

/** Is point (x, y) inside box b? */
export function inside(b: Box, x: number, y: number): boolean {
  return x >= b.x && x <= b.x + b.width && y >= b.y && y <= b.y + b.height;
}

/**
 * The tracking state of ONE camera stream (the vision worker holds one per stream): which faces
 * are followed, the crop each one's next mesh runs on, and when the detector must run — when no
 * face is tracked (every `newFaceIntervalFrames`th frame), when a track was lost (the same
 * frame), and every `redetectIntervalFrames`th frame as a safety net. FacePipeline.processStream
 * asks it; nothing else keeps per-stream face state in the worker.
 */
export class FaceTracks {
  private tracks: Track[] = [];
  /** Frames since the detector last ran (Infinity: never). */
  private sinceDetect = Infinity;
  private frameSize: { width: number; height: number } | null = null;
  private frames = 0;
  private detections = 0;
  /** Tracks started on this stream: the next new track's phase. */
  private started = 0;

  constructor(readonly options: TrackingOptions = DEFAULT_TRACKING) {}

  /** Starts a frame; returns the crops of the tracked faces (empty when none, or the frame size changed). */
  begin(size: { width: number; height: number }): readonly Track[] {
    if (!this.frameSize || this.frameSize.width !== size.width || this.frameSize.height !== size.height) {
      this.reset();
      this.frameSize = { width: size.width, height: size.height };
    }
    this.frames++;
    this.sinceDetect++;
    return this.tracks;
  }

  /** Should the detector run on this frame, given how many of the tracked faces the mesh lost? */
  detectReason(lost: number): DetectReason {
    if (lost > 0) return 'lost';
    if (this.tracks.length === 0) return this.sinceDetect >= this.options.newFaceIntervalFrames ? 'no-track' : null;
    return this.sinceDetect >= this.options.redetectIntervalFrames ? 'schedule' : null;
  }

  /** Ends a frame: the faces the mesh confirmed become the tracks for the next frame. */
  end(faces: readonly MeshedFace[], detected: boolean): void {
    if (detected) {
      this.sinceDetect = 0;
      this.detections++;
    }
    this.tracks = faces.map((f) => ({
      roi: roiFromMesh(f.mesh),
      detectorScore: f.detectorScore,
      rel: f.rel,
      age: f.age + 1,
      phase: f.phase ?? this.started++,
      quality: f.quality,
    }));
  }

  /** Do the passive networks score a face of this age (and schedule offset) on this frame? Always on its first frame. */
  passiveDue(age: number, phase = 0): boolean {
    return age === 0 || (age + phase) % Math.max(1, this.options.passiveIntervalFrames) === 0;
  }

  /** Does the embedder run on a face of this age (and schedule offset) on this frame? Always on its first `embedFirstFrames`. */
  embedDue(age: number, phase = 0): boolean {
    return age < this.options.embedFirstFrames || (age + phase) % Math.max(1, this.options.embedIntervalFrames) === 0;
  }

  get tracked(): number {
    return this.tracks.length;
  }

  /** Frames seen and frames the detector ran on since the stream started. */
  stats(): { frames: number; detections: number; tracked: number } {
    return { frames: this.frames, detections: this.detections, tracked: this.tracks.length };
  }

  reset(): void {
    this.tracks = [];
    this.sinceDetect = Infinity;
    this.frameSize = null;
  }
}

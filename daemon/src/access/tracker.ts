import type { Box, FaceObservation } from '../vision/types.js';
import { cosine } from '../util/vector.js';
import { iou } from '../vision/box.js';

export interface TrackerOptions {
  /** Minimum box overlap to continue a track by position alone. */
  minIou: number;
  /** Embedding similarity that continues a track even without overlap (a fast move, a dropped frame). */
  sameFaceCosine: number;
  /** Embedding similarity below which two faces are different people, however much they overlap. */
  differentFaceCosine: number;
  /** A track not seen for this long is closed. */
  maxAgeMs: number;
}

export const DEFAULT_TRACKER_OPTIONS: TrackerOptions = { minIou: 0.2, sameFaceCosine: 0.6, differentFaceCosine: 0.3, maxAgeMs: 1500 };

export interface Track {
  id: number;
  box: Box;
  /** Latest embedding of this face (null until one was computed). */
  embedding: Float32Array | null;
  firstSeenAt: number;
  lastSeenAt: number;
  frames: number;
}

/**
 * Follows faces across frames so liveness and the decision belong to one person. A face
 * continues the track it overlaps (IoU) unless their embeddings say they are different
 * people; embedding similarity alone also continues a track (the face jumped). Pairs are
 * assigned greedily, best first; leftover faces start new tracks.
 */
export class FaceTracker {
  private readonly o: TrackerOptions;
  private readonly tracks = new Map<number, Track>();
  private nextId = 1;

  constructor(options: Partial<TrackerOptions> = {}, firstId = 1) {
    this.o = { ...DEFAULT_TRACKER_OPTIONS, ...options };
    this.nextId = firstId;
  }

  /** Assigns each face to a track (new or continued). Returns the pairs and the tracks that were closed. */
  update(faces: readonly FaceObservation[], ts: number): { assigned: Array<{ track: Track; face: FaceObservation; isNew: boolean }>; closed: Track[] } {
    const closed: Track[] = [];
    for (const t of this.tracks.values()) {
      if (ts - t.lastSeenAt > this.o.maxAgeMs) {
        this.tracks.delete(t.id);
        closed.push(t);
      }
    }
    const pairs: Array<{ t: Track; f: number; score: number }> = [];
    faces.forEach((face, f) => {
      for (const t of this.tracks.values()) {
        const overlap = iou(t.box, face.box);
        const sim = t.embedding && face.embedding ? cosine(t.embedding, face.embedding) : null;
        if (sim !== null && sim < this.o.differentFaceCosine) continue;
        if (overlap < this.o.minIou && !(sim !== null && sim >= this.o.sameFaceCosine)) continue;
        pairs.push({ t, f, score: overlap + (sim ?? 0.5) });
      }
    });
    pairs.sort((a, b) => b.score - a.score);
    const usedTracks = new Set<number>();
    const faceTrack = new Map<number, Track>();
    for (const p of pairs) {
      if (usedTracks.has(p.t.id) || faceTrack.has(p.f)) continue;
      usedTracks.add(p.t.id);
      faceTrack.set(p.f, p.t);
    }
    const assigned = faces.map((face, f) => {
      let track = faceTrack.get(f);
      const isNew = !track;
      if (!track) {
        track = { id: this.nextId++, box: face.box, embedding: null, firstSeenAt: ts, lastSeenAt: ts, frames: 0 };
        this.tracks.set(track.id, track);
      }
      track.box = face.box;
      if (face.embedding) track.embedding = face.embedding;
      track.lastSeenAt = ts;
      track.frames++;
      return { track, face, isNew };
    });
    return { assigned, closed };
  }

  /** Closes tracks not seen for maxAgeMs (also done on every update). */
  expire(ts: number): Track[] {
    const closed: Track[] = [];
    for (const t of this.tracks.values()) {
      if (ts - t.lastSeenAt > this.o.maxAgeMs) {
        this.tracks.delete(t.id);
        closed.push(t);
      }
    }
    return closed;
  }

  active(): Track[] {
    return [...this.tracks.values()];
  }
}

/**
 * Deciding over a whole track instead of a single frame (pure; no I/O, no clocks).
 *
 * A stranger gets one chance per frame per enrolled person when any single frame may confirm an
 * identity. A track decision asks more:
 *   1. fused embedding = quality-weighted mean of the L2-normalised embeddings of the track's
 *      good frames (quality ≥ minQuality), normalised again;
 *   2. the fused embedding's best person scores ≥ threshold and beats the runner-up by ≥ margin;
 *   3. that same person is the best match of at least `minFrames` single good frames (each frame
 *      at ≥ frameThreshold, default the threshold).
 * Until enough good frames are seen the answer is `pending`. The door (access/) passes its
 * gallery's search as `search`, so this module never owns the gallery.
 */
import { l2normalize } from '../util/vector.js';

export interface TrackFrame {
  embedding: Float32Array;
  /** 0..1; frames below minQuality are ignored */
  quality: number;
}

export interface RankedPerson {
  personId: string;
  score: number;
}

/** The top-2 people for a probe (best first), e.g. Gallery.search(probe, 2). */
export type TopTwo = (probe: Float32Array) => readonly RankedPerson[];

export interface TrackFusionOptions {
  threshold: number;
  margin: number;
  /** single frames that must name the same person (K) */
  minFrames: number;
  minQuality: number;
  /** per-frame score needed for a frame to count as naming a person (default: threshold) */
  frameThreshold?: number;
}

export const TRACK_FUSION_DEFAULTS: Omit<TrackFusionOptions, 'threshold' | 'margin'> = { minFrames: 3, minQuality: 0.5 };

export type TrackDecisionKind = 'match' | 'no_match' | 'ambiguous' | 'pending';

export interface TrackDecision {
  decision: TrackDecisionKind;
  personId: string | null;
  /** fused embedding's best score and margin over the runner-up */
  score: number;
  margin: number;
  /** good frames used, and how many of them named personId on their own */
  goodFrames: number;
  agreeingFrames: number;
  /** the fused embedding's runner-up (null when none) */
  secondPersonId?: string | null;
  secondScore?: number;
}

const normalised = (v: Float32Array): Float32Array => l2normalize(Float32Array.from(v));

/** Quality-weighted mean of the L2-normalised embeddings of the good frames, normalised; null when none is good. */
export function fuseEmbeddings(frames: readonly TrackFrame[], minQuality: number): Float32Array | null {
  const good = frames.filter((f) => f.quality >= minQuality && f.embedding.length > 0);
  if (good.length === 0) return null;
  const dim = good[0]!.embedding.length;
  const acc = new Float64Array(dim);
  for (const f of good) {
    if (f.embedding.length !== dim) throw new Error(`track frames of ${f.embedding.length} and ${dim} values`);
    const e = normalised(f.embedding);
    for (let i = 0; i < dim; i++) acc[i]! += f.quality * e[i]!;
  }
  return normalised(Float32Array.from(acc));
}

/**
 * `fused` may be passed when the caller computed it already (the door searches it off the event
 * loop first, then hands a search that answers from its results); default: fused here.
 */
export function decideTrack(
  frames: readonly TrackFrame[],
  search: TopTwo,
  o: TrackFusionOptions,
  fused: Float32Array | null = fuseEmbeddings(frames, o.minQuality),
): TrackDecision {
  const good = frames.filter((f) => f.quality >= o.minQuality && f.embedding.length > 0);
  const none: TrackDecision = { decision: 'pending', personId: null, score: 0, margin: 0, goodFrames: good.length, agreeingFrames: 0 };
  if (!fused) return none;
  const [first, second] = search(fused);
  if (!first) return { ...none, decision: good.length >= o.minFrames ? 'no_match' : 'pending' };
  const secondPersonId = second?.personId ?? null;
  const margin = first.score - (second?.score ?? 0);
  const frameThreshold = o.frameThreshold ?? o.threshold;
  let agreeing = 0;
  for (const f of good) {
    const [top] = search(f.embedding);
    if (top && top.personId === first.personId && top.score >= frameThreshold) agreeing++;
  }
  const base = {
    personId: first.personId,
    score: first.score,
    margin,
    goodFrames: good.length,
    agreeingFrames: agreeing,
    secondPersonId,
    secondScore: second?.score ?? 0,
  };
  if (first.score < o.threshold) return { ...base, decision: good.length >= o.minFrames ? 'no_match' : 'pending' };
  if (margin < o.margin) return { ...base, decision: good.length >= o.minFrames ? 'ambiguous' : 'pending' };
  if (agreeing < o.minFrames) return { ...base, decision: good.length >= o.minFrames * 2 ? 'no_match' : 'pending' };
  return { ...base, decision: 'match' };
}

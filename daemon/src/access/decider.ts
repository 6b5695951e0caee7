import type { Config } from '../config/schema.js';
import type { DoorState } from '../events.js';
import { decide, type MatchResult } from '../gallery/gallery.js';
import type { Person } from '../registry/peopleRegistry.js';
import type { NewAccessEvent } from '../store/eventsRepo.js';
import type { FaceObservation, FrameResult } from '../vision/types.js';
import { evaluatePolicy } from './policy.js';
import type { FaceMatcher } from './ports.js';
import { NEAR_MISS_BAND, type DenyReason } from './reasons.js';
import { FaceTracker, type Track } from './tracker.js';
import { cosine } from '../util/vector.js';
import { LivenessPolicy, type LivenessReport } from './livenessPolicy.js';
import { decideTrack, fuseEmbeddings, type RankedPerson, type TrackDecision, type TrackFrame } from './trackFusion.js';

/** Consecutive embedded frames that are not a match before a track is denied as not recognised… */
export const REJECT_AFTER_FRAMES = 5;
/** …and at least this long after the track began: an enrolled person walking in at an angle gets time to face the camera. */
export const REJECT_MIN_MS = 800;
/** Embedded frames of a track kept for the fused decision (newest; ~2 s at 15 fps). */
export const TRACK_FRAMES = 30;
/** A new face this similar to the granted face is the same person, not a tailgater. */
const SAME_PERSON_COSINE = 0.5;

export interface DeciderPorts {
  matcher: FaceMatcher;
  /** The threshold and margin in force (access/operatingPoint.ts); default: access.threshold / access.margin. */
  thresholds?(): { threshold: number; margin: number };
  person(id: string): Person | undefined;
  door(): DoorState;
  /** Unlock for a grant; false when refused (lockdown). */
  unlock(reason: string): boolean;
  /** False when a grant must not happen because it could not be recorded (access.grantWhenUnrecorded off). */
  canRecord?(): boolean;
  record(e: NewAccessEvent, at: Date): void;
  tailgating(details: Record<string, unknown>): void;
  now(): number;
}

interface TrackState {
  track: Track;
  liveness: LivenessPolicy;
  lastLiveness: LivenessReport | null;
  /** Latest single-frame match per embedded frame, newest last (bounded): the near-miss hint and the reason of a denial. */
  matches: MatchResult[];
  /** The embedded frames the track decision fuses (bounded to TRACK_FRAMES). */
  frames: TrackFrame[];
  /** Search results per probe (each frame's embedding, and the fused one), so a frame is searched once. */
  ranked: WeakMap<Float32Array, readonly RankedPerson[]>;
  /** The latest decision over the whole track. */
  trackDecision: TrackDecision | null;
  nonMatchRun: number;
  confirmed: MatchResult | null;
  decided: boolean;
  /** Frame capture time of the first observation (for unlock latency). */
  firstCapturedAt: number;
  tailgateChecked: boolean;
}

export interface DecisionOutcome {
  trackId: number;
  result: 'GRANTED' | 'DENIED' | 'SUPPRESSED';
  reason: string;
  personId: string | null;
  /** ms from the track's first frame capture to the decision. */
  latencyMs: number;
}

/**
 * Turns vision results into at most one decision per track:
 *  1. the tracker assigns faces to tracks;
 *  2. each embedded face is searched in the gallery and the track decided over all its frames
 *     (fused embedding ≥ threshold, margin over the runner-up, K agreeing frames: decideOverTrack);
 *  3. each track's liveness policy is advanced;
 *  4. a track is decided once: GRANTED when the identity is confirmed, liveness passed and
 *     the policy (lockdown, status, validity, schedule) allows; DENIED with a reason code
 *     otherwise (not recognised for REJECT_AFTER_FRAMES frames and REJECT_MIN_MS, liveness failed, policy,
 *     or access.decisionTimeoutMs without a verdict).
 * A person granted (or denied by policy) within access.cooldownMs is not decided again
 * (SUPPRESSED: no event, no pulse). A new face while the door is unlocked after a grant
 * raises the tailgating alarm.
 */
export class AccessDecider {
  readonly tracker: FaceTracker;
  private readonly states = new Map<number, TrackState>();
  private readonly cooldown = new Map<string, number>();
  private grantedFace: { trackId: number; embedding: Float32Array | null } | null = null;
  readonly outcomes: DecisionOutcome[] = [];

  constructor(
    private readonly config: Pick<Config, 'access' | 'unit'>,
    private readonly ports: DeciderPorts,
    private readonly random: () => number = Math.random,
  ) {
    this.tracker = new FaceTracker();
  }

  /** Feed one vision result. Returns the decisions made on this frame. */
  async onFrame(result: FrameResult): Promise<DecisionOutcome[]> {
    const ts = result.capturedAt;
    const made: DecisionOutcome[] = [];
    const { assigned, closed } = this.tracker.update(result.faces, ts);
    for (const t of closed) {
      const s = this.states.get(t.id);
      this.states.delete(t.id);
      // An enrolled person who walked away before passing liveness is on record, and so is a face
      // seen long enough to be judged not recognised (REJECT_AFTER_FRAMES) that left before REJECT_MIN_MS.
      if (s && !s.decided && s.confirmed) made.push(this.deny(s, 'liveness_failed', { vanished: true }));
      else if (s && !s.decided && s.nonMatchRun >= REJECT_AFTER_FRAMES) made.push(this.deny(s, this.rejectReason(s), { vanished: true }));
    }
    for (const { track, face, isNew } of assigned) {
      let s = this.states.get(track.id);
      if (!s) {
        s = {
          track,
          liveness: new LivenessPolicy(this.config.access.liveness, this.random),
          lastLiveness: null,
          matches: [],
          frames: [],
          ranked: new WeakMap(),
          trackDecision: null,
          nonMatchRun: 0,
          confirmed: null,
          decided: false,
          firstCapturedAt: ts,
          tailgateChecked: false,
        };
        this.states.set(track.id, s);
      }
      if (isNew || !s.tailgateChecked) this.checkTailgating(s, face);
      if (s.decided) continue;
      const outcome = await this.advance(s, face, ts);
      if (outcome) made.push(outcome);
    }
    this.outcomes.push(...made);
    if (this.outcomes.length > 100) this.outcomes.splice(0, this.outcomes.length - 100);
    return made;
  }

  activeTracks(): number {
    return this.states.size;
  }

  private async advance(s: TrackState, face: FaceObservation, ts: number): Promise<DecisionOutcome | null> {
    s.lastLiveness = s.liveness.update(face, ts);
    if (face.embedding && this.ports.matcher.people() > 0) {
      const td = await this.decideOverTrack(s, face.embedding, face.quality.overall);
      if (td.decision === 'match') {
        s.nonMatchRun = 0;
        s.confirmed = {
          decision: 'match',
          personId: td.personId,
          score: td.score,
          margin: td.margin,
          secondPersonId: td.secondPersonId ?? null,
          secondScore: td.secondScore ?? 0,
        };
      } else {
        s.nonMatchRun++;
        // the track no longer supports the identity (a different face took over, the fused score fell): not confirmed
        if (td.decision !== 'pending') s.confirmed = null;
      }
    } else if (face.embedding) {
      s.nonMatchRun++; // empty gallery: nobody can be recognised
    }
    if (this.ports.door().mode === 'lockdown' && (s.confirmed || s.nonMatchRun > 0)) return this.deny(s, 'lockdown');

    if (s.confirmed) {
      const personId = s.confirmed.personId!;
      const until = this.cooldown.get(personId);
      if (until !== undefined && this.ports.now() < until) return this.suppress(s, personId);
      const live = s.lastLiveness;
      if (live.verdict === 'failed') return this.deny(s, 'liveness_failed');
      if (live.verdict === 'passed') {
        const at = new Date();
        const person = this.ports.person(personId);
        const policy = evaluatePolicy(person, at, { timeZone: this.config.unit.timezone, lockdown: this.ports.door().mode === 'lockdown' });
        if (policy) {
          this.cooldown.set(personId, this.ports.now() + this.config.access.cooldownMs);
          return this.deny(s, policy);
        }
        return this.grant(s, person!);
      }
    } else if (s.nonMatchRun >= REJECT_AFTER_FRAMES && ts - s.firstCapturedAt >= REJECT_MIN_MS) {
      return this.deny(s, this.rejectReason(s));
    }
    if (ts - s.firstCapturedAt > this.config.access.decisionTimeoutMs) {
      return this.deny(s, s.confirmed ? 'liveness_failed' : s.matches.length ? this.rejectReason(s) : 'unknown', { timeout: true });
    }
    return null;
  }

  /**
   * The decision over the whole track (access/trackFusion.ts): this frame is searched once, the
   * quality-weighted mean of the track's L2-normalised embeddings is searched, and the track names
   * a person only when the fused score reaches the threshold, beats the runner-up by the margin,
   * and at least access.trackMinFrames single good frames name the same person at the threshold.
   * A stranger whose single frames sometimes pass is therefore not let in by one lucky frame.
   */
  private async decideOverTrack(s: TrackState, embedding: Float32Array, quality: number): Promise<TrackDecision> {
    const { threshold, margin } = this.thresholdsInForce();
    const top = await this.ports.matcher.search(embedding, 2);
    s.ranked.set(embedding, top);
    s.matches.push(decide(top, threshold, margin));
    if (s.matches.length > 20) s.matches.shift();
    s.frames.push({ embedding, quality });
    if (s.frames.length > TRACK_FRAMES) s.frames.shift();
    const o = { threshold, margin, minFrames: this.config.access.trackMinFrames, minQuality: this.config.access.trackMinQuality };
    const fused = fuseEmbeddings(s.frames, o.minQuality);
    if (fused) s.ranked.set(fused, await this.ports.matcher.search(fused, 2));
    s.trackDecision = decideTrack(s.frames, (p) => s.ranked.get(p) ?? [], o, fused);
    return s.trackDecision;
  }

  private thresholdsInForce(): { threshold: number; margin: number } {
    return this.ports.thresholds?.() ?? { threshold: this.config.access.threshold ?? 1.01, margin: this.config.access.margin ?? 0 };
  }

  /** The threshold and margin the decision was made at (kept with every event). */
  private thresholdsNow(): { threshold: number | null; requiredMargin: number | null } {
    const t = this.ports.thresholds?.();
    return { threshold: t?.threshold ?? this.config.access.threshold, requiredMargin: t?.margin ?? this.config.access.margin };
  }

  /** Why a track that named nobody is denied: from the track decision (fused score), else the last frame. */
  private rejectReason(s: TrackState): DenyReason {
    const td = s.trackDecision;
    const last = td && td.personId !== null ? { personId: td.personId, score: td.score, decision: td.decision } : s.matches[s.matches.length - 1];
    if (!last || last.personId === null) return 'unknown';
    if (last.decision === 'ambiguous') return 'ambiguous_match';
    return last.score >= this.thresholdsInForce().threshold - NEAR_MISS_BAND ? 'below_threshold' : 'unknown';
  }

  private grant(s: TrackState, person: Person): DecisionOutcome {
    s.decided = true;
    const m = s.confirmed!;
    const at = new Date();
    if (this.ports.canRecord && !this.ports.canRecord()) return this.deny(s, 'cannot_record');
    // Relay first: the door must not wait for the database.
    const opened = this.ports.unlock(`face:${person.id}`);
    if (!opened) return this.deny(s, 'lockdown');
    this.cooldown.set(person.id, this.ports.now() + this.config.access.cooldownMs);
    this.grantedFace = { trackId: s.track.id, embedding: s.track.embedding };
    this.ports.record(this.event(s, 'GRANTED', 'match', { personId: person.id, personName: person.name, score: m.score, margin: m.margin }), at);
    return { trackId: s.track.id, result: 'GRANTED', reason: 'match', personId: person.id, latencyMs: Date.now() - s.firstCapturedAt };
  }

  private deny(s: TrackState, reason: DenyReason, details: Record<string, unknown> = {}): DecisionOutcome {
    s.decided = true;
    const m = s.confirmed ?? s.matches[s.matches.length - 1] ?? null;
    // Only a confirmed identity is put on the event as the person; a near miss is kept as a hint in details.
    const known = s.confirmed?.personId ? this.ports.person(s.confirmed.personId) : undefined;
    const hint = !known && m?.personId ? { nearest: { personId: m.personId, score: m.score, margin: m.margin, decision: m.decision } } : {};
    this.ports.record(
      this.event(
        s,
        'DENIED',
        reason,
        { personId: known?.id ?? null, personName: known?.name ?? null, score: m?.score ?? null, margin: m?.margin ?? null },
        { ...hint, ...details },
      ),
      new Date(),
    );
    return { trackId: s.track.id, result: 'DENIED', reason, personId: known?.id ?? null, latencyMs: Date.now() - s.firstCapturedAt };
  }

  private suppress(s: TrackState, personId: string): DecisionOutcome {
    s.decided = true;
    return { trackId: s.track.id, result: 'SUPPRESSED', reason: 'cooldown', personId, latencyMs: Date.now() - s.firstCapturedAt };
  }

  private event(
    s: TrackState,
    result: 'GRANTED' | 'DENIED',
    reason: string,
    who: { personId: string | null; personName: string | null; score: number | null; margin: number | null },
    details: Record<string, unknown> = {},
  ): NewAccessEvent {
    const live = s.lastLiveness;
    return {
      result,
      reason,
      ...who,
      trackId: s.track.id,
      source: 'camera',
      liveness: live
        ? {
            verdict: live.verdict,
            checks: live.checks,
            passiveScore: live.passiveScore,
            padScore: live.padScore,
            blinks: live.blinks,
            challenge: live.challenge,
            failed: live.failed,
          }
        : null,
      details: {
        frames: s.track.frames,
        embeddedFrames: s.frames.length,
        latencyMs: Date.now() - s.firstCapturedAt,
        ...this.thresholdsNow(),
        ...(s.trackDecision
          ? {
              trackDecision: {
                decision: s.trackDecision.decision,
                fusedScore: s.trackDecision.score,
                goodFrames: s.trackDecision.goodFrames,
                agreeingFrames: s.trackDecision.agreeingFrames,
              },
            }
          : {}),
        ...details,
      },
    };
  }

  private checkTailgating(s: TrackState, face: FaceObservation): void {
    const door = this.ports.door();
    const open = door.relay === 'on' && door.mode === 'normal' && (door.unlockReason ?? '').startsWith('face:');
    if (!open || !this.grantedFace || this.grantedFace.trackId === s.track.id) {
      s.tailgateChecked = true;
      return;
    }
    if (!face.embedding) return; // decide once the face has an embedding
    s.tailgateChecked = true;
    const g = this.grantedFace.embedding;
    if (g && cosine(g, face.embedding) >= SAME_PERSON_COSINE) return;
    this.ports.tailgating({ grantedTrack: this.grantedFace.trackId, newTrack: s.track.id, unlockReason: door.unlockReason });
  }
}

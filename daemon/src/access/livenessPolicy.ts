import type { Config } from '../config/schema.js';
import type { FaceObservation } from '../vision/types.js';
import { BlinkDetector } from '../vision/liveness/blinkDetector.js';
import { HeadTurnChallenge, randomDirection, type TurnDirection } from '../vision/liveness/headTurnChallenge.js';
import { PassiveCheck } from '../vision/liveness/passiveCheck.js';

export type LivenessVerdict = 'pending' | 'passed' | 'failed';

export interface LivenessReport {
  verdict: LivenessVerdict;
  /** Which checks are required and where each stands. */
  checks: Record<string, string>;
  passiveScore: number | null;
  /** Mean MiniFASNet "real" score over the track's frames (null before any). */
  padScore: number | null;
  blinks: number;
  challenge: TurnDirection | null;
  /** The check that failed, when verdict is failed. */
  failed: string | null;
}

/** Frames of passive scores needed before a passive verdict. */
const PASSIVE_MIN_FRAMES = 3;
/** MiniFASNet scores averaged before the PAD check may pass or fail. */
export const PAD_MIN_FRAMES = 5;

/**
 * The liveness policy of one track (access.liveness): every enabled check must pass —
 * passive anti-spoof scores, an eye blink, a head turn to a random side, and the MiniFASNet
 * presentation-attack score averaged over the track (pad; default: blink AND pad ≥ 0.3). Uses the vision
 * engineer's per-track state machines; this class only combines them and keeps the verdict
 * with the track.
 */
export class LivenessPolicy {
  private readonly blink: BlinkDetector | null;
  private readonly turn: HeadTurnChallenge | null;
  /** Passive scores are always followed and reported; they decide only when access.liveness.passive is on. */
  private readonly passive: PassiveCheck;
  private passiveState: 'pending' | 'passed' | 'failed' = 'pending';
  private passiveScore: number | null = null;
  private blinkState = 'pending';
  private turnState = 'pending';
  private padSum = 0;
  private padFrames = 0;
  private padMissing = false;

  constructor(
    private readonly o: Config['access']['liveness'],
    random: () => number = Math.random,
  ) {
    this.blink = o.blink ? new BlinkDetector({ earClosed: o.earClosed, earOpen: o.earOpen, timeoutMs: o.blinkTimeoutMs }) : null;
    this.turn = o.headTurn ? new HeadTurnChallenge(randomDirection(random), { yawDeg: o.headTurnYawDeg, timeoutMs: o.headTurnTimeoutMs }) : null;
    this.passive = new PassiveCheck({ threshold: o.passiveThreshold, minFrames: PASSIVE_MIN_FRAMES });
  }

  update(face: FaceObservation, ts: number): LivenessReport {
    if (face.passiveSkipped) {
      // a camera-stream frame on which the passive networks did not score this face
      // (vision.tracking.passiveIntervalFrames): nothing to add to the passive and PAD checks
    } else if (face.antispoofScore === null && face.livenessScore === null) {
      // The passive models are not loaded: as a required check it cannot pass (fail closed).
      if (this.o.passive) this.passiveState = 'failed';
    } else {
      const u = this.passive.update(face.antispoofScore, face.livenessScore);
      this.passiveState = u.state;
      this.passiveScore = u.score;
    }
    if (this.blink) {
      const ear = (face.ear.left + face.ear.right) / 2;
      const u = this.blink.update(ts, ear);
      this.blinkState = u.blinks > 0 ? 'passed' : u.state === 'timeout' ? 'failed' : 'pending';
    }
    if (this.turn) {
      const s = this.turn.update(ts, face.pose.yaw);
      this.turnState = s === 'passed' ? 'passed' : s === 'failed' || s === 'timeout' ? 'failed' : 'pending';
    }
    if (this.o.pad && !face.passiveSkipped) {
      const score = face.minifasnetScore;
      if (score === undefined || score === null || !Number.isFinite(score)) this.padMissing = true;
      else {
        this.padSum += score;
        this.padFrames++;
      }
    }
    return this.report();
  }

  /**
   * The PAD check (access.liveness.pad): the mean MiniFASNet "real" score of the track's frames.
   * Pending until PAD_MIN_FRAMES scores; then passed at ≥ padThreshold. Below it the check fails
   * only once every other check has passed (a real face whose first frames scored low gets the
   * frames until then to average up; a replayed video that blinks is refused right after its
   * blink). Without the model's score (not loaded) it fails: a required check never passes unseen.
   */
  private padState(othersPassed: boolean): string {
    if (this.padMissing) return 'failed';
    if (this.padFrames < PAD_MIN_FRAMES) return 'pending';
    if (this.padSum / this.padFrames >= this.o.padThreshold) return 'passed';
    return othersPassed ? 'failed' : 'pending';
  }

  report(): LivenessReport {
    const checks: Record<string, string> = {};
    if (this.o.passive) checks.passive = this.passiveState;
    if (this.blink) checks.blink = this.blinkState;
    if (this.turn) checks.headTurn = this.turnState;
    if (this.o.pad) checks.pad = this.padState(Object.values(checks).every((v) => v === 'passed'));
    const failed = Object.entries(checks).find(([, v]) => v === 'failed')?.[0] ?? null;
    const verdict: LivenessVerdict = failed ? 'failed' : Object.values(checks).every((v) => v === 'passed') ? 'passed' : 'pending';
    const padScore = this.padFrames ? this.padSum / this.padFrames : null;
    return { verdict, checks, passiveScore: this.passiveScore, padScore, blinks: this.blink?.blinks ?? 0, challenge: this.turn?.direction ?? null, failed };
  }
}

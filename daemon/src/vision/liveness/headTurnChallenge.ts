/**
 * Head-turn challenge: ask the person to turn to a random side; pass when the yaw goes from
 * near-frontal past the threshold on the asked side within the time limit. A pure per-track
 * state machine fed one head pose per frame. Turning clearly the wrong way fails the challenge
 * (a replayed video of someone turning has a 50 % chance at best).
 */
export type TurnDirection = 'left' | 'right';
export type HeadTurnState = 'waiting_frontal' | 'turning' | 'passed' | 'failed' | 'timeout';

export interface HeadTurnOptions {
  yawDeg: number;
  timeoutMs: number;
  /** Frontal = |yaw| below this many degrees. */
  frontalDeg: number;
  /** Frames the turned pose must hold (guards against one noisy pose). */
  holdFrames: number;
}

export const DEFAULT_HEAD_TURN_OPTIONS: HeadTurnOptions = { yawDeg: 20, timeoutMs: 5000, frontalDeg: 10, holdFrames: 2 };

export function randomDirection(random: () => number = Math.random): TurnDirection {
  return random() < 0.5 ? 'left' : 'right';
}

export class HeadTurnChallenge {
  private readonly o: HeadTurnOptions;
  private state: HeadTurnState = 'waiting_frontal';
  private startedAt: number | null = null;
  private held = 0;
  private maxYawSeen = 0;

  /** direction: the person's left or right. Yaw > 0 = the person turns to their left (see HeadPose). */
  constructor(
    readonly direction: TurnDirection,
    options: Partial<HeadTurnOptions> = {},
  ) {
    this.o = { ...DEFAULT_HEAD_TURN_OPTIONS, ...options };
  }

  get current(): HeadTurnState {
    return this.state;
  }

  /** Signed yaw towards the asked side, maximum so far (for UIs and logs). */
  get progressDeg(): number {
    return this.maxYawSeen;
  }

  update(ts: number, yawDeg: number): HeadTurnState {
    if (this.startedAt === null) this.startedAt = ts;
    if (this.state === 'passed' || this.state === 'failed' || this.state === 'timeout') return this.state;
    if (!Number.isFinite(yawDeg)) return this.state;
    const toward = this.direction === 'left' ? yawDeg : -yawDeg;
    this.maxYawSeen = Math.max(this.maxYawSeen, toward);
    if (this.state === 'waiting_frontal') {
      if (Math.abs(yawDeg) < this.o.frontalDeg) this.state = 'turning';
    } else if (this.state === 'turning') {
      if (toward >= this.o.yawDeg) {
        this.held += 1;
        if (this.held >= this.o.holdFrames) this.state = 'passed';
      } else {
        this.held = 0;
        if (-toward >= this.o.yawDeg) this.state = 'failed';
      }
    }
    if (this.state !== 'passed' && this.state !== 'failed' && ts - this.startedAt > this.o.timeoutMs) this.state = 'timeout';
    return this.state;
  }
}

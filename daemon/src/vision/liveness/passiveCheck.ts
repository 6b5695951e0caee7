/**
 * Passive presentation-attack check: the anti-spoof and liveness network scores (0..1,
 * 1 = live) of the last few frames of a track, averaged, against one threshold. Requires a
 * minimum number of scored frames so a single lucky frame cannot pass.
 */
export interface PassiveOptions {
  threshold: number;
  /** Frames averaged (sliding window). */
  window: number;
  minFrames: number;
  /** How the two scores combine: both must pass ('min'), or their mean. */
  combine: 'min' | 'mean' | 'antispoof' | 'liveness';
}

export const DEFAULT_PASSIVE_OPTIONS: PassiveOptions = { threshold: 0.5, window: 5, minFrames: 1, combine: 'min' };

export type PassiveState = 'pending' | 'passed' | 'failed';

export interface PassiveUpdate {
  state: PassiveState;
  score: number | null;
  antispoof: number | null;
  liveness: number | null;
  frames: number;
}

function mean(v: number[]): number | null {
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
}

export function combinePassive(antispoof: number | null, liveness: number | null, combine: PassiveOptions['combine']): number | null {
  if (combine === 'antispoof') return antispoof;
  if (combine === 'liveness') return liveness;
  if (antispoof === null) return liveness;
  if (liveness === null) return antispoof;
  return combine === 'min' ? Math.min(antispoof, liveness) : (antispoof + liveness) / 2;
}

export class PassiveCheck {
  private readonly o: PassiveOptions;
  private readonly a: number[] = [];
  private readonly l: number[] = [];

  constructor(options: Partial<PassiveOptions> = {}) {
    this.o = { ...DEFAULT_PASSIVE_OPTIONS, ...options };
  }

  update(antispoof: number | null, liveness: number | null): PassiveUpdate {
    if (antispoof !== null && Number.isFinite(antispoof)) this.a.push(antispoof);
    if (liveness !== null && Number.isFinite(liveness)) this.l.push(liveness);
    while (this.a.length > this.o.window) this.a.shift();
    while (this.l.length > this.o.window) this.l.shift();
    const as = mean(this.a);
    const lv = mean(this.l);
    const score = combinePassive(as, lv, this.o.combine);
    const frames = Math.max(this.a.length, this.l.length);
    const state: PassiveState = score === null || frames < this.o.minFrames ? 'pending' : score >= this.o.threshold ? 'passed' : 'failed';
    return { state, score, antispoof: as, liveness: lv, frames };
  }
}

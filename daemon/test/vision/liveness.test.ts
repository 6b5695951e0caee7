import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countBlinks } from '../../src/eval/livenessEval.js';
import { BlinkDetector } from '../../src/vision/liveness/blinkDetector.js';
import { HeadTurnChallenge, randomDirection } from '../../src/vision/liveness/headTurnChallenge.js';
import { PassiveCheck } from '../../src/vision/liveness/passiveCheck.js';
import { FacePipeline } from '../../src/vision/pipeline.js';
import { DATA, SKIP_DATA } from './sharedData.js';

/** EAR trace at 30 fps: open 0.3, closed 0.1 for `closedFrames`, open again. */
function feed(d: BlinkDetector, pattern: number[], fps = 30): ReturnType<BlinkDetector['update']>[] {
  return pattern.map((ear, i) => d.update((i * 1000) / fps, ear));
}

describe('BlinkDetector', () => {
  it('counts open → closed → open as one blink', () => {
    const d = new BlinkDetector();
    const r = feed(d, [0.3, 0.3, 0.3, 0.1, 0.1, 0.3, 0.3]);
    expect(r.at(-1)!.state).toBe('passed');
    expect(d.blinks).toBe(1);
    expect(r.filter((x) => x.blinked)).toHaveLength(1);
  });

  it('does not count eyes that start closed, stay closed too long, or never close', () => {
    const startsClosed = new BlinkDetector();
    feed(startsClosed, [0.1, 0.1, 0.3, 0.3]);
    expect(startsClosed.blinks).toBe(0);
    const tooLong = new BlinkDetector({ maxClosedMs: 400 });
    feed(tooLong, [0.3, 0.3, ...Array(30).fill(0.1), 0.3]);
    expect(tooLong.blinks).toBe(0);
    const photo = new BlinkDetector({ timeoutMs: 1000 });
    const r = feed(photo, Array(60).fill(0.3));
    expect(r.at(-1)!.state).toBe('timeout');
    expect(photo.passed).toBe(false);
  });

  it('adapts to a person whose open-eye EAR is low (closed relative to their baseline)', () => {
    const d = new BlinkDetector({ earClosed: 0.15 });
    // open EAR 0.24 (below the absolute earOpen 0.26), blink dips to 0.19
    feed(d, [0.24, 0.24, 0.24, 0.24, 0.19, 0.18, 0.24, 0.24]);
    expect(d.blinks).toBe(1);
  });
});

describe('HeadTurnChallenge', () => {
  it('passes when the yaw goes from frontal past the threshold on the asked side', () => {
    const c = new HeadTurnChallenge('left', { yawDeg: 20, holdFrames: 2 });
    for (const [i, yaw] of [0, 5, 12, 21, 24].entries()) c.update(i * 66, yaw);
    expect(c.current).toBe('passed');
  });

  it('fails on the wrong side, times out when nothing happens, and needs a frontal start', () => {
    const wrong = new HeadTurnChallenge('left');
    for (const [i, yaw] of [0, -10, -25].entries()) wrong.update(i * 66, yaw);
    expect(wrong.current).toBe('failed');
    const idle = new HeadTurnChallenge('right', { timeoutMs: 1000 });
    for (let i = 0; i < 30; i++) idle.update(i * 66, 2);
    expect(idle.current).toBe('timeout');
    const turnedAlready = new HeadTurnChallenge('right', { holdFrames: 1 });
    turnedAlready.update(0, -30);
    expect(turnedAlready.current).toBe('waiting_frontal');
    expect(randomDirection(() => 0.1)).toBe('left');
    expect(randomDirection(() => 0.9)).toBe('right');
  });
});

describe('PassiveCheck', () => {
  it('averages recent scores and needs enough frames', () => {
    const p = new PassiveCheck({ threshold: 0.65, minFrames: 3, combine: 'min' });
    expect(p.update(0.9, 0.9).state).toBe('pending');
    p.update(0.9, 0.4);
    const r = p.update(0.9, 0.5);
    expect(r.state).toBe('failed');
    // min(mean antispoof 0.9, mean liveness 0.6)
    expect(r.score).toBeCloseTo(0.6, 5);
    const q = new PassiveCheck({ threshold: 0.6, minFrames: 1, combine: 'mean' });
    expect(q.update(0.9, 0.5).state).toBe('passed');
    expect(new PassiveCheck().update(null, null).state).toBe('pending');
  });
});

describe.skipIf(SKIP_DATA)('blink detection on real landmarks (shared video)', () => {
  let pipeline: FacePipeline;
  beforeAll(async () => {
    pipeline = await FacePipeline.create({ precision: 'int8', antispoof: false, liveness: false, intraOpThreads: 1 });
  });
  afterAll(async () => {
    await pipeline?.release();
  });

  it('counts the 2 documented blinks of dinoman_example_blink2.mp4 from the mesh EAR', async () => {
    const r = await countBlinks(pipeline, join(DATA, 'video', 'dinoman_example_blink2.mp4'));
    expect(r.frames).toBe(75);
    expect(r.framesWithFace).toBeGreaterThan(70);
    expect(r.blinks).toBe(2);
  });

  it('counts no blink on the replay/print demo GIF', async () => {
    const r = await countBlinks(pipeline, join(DATA, 'video', 'silentface_demo_live_replay_print.gif'));
    expect(r.framesWithFace).toBeGreaterThan(0);
    expect(r.blinks).toBe(0);
  });
});

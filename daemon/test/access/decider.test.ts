import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { AccessDecider, REJECT_AFTER_FRAMES, REJECT_MIN_MS } from '../../src/access/decider.js';
import { AccessRecorder } from '../../src/access/recorder.js';
import { FaceTracker } from '../../src/access/tracker.js';
import { Gallery } from '../../src/gallery/gallery.js';
import { DoorService } from '../../src/door/doorService.js';
import { SimulatedGpioDriver } from '../../src/door/gpio/simulatedDriver.js';
import { EventBus, type AlarmEvent } from '../../src/events.js';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logging.js';
import { Store } from '../../src/store/store.js';
import { PeopleTable } from '../../src/registry/peopleTable.js';
import { AlarmRegistry } from '../../src/alarms/alarmRegistry.js';
import type { AccessEvent } from '../../src/store/eventsRepo.js';
import type { Box, FaceObservation, FrameResult } from '../../src/vision/types.js';
import { tempDir } from '../helpers/blinkd.js';

// The vision worker is not under test here: faces are synthetic observations with chosen
// embeddings. Gallery, store, recorder and door are the real components.
const DIM = 16;
const log = createLogger('silent');

function unit(i: number, mix: Array<[number, number]> = []): Float32Array {
  const v = new Float32Array(DIM);
  v[i] = 1;
  for (const [j, w] of mix) v[j] = w;
  let n = 0;
  for (const x of v) n += x * x;
  return v.map((x) => x / Math.sqrt(n));
}

function face(box: Partial<Box>, embedding: Float32Array | null, o: Partial<FaceObservation> = {}): FaceObservation {
  return {
    box: { x: 100, y: 100, width: 120, height: 120, ...box },
    detectorScore: 0.9,
    landmarks5: [],
    ear: { left: 0.3, right: 0.3 },
    pose: { yaw: 0, pitch: 0, roll: 0 },
    quality: { faceSizePx: 60, sharpness: 100, brightness: 120, poseScore: 1, overall: 0.9, problems: [] },
    antispoofScore: 0.95,
    livenessScore: 0.95,
    minifasnetScore: 0.9,
    embedding,
    ...o,
  };
}

let seq = 0;
function frame(t: number, faces: FaceObservation[]): FrameResult {
  return {
    seq: ++seq,
    capturedAt: t,
    width: 640,
    height: 480,
    faces,
    timings: { decodeMs: 0, detectMs: 0, meshMs: 0, alignMs: 0, embedMs: 0, antispoofMs: 0, totalMs: 0 },
  };
}

const open: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c();
});

async function rig(access: Record<string, unknown> = {}, random: () => number = Math.random) {
  const t = tempDir();
  const store = Store.open(join(t.dir, 'db.sqlite'));
  const config = parseConfig(
    {
      unit: { timezone: 'UTC' },
      // the presentation-attack check (pad) has its own tests below; the rest isolate recognition and the other checks
      access: { threshold: 0.8, margin: 0.05, cooldownMs: 5000, liveness: { passive: true, blink: false, pad: false }, ...access },
      door: { pulseMs: 300 },
    },
    't',
  );
  const bus = new EventBus();
  const gpio = new SimulatedGpioDriver();
  const alarmRegistry = new AlarmRegistry(bus, log);
  const door = new DoorService(config.door, bus, alarmRegistry, log, { driverFactory: () => gpio });
  const people = new PeopleTable(store.db);
  await door.start();
  open.push(
    t.cleanup,
    () => store.close(),
    () => door.stop(),
  );
  const ada = people.create({ name: 'Ada' });
  const bob = people.create({ name: 'Bob' });
  const gallery = new Gallery(DIM);
  // Carl and Dan look alike (cosine 0.96): a face between them is ambiguous.
  const carl = people.create({ name: 'Carl' });
  const dan = people.create({ name: 'Dan' });
  gallery.load([
    { personId: ada.id, embedding: unit(0) },
    { personId: bob.id, embedding: unit(1) },
    { personId: carl.id, embedding: unit(3) },
    { personId: dan.id, embedding: unit(3, [[4, 0.3]]) },
  ]);
  const recorder = new AccessRecorder(store, bus, config, log);
  const events: AccessEvent[] = [];
  const alarms: AlarmEvent[] = [];
  bus.on(events, 'access.decided', (e) => void events.push(e));
  bus.on(alarms, 'alarm', (a) => void alarms.push(a));
  let now = 1_000_000;
  let recordable = true;
  const decider = new AccessDecider(
    config,
    {
      matcher: { search: (e, k) => gallery.search(e, k), people: () => gallery.people },
      person: (id) => people.get(id),
      door: () => door.state(),
      unlock: (reason) => door.grant(reason).ok,
      canRecord: () => config.access.grantWhenUnrecorded || recordable,
      record: (e, at) => void recorder.record(e, at),
      tailgating: (d) => alarmRegistry.raise('tailgating', 'test', d),
      now: () => now,
    },
    random,
  );
  const relayOns = () => gpio.writeLog().filter((w) => w.pin === 17 && w.level === 1).length;
  const setRecordable = (v: boolean) => (recordable = v);
  return { store, people, door, gpio, decider, events, alarms, ada, bob, relayOns, advance: (ms: number) => (now += ms), config, setRecordable, gallery };
}

const gallery = (r: { gallery: Gallery }): Gallery => r.gallery;

describe('access decisions (one per track)', () => {
  it('an enrolled face that does not match at first (turned away) is not denied before REJECT_MIN_MS', async () => {
    const r = await rig();
    let t = Date.now();
    const got = [];
    for (let i = 0; i < 8; i++) got.push(...(await r.decider.onFrame(frame((t += 66), [face({}, unit(0, [[6, 0.8]]))])))); // 528 ms of a poor view
    for (let i = 0; i < 3; i++) got.push(...(await r.decider.onFrame(frame((t += 66), [face({}, unit(0))]))));
    expect(got.map((o) => [o.result, o.reason])).toEqual([['GRANTED', 'match']]);
  });

  it('grants an enrolled, live, active person once, pulses the relay once, records event + CHECK_IN atomically', async () => {
    const r = await rig();
    let t = Date.now();
    const out = [];
    for (let i = 0; i < 10; i++) out.push(...(await r.decider.onFrame(frame((t += 66), [face({ x: 100 + i }, unit(0, [[5, 0.2]]))]))));
    expect(out.map((o) => [o.result, o.reason])).toEqual([['GRANTED', 'match']]);
    expect(r.relayOns()).toBe(1);
    expect(r.events).toHaveLength(1);
    const stored = r.store.events.query();
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({
      result: 'GRANTED',
      reason: 'match',
      personId: r.ada.id,
      personName: 'Ada',
      source: 'camera',
      liveness: { verdict: 'passed' },
    });
    const att = r.store.attendance.query();
    expect(att).toHaveLength(1);
    expect(att[0]).toMatchObject({ personId: r.ada.id, kind: 'CHECK_IN', eventId: stored[0]!.id });
  });

  it('while decisions cannot be stored, access.grantWhenUnrecorded decides: true (default) still grants, false denies as cannot_record', async () => {
    for (const grantWhenUnrecorded of [true, false]) {
      const r = await rig({ grantWhenUnrecorded });
      r.setRecordable(false);
      let t = Date.now();
      const out = [];
      for (let i = 0; i < 10; i++) out.push(...(await r.decider.onFrame(frame((t += 66), [face({ x: 100 + i }, unit(0, [[5, 0.2]]))]))));
      expect(out.map((o) => [o.result, o.reason])).toEqual([grantWhenUnrecorded ? ['GRANTED', 'match'] : ['DENIED', 'cannot_record']]);
      expect(r.relayOns()).toBe(grantWhenUnrecorded ? 1 : 0);
    }
  });

  it('cooldown: the same person in a new track right after a grant is not granted again', async () => {
    const r = await rig();
    let t = Date.now();
    for (let i = 0; i < 4; i++) await r.decider.onFrame(frame((t += 66), [face({}, unit(0))]));
    // track lost (2 s without faces), person comes back
    t += 2000;
    await r.decider.onFrame(frame(t, []));
    const again = [];
    for (let i = 0; i < 4; i++) again.push(...(await r.decider.onFrame(frame((t += 66), [face({}, unit(0))]))));
    expect(again.map((o) => o.result)).toEqual(['SUPPRESSED']);
    expect(r.relayOns()).toBe(1);
    r.advance(5001);
    t += 2000;
    await r.decider.onFrame(frame(t, []));
    const later = [];
    for (let i = 0; i < 4; i++) later.push(...(await r.decider.onFrame(frame((t += 66), [face({}, unit(0))]))));
    expect(later.map((o) => o.result)).toEqual(['GRANTED']);
  });

  it(`denies a stranger as unknown after ${REJECT_AFTER_FRAMES} frames and ${REJECT_MIN_MS} ms, a near miss as below_threshold, a close second as ambiguous_match`, async () => {
    const r = await rig();
    let t = Date.now();
    const run = async (emb: Float32Array) => {
      const got = [];
      for (let i = 0; i < 16; i++) got.push(...(await r.decider.onFrame(frame((t += 66), [face({}, emb)]))));
      t += 2000;
      await r.decider.onFrame(frame(t, []));
      return got.map((o) => o.reason);
    };
    expect(await run(unit(7))).toEqual(['unknown']);
    expect(await run(unit(0, [[7, 0.79]]))).toEqual(['below_threshold']); // cos ≈ 0.785: under 0.8, within NEAR_MISS_BAND
    expect(await run(unit(3, [[4, 0.15]]))).toEqual(['ambiguous_match']);
    expect(r.relayOns()).toBe(0);
    expect(r.store.events.query().map((e) => e.result)).toEqual(['DENIED', 'DENIED', 'DENIED']);
  });

  it('a stranger whose single frames sometimes pass is denied: the track decision needs the fused face and K frames to agree', async () => {
    const r = await rig();
    // a look-alike of Ada: most frames cos 0.6 with her (under the 0.8 threshold), every fourth a lucky frame at cos 0.85
    const unlucky = unit(7, [[0, 0.75]]);
    const lucky = unit(0, [[7, 0.62]]);
    const frames = Array.from({ length: 16 }, (_, i) => (i % 4 === 3 ? lucky : unlucky));
    const single = frames.map((e) => gallery(r).match(e, 0.8, 0.05).decision);
    expect(single.filter((d) => d === 'match').length).toBe(4); // a single-frame door would have let him in on frame 4
    let t = Date.now();
    const got = [];
    for (const e of frames) got.push(...(await r.decider.onFrame(frame((t += 66), [face({}, e)]))));
    expect(got.map((o) => o.result)).toEqual(['DENIED']);
    expect(['unknown', 'below_threshold']).toContain(got[0]!.reason);
    expect(r.relayOns()).toBe(0);
    const stored = r.store.events.query()[0]!;
    expect(stored.personId).toBeNull();
    expect(stored.details).toMatchObject({ threshold: 0.8, requiredMargin: 0.05, trackDecision: { decision: 'no_match' } });
    expect((stored.details!.trackDecision as { fusedScore: number }).fusedScore).toBeLessThan(0.8);
  });

  it('an enrolled person is granted on the K-th agreeing frame (access.trackMinFrames), not before', async () => {
    for (const trackMinFrames of [1, 3, 5]) {
      const r = await rig({ trackMinFrames, liveness: { passive: false, blink: false, pad: false } }); // no liveness check: recognition alone decides when
      let t = Date.now();
      let decidedOn = 0;
      for (let i = 1; i <= 8 && !decidedOn; i++) if ((await r.decider.onFrame(frame((t += 66), [face({}, unit(0, [[5, 0.2]]))]))).length) decidedOn = i;
      expect(decidedOn).toBe(trackMinFrames);
      expect(r.store.events.query()[0]).toMatchObject({ result: 'GRANTED', details: { trackDecision: { decision: 'match', agreeingFrames: trackMinFrames } } });
    }
  });

  it('a stranger seen long enough but gone before REJECT_MIN_MS is still on record; a passer-by seen twice is not', async () => {
    const r = await rig();
    let t = Date.now();
    for (let i = 0; i < REJECT_AFTER_FRAMES + 1; i++) await r.decider.onFrame(frame((t += 50), [face({}, unit(7))]));
    const closed = await r.decider.onFrame(frame((t += 2000), []));
    expect(closed.map((o) => o.reason)).toEqual(['unknown']);
    expect(r.store.events.query()[0]!.details).toMatchObject({ vanished: true });
    for (let i = 0; i < 2; i++) await r.decider.onFrame(frame((t += 50), [face({}, unit(8))]));
    expect(await r.decider.onFrame(frame((t += 2000), []))).toEqual([]);
    expect(r.store.events.count()).toBe(1);
  });

  it('deactivated, outside validity and outside schedule are denied with the person on record', async () => {
    const r = await rig();
    let t = Date.now();
    const once = async (emb: Float32Array) => {
      const got = [];
      for (let i = 0; i < 4; i++) got.push(...(await r.decider.onFrame(frame((t += 66), [face({}, emb)]))));
      t += 2000;
      await r.decider.onFrame(frame(t, []));
      r.advance(10_000); // past the cooldown
      return got.map((o) => o.reason);
    };
    r.people.update(r.ada.id, { status: 'DEACTIVATED' });
    expect(await once(unit(0))).toEqual(['deactivated']);
    r.people.update(r.ada.id, { status: 'ACTIVE', validUntil: '2000-01-01' });
    expect(await once(unit(0))).toEqual(['outside_validity']);
    r.people.update(r.ada.id, { validUntil: null, schedule: [{ days: ['mon'], start: '00:00', end: '00:01' }] });
    const reason = (await once(unit(0)))[0];
    expect(['outside_schedule', 'match']).toContain(reason); // match only in the first minute of a Monday (UTC)
    expect(r.store.events.query({ result: 'DENIED' }).every((e) => e.personId === r.ada.id)).toBe(true);
  });

  it('passive liveness below the threshold denies a recognised face (liveness_failed)', async () => {
    const r = await rig();
    let t = Date.now();
    const got = [];
    for (let i = 0; i < 6; i++) got.push(...(await r.decider.onFrame(frame((t += 66), [face({}, unit(0), { antispoofScore: 0.1, livenessScore: 0.2 })]))));
    expect(got.map((o) => [o.result, o.reason])).toEqual([['DENIED', 'liveness_failed']]);
    expect(r.store.events.query()[0]).toMatchObject({ personId: r.ada.id, liveness: { verdict: 'failed', failed: 'passive' } });
    expect(r.relayOns()).toBe(0);
  });

  it('blink policy: a static face (no blink) is denied when the blink times out', async () => {
    const r = await rig({ liveness: { passive: false, blink: true, blinkTimeoutMs: 1000 } });
    let t = Date.now();
    const got = [];
    for (let i = 0; i < 25; i++) got.push(...(await r.decider.onFrame(frame((t += 66), [face({}, unit(0))]))));
    expect(got.map((o) => o.reason)).toEqual(['liveness_failed']);
    // the same face with a blink (open → closed → open) passes
    t += 3000;
    await r.decider.onFrame(frame(t, []));
    r.advance(10_000);
    const ears = [0.3, 0.3, 0.3, 0.1, 0.1, 0.3, 0.3];
    const ok = [];
    for (const e of ears) ok.push(...(await r.decider.onFrame(frame((t += 66), [face({}, unit(0), { ear: { left: e, right: e } })]))));
    expect(ok.map((o) => o.result)).toEqual(['GRANTED']);
  });

  it('PAD policy (default): blink AND the mean MiniFASNet score over the track ≥ access.liveness.padThreshold', async () => {
    const blinkThenOpen = [0.3, 0.3, 0.3, 0.3, 0.3, 0.1, 0.1, 0.3, 0.3, 0.3];
    const approach = async (r: Awaited<ReturnType<typeof rig>>, pad: (i: number) => number | undefined) => {
      let t = Date.now();
      const got = [];
      for (const [i, e] of blinkThenOpen.entries())
        got.push(...(await r.decider.onFrame(frame((t += 66), [face({}, unit(0), { ear: { left: e, right: e }, minifasnetScore: pad(i) })]))));
      return got;
    };
    const defaults = { liveness: parseConfig({}, 'defaults').access.liveness };
    expect(defaults.liveness).toMatchObject({ blink: true, pad: true, padThreshold: 0.3, passive: false });
    // a live face: blinks, MiniFASNet ≈ 0.6 → granted, with the mean score on record
    const live = await rig(defaults);
    expect((await approach(live, () => 0.6)).map((o) => o.result)).toEqual(['GRANTED']);
    expect(live.store.events.query()[0]!.liveness).toMatchObject({ verdict: 'passed', checks: { blink: 'passed', pad: 'passed' } });
    expect((live.store.events.query()[0]!.liveness as { padScore: number }).padScore).toBeCloseTo(0.6, 6);
    // a phone replaying a video of the enrolled person blinking: the blink passes, MiniFASNet (≈ 0.01 on the replay) refuses
    const replay = await rig(defaults);
    expect((await approach(replay, () => 0.01)).map((o) => [o.result, o.reason])).toEqual([['DENIED', 'liveness_failed']]);
    expect(replay.store.events.query()[0]!.liveness).toMatchObject({ verdict: 'failed', failed: 'pad', checks: { blink: 'passed', pad: 'failed' } });
    expect(replay.relayOns()).toBe(0);
    // a real face whose first frames score low averages up before the blink: granted
    const slow = await rig(defaults);
    expect((await approach(slow, (i) => (i < 3 ? 0.05 : 0.7))).map((o) => o.result)).toEqual(['GRANTED']);
    // the threshold is configurable
    const strict = await rig({ liveness: { ...defaults.liveness, padThreshold: 0.8 } });
    expect((await approach(strict, () => 0.6)).map((o) => o.reason)).toEqual(['liveness_failed']);
    // no MiniFASNet score at all (model not loaded): fail closed
    const missing = await rig(defaults);
    expect((await approach(missing, () => undefined)).map((o) => o.reason)).toEqual(['liveness_failed']);
    expect(missing.store.events.query()[0]!.liveness).toMatchObject({ failed: 'pad' });
  });

  it('head-turn challenge: turning to the asked side passes, turning the other way fails', async () => {
    // random() < 0.5 asks for "left" (yaw > 0, see HeadPose)
    const r = await rig({ liveness: { passive: false, blink: false, headTurn: true, headTurnYawDeg: 20 } }, () => 0.1);
    let t = Date.now();
    const right = [];
    for (const yaw of [0, 2, -25, -26]) right.push(...(await r.decider.onFrame(frame((t += 66), [face({}, unit(0), { pose: { yaw, pitch: 0, roll: 0 } })]))));
    expect(right.map((o) => o.reason)).toEqual(['liveness_failed']);
    expect(r.store.events.query()[0]!.liveness).toMatchObject({ challenge: 'left', failed: 'headTurn' });
    t += 3000;
    await r.decider.onFrame(frame(t, []));
    r.advance(10_000);
    const left = [];
    for (const yaw of [0, 5, 15, 24, 26]) left.push(...(await r.decider.onFrame(frame((t += 66), [face({}, unit(0), { pose: { yaw, pitch: 0, roll: 0 } })]))));
    expect(left.map((o) => o.result)).toEqual(['GRANTED']);
  });

  it('lockdown: nobody is granted, the decision is recorded as lockdown', async () => {
    const r = await rig();
    r.door.setMode('lockdown');
    let t = Date.now();
    const got = [];
    for (let i = 0; i < 4; i++) got.push(...(await r.decider.onFrame(frame((t += 66), [face({}, unit(0))]))));
    expect(got.map((o) => [o.result, o.reason])).toEqual([['DENIED', 'lockdown']]);
    expect(r.relayOns()).toBe(0);
  });

  it('tailgating: a second, different face entering while the door is unlocked raises the alarm', async () => {
    const r = await rig();
    let t = Date.now();
    for (let i = 0; i < 3; i++) await r.decider.onFrame(frame((t += 66), [face({}, unit(0))]));
    expect(r.door.state().relay).toBe('on');
    await r.decider.onFrame(frame((t += 66), [face({}, unit(0)), face({ x: 400 }, unit(9))]));
    expect(r.alarms.filter((a) => a.type === 'tailgating')).toHaveLength(1);
    expect(r.alarms[0]!.details).toMatchObject({ grantedTrack: 1, newTrack: 2 });
  });
});

describe('face tracker', () => {
  it('continues by overlap, splits different people in the same spot, follows a jump by embedding, expires', () => {
    const tr = new FaceTracker();
    const a = tr.update([face({ x: 100 }, unit(0))], 0).assigned[0]!;
    const a2 = tr.update([face({ x: 110 }, unit(0))], 66).assigned[0]!;
    expect(a2.track.id).toBe(a.track.id);
    const b = tr.update([face({ x: 110 }, unit(3))], 132).assigned[0]!;
    expect(b.isNew).toBe(true);
    const jump = tr.update([face({ x: 500 }, unit(3))], 200).assigned[0]!;
    expect(jump.track.id).toBe(b.track.id);
    const { closed } = tr.update([], 5000);
    expect(closed.map((c) => c.id).sort()).toEqual([a.track.id, b.track.id].sort());
  });
});

describe('access recorder', () => {
  it('event and attendance commit together or not at all; the bus hears only committed decisions', async () => {
    const t = tempDir();
    const store = Store.open(join(t.dir, 'db.sqlite'));
    try {
      const bus = new EventBus();
      const heard: string[] = [];
      bus.on(heard, 'access.decided', (e) => void heard.push(e.reason));
      bus.on(heard, 'attendance.recorded', (a) => void heard.push(a.kind));
      const config = parseConfig({ unit: { timezone: 'UTC' } }, 't');
      const rec = new AccessRecorder(store, bus, config, log);
      const p = new PeopleTable(store.db).create({ name: 'Ada' });
      const r1 = rec.record({ result: 'GRANTED', reason: 'match', personId: p.id, personName: 'Ada', source: 'camera' }, new Date('2026-03-02T08:00:00Z'));
      expect(r1?.attendance).toMatchObject({ kind: 'CHECK_IN', status: 'ON_TIME', eventId: r1?.event.id });
      // A grant for a person id the people table does not hold: the attendance row violates its
      // foreign key, so the whole decision is rolled back and nothing is announced; it is not
      // queued for a retry either (it can never be written: the journal keeps it).
      expect(rec.record({ result: 'GRANTED', reason: 'match', personId: 'ghost', source: 'camera' }, new Date('2026-03-02T08:05:00Z'))).toBeNull();
      expect(rec.lost).toBe(1);
      expect(rec.pendingCount()).toBe(0);
      expect(store.events.count()).toBe(1);
      expect(heard).toEqual(['match', 'CHECK_IN']);
      rec.record({ result: 'GRANTED', reason: 'exit_request', source: 'exit_button' });
      expect(store.events.query()[0]).toMatchObject({ reason: 'exit_request', source: 'exit_button' });
      expect(store.attendance.query()).toHaveLength(1);
    } finally {
      store.close();
      t.cleanup();
    }
  });
});

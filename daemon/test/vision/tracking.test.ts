import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { threeFaceFrame } from '../../src/bench/visionSection.js';
import { videoFrames } from '../../src/eval/videoFrames.js';
import type { RgbImage } from '../../src/vision/align.js';
import { decodeFrame } from '../../src/vision/decode.js';
import { DEFAULT_TRACKING, FaceTracks, type TrackingOptions } from '../../src/vision/faceTracks.js';
import { Embedder } from '../../src/vision/models/embedder.js';
import { FaceDetector } from '../../src/vision/models/faceDetector.js';
import { Landmarker } from '../../src/vision/models/landmarker.js';
import { fivePointsFromMesh } from '../../src/vision/meshIndices.js';
import { loadModelManifest } from '../../src/vision/modelManifest.js';
import { createSession, defaultModelsDir, resolveEmbedder } from '../../src/vision/modelSet.js';
import { FacePipeline } from '../../src/vision/pipeline.js';
import type { FaceQuality } from '../../src/vision/types.js';
import { DATA, SKIP_DATA } from './sharedData.js';

const OPTS = { minScore: 0.5, minFaceSizePx: 60, embed: false, passive: false };

async function clipFrames(name: string, n: number): Promise<RgbImage[]> {
  const out: RgbImage[] = [];
  for await (const f of videoFrames(join(DATA, 'video', name))) {
    out.push(f.image);
    if (out.length >= n) break;
  }
  return out;
}

/** Tracking with every network on every frame, but for the options given. */
const tracker = (o: Partial<TrackingOptions>): FaceTracks =>
  new FaceTracks({ ...DEFAULT_TRACKING, passiveIntervalFrames: 1, embedIntervalFrames: 1, embedFirstFrames: 3, ...o });

const grey = (w: number, h: number): RgbImage => ({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(128) });

describe.skipIf(SKIP_DATA)('tracking faces across camera frames (vision/faceTracks.ts)', () => {
  let pipeline: FacePipeline;
  let frames: RgbImage[];
  beforeAll(async () => {
    pipeline = await FacePipeline.create({ precision: 'int8', antispoof: false, liveness: false });
    frames = await clipFrames('focus_mahie_test_1.avi', 40);
  }, 60_000);
  afterAll(async () => {
    await pipeline.release();
  });

  it('keeps the face over real video frames without running the detector on each, and the safety net runs on schedule', async () => {
    const tracks = tracker({ newFaceIntervalFrames: 2 });
    const reasons: (string | null)[] = [];
    for (const img of frames) {
      const r = await pipeline.processStream(img, tracks, OPTS);
      expect(r.faces).toHaveLength(1);
      reasons.push(r.detected);
      if (!r.detected) expect(r.timings.detectMs).toBe(0);
    }
    // detector on the first frame (nothing tracked yet), then only every 10th frame
    const ran = reasons.map((x, i) => (x ? i : -1)).filter((i) => i >= 0);
    expect(ran).toEqual([0, 10, 20, 30]);
    expect(reasons[0]).toBe('no-track');
    expect(reasons.slice(1).filter((x) => x !== null)).toEqual(['schedule', 'schedule', 'schedule']);
    expect(tracks.stats()).toMatchObject({ frames: 40, detections: 4, tracked: 1 });
  });

  it('the tracked mesh stays on the face the detector finds (mean 468-point difference under 3 % of the inter-ocular distance, every frame under 5 %)', async () => {
    const tracks = tracker({ newFaceIntervalFrames: 1, redetectIntervalFrames: 1000 });
    const rel: number[] = [];
    for (const img of frames) {
      const t = (await pipeline.processStream(img, tracks, OPTS)).faces[0]!;
      const d = (await pipeline.process(img, OPTS)).faces[0]!;
      const [le, re] = fivePointsFromMesh(d.mesh!);
      const iod = Math.hypot(le!.x - re!.x, le!.y - re!.y);
      let diff = 0;
      for (let i = 0; i < 468; i++) diff += Math.hypot(t.mesh![i * 3]! - d.mesh![i * 3]!, t.mesh![i * 3 + 1]! - d.mesh![i * 3 + 1]!);
      rel.push(diff / 468 / iod);
    }
    expect(Math.max(...rel)).toBeLessThan(0.05);
    expect(rel.reduce((a, b) => a + b, 0) / rel.length).toBeLessThan(0.03);
  });

  it('loses the face when it leaves (the detector runs on that frame) and finds it again when it enters', async () => {
    const tracks = tracker({ newFaceIntervalFrames: 3 });
    const { width, height } = frames[0]!;
    for (const img of frames.slice(0, 5)) expect((await pipeline.processStream(img, tracks, OPTS)).faces).toHaveLength(1);
    // the face leaves: the mesh's face flag drops, the track is lost and the detector runs at once
    const left = await pipeline.processStream(grey(width, height), tracks, OPTS);
    expect(left.faces).toHaveLength(0);
    expect(left.detected).toBe('lost');
    expect(tracks.tracked).toBe(0);
    // nothing tracked: the detector looks every 3rd frame
    const idle: (string | null)[] = [];
    for (let i = 0; i < 6; i++) idle.push((await pipeline.processStream(grey(width, height), tracks, OPTS)).detected);
    expect(idle).toEqual([null, null, 'no-track', null, null, 'no-track']);
    // the face enters: found within newFaceIntervalFrames frames, then tracked
    const found: number[] = [];
    for (const img of frames.slice(5, 10)) found.push((await pipeline.processStream(img, tracks, OPTS)).faces.length);
    expect(found.slice(0, 3)).toContain(1);
    expect(found.slice(found.indexOf(1))).toEqual(Array(found.length - found.indexOf(1)).fill(1));
  });

  it('embeds a track on each of its first K frames, then every Nth; the skipped frames say so and the embedded ones are those of embedding every frame', async () => {
    const o = { ...OPTS, embed: true };
    const every = tracker({ newFaceIntervalFrames: 1 });
    const sparse = tracker({ newFaceIntervalFrames: 1, embedIntervalFrames: 4 });
    const embedded: number[] = [];
    for (const [i, img] of frames.slice(0, 14).entries()) {
      const a = (await pipeline.processStream(img, every, o)).faces[0]!;
      const b = (await pipeline.processStream(img, sparse, o)).faces[0]!;
      expect(a.embedding).not.toBeNull();
      expect(a.embedSkipped).toBeUndefined();
      if (b.embedding) {
        embedded.push(i);
        expect(b.embedSkipped).toBeUndefined();
        expect(Array.from(b.embedding)).toEqual(Array.from(a.embedding!));
      } else expect(b.embedSkipped).toBe(true);
    }
    // ages 0, 1, 2 (the first K = 3), then every 4th age: 4, 8, 12
    expect(embedded).toEqual([0, 1, 2, 4, 8, 12]);
  });

  it('on a frame the embedder skips, no chip is aligned and the face carries the quality its track measured last', async () => {
    const o = { ...OPTS, embed: true };
    const tracks = tracker({ newFaceIntervalFrames: 1, embedIntervalFrames: 3 });
    const align = vi.spyOn(pipeline, 'alignChip');
    let last: FaceQuality | null = null;
    let skipped = 0;
    try {
      for (const img of frames.slice(0, 12)) {
        align.mockClear();
        const face = (await pipeline.processStream(img, tracks, o)).faces[0]!;
        if (face.embedSkipped) {
          skipped++;
          expect(align).not.toHaveBeenCalled();
          expect(face.quality).toEqual(last);
        } else {
          expect(face.embedding).not.toBeNull();
          expect(align).toHaveBeenCalledTimes(1);
          last = face.quality;
        }
      }
    } finally {
      align.mockRestore();
    }
    expect(skipped).toBeGreaterThanOrEqual(5);
  });

  it('staggers the embedder and the passive networks across faces found on the same frame: each keeps its own rate, no frame runs all of them', async () => {
    const jpeg = await threeFaceFrame();
    const img = await decodeFrame({ seq: 0, capturedAt: 0, width: 640, height: 480, format: 'jpeg', data: jpeg });
    // the defaults: passive every 3rd frame, embedder on the first 3 frames then every 2nd
    const tracks = new FaceTracks({ ...DEFAULT_TRACKING, newFaceIntervalFrames: 1, redetectIntervalFrames: 100 });
    const o = { ...OPTS, embed: true, passive: true };
    const embedAt: number[][] = [[], [], []],
      passiveAt: number[][] = [[], [], []];
    const perFrame: { embed: number; passive: number }[] = [];
    for (let i = 0; i < 13; i++) {
      const faces = (await pipeline.processStream(img, tracks, o)).faces;
      expect(faces).toHaveLength(3);
      // the faces keep their order across frames (tracks are carried in order)
      faces.forEach((f, k) => {
        if (f.embedding) embedAt[k]!.push(i);
        else expect(f.embedSkipped).toBe(true);
        if (!f.passiveSkipped) passiveAt[k]!.push(i);
      });
      perFrame.push({ embed: faces.filter((f) => f.embedding).length, passive: faces.filter((f) => !f.passiveSkipped).length });
    }
    // every face: embedded on its first K = 3 frames, then every 2nd; passive on its first frame, then every 3rd
    for (let k = 0; k < 3; k++) {
      expect(embedAt[k]!.slice(0, 3)).toEqual([0, 1, 2]);
      const later = embedAt[k]!.slice(3);
      expect(later.every((a, j) => j === 0 || a - later[j - 1]! === 2)).toBe(true);
      expect(later[0]).toBeLessThanOrEqual(4);
      expect(passiveAt[k]![0]).toBe(0);
      const p = passiveAt[k]!.slice(1);
      expect(p[0]).toBeLessThanOrEqual(3);
      expect(p.every((a, j) => j === 0 || a - p[j - 1]! === 3)).toBe(true);
    }
    // the schedules are offset: after the first frames, one or two embeddings and exactly one passive score per frame
    for (const f of perFrame.slice(3)) {
      expect(f.embed === 1 || f.embed === 2).toBe(true);
      expect(f.passive).toBe(1);
    }
  });

  it('follows three faces of one frame, and the frame size changing starts over', async () => {
    const jpeg = await threeFaceFrame();
    const img = await decodeFrame({ seq: 0, capturedAt: 0, width: 640, height: 480, format: 'jpeg', data: jpeg });
    const tracks = tracker({ newFaceIntervalFrames: 1 });
    const first = await pipeline.processStream(img, tracks, OPTS);
    expect(first.faces).toHaveLength(3);
    const second = await pipeline.processStream(img, tracks, OPTS);
    expect(second.detected).toBeNull();
    expect(second.faces).toHaveLength(3);
    // another scene of the same size: the three tracks are lost, the detector runs on that frame and finds the one face
    const other = await pipeline.processStream(frames[0]!, tracks, OPTS);
    expect(other.detected).toBe('lost');
    expect(other.faces).toHaveLength(1);
    const small = { width: 320, height: 240, data: new Uint8Array(320 * 240 * 3).fill(128) };
    expect((await pipeline.processStream(small, tracks, OPTS)).detected).toBe('no-track');
  });
});

describe.skipIf(SKIP_DATA)('several faces of one frame run as one batch', () => {
  it('batched mesh, dlib and mobilefacenet512 embeddings equal the per-face ones on real faces (all three files take a batch)', async () => {
    const dir = defaultModelsDir();
    const manifest = loadModelManifest(dir);
    const jpeg = await threeFaceFrame();
    const img = await decodeFrame({ seq: 0, capturedAt: 0, width: 640, height: 480, format: 'jpeg', data: jpeg });
    const detEntry = manifest.models.find((e) => e.id === 'blazeface')!;
    const detector = new FaceDetector(await createSession(dir, detEntry, {}), detEntry);
    const meshEntry = manifest.models.find((e) => e.task === 'landmarks')!;
    // two intra-op threads: the mesh batches (on one thread it runs face by face, Landmarker.load)
    const landmarker = await Landmarker.load(dir, meshEntry, { intraOpThreads: 2 });
    const single = await Landmarker.load(dir, meshEntry, { intraOpThreads: 1 });
    const dlib = await Embedder.load(dir, resolveEmbedder(manifest, 'faceapi-resnet', 'fp32'), {});
    const mfn = await Embedder.load(dir, resolveEmbedder(manifest, 'mobilefacenet512', 'int8'), {});
    try {
      expect(landmarker.batchable).toBe(true);
      expect(single.batchable).toBe(false);
      expect(dlib.batchable).toBe(true);
      expect(mfn.batchable).toBe(true);
      const dets = await detector.detect(img, { minScore: 0.5, iou: 0.3, maxFaces: 10, zoomOut: 1 });
      expect(dets).toHaveLength(3);
      const rois = dets.map((d) => Landmarker.roiFor(d));
      const batched = await landmarker.meshes(img, rois);
      for (let i = 0; i < rois.length; i++) {
        const one = await single.mesh(img, rois[i]!);
        expect(Math.abs(batched[i]!.faceScore - one.faceScore)).toBeLessThan(1e-4);
        let maxDiff = 0;
        for (let k = 0; k < one.mesh.length; k++) maxDiff = Math.max(maxDiff, Math.abs(batched[i]!.mesh[k]! - one.mesh[k]!));
        expect(maxDiff).toBeLessThan(0.01); // px
      }
      for (const e of [dlib, mfn]) {
        const chips = batched.map((m) => e.align(img, fivePointsFromMesh(m.mesh)).chip);
        const many = await e.embedMany(chips);
        expect(many).toHaveLength(3);
        for (let i = 0; i < chips.length; i++) {
          const one = await e.embed(chips[i]!);
          let dot = 0;
          for (let k = 0; k < one.length; k++) dot += one[k]! * many[i]![k]!;
          expect(dot).toBeGreaterThan(0.99999);
        }
        // three different people: the batch did not mix the faces up
        const cross = many[0]!.reduce((a, v, k) => a + v * many[1]![k]!, 0);
        expect(cross).toBeLessThan(0.9);
      }
    } finally {
      await Promise.all([detector.session.release(), landmarker.release(), single.release(), dlib.release(), mfn.release()]);
    }
  }, 60_000);
});

/**
 * `npm run eval -- --tracking [--data SHARED_DATA_DIR] [--frames N] [--json FILE]`: what following
 * faces from frame to frame (vision/faceTracks.ts, the vision worker's camera-stream mode) costs
 * against running the detector on every frame, on the real videos of SHARED_DATA_DIR/video.
 *
 *   mesh accuracy: every frame of each clip (the first N) runs both ways on the same pipeline;
 *     per frame where both find the face, the mean distance of the 468 mesh points between the
 *     two (px, and % of the inter-ocular distance), and the EAR difference (blink detection).
 *   entering faces: each clip is cut into entry events — a few blank (grey) frames, then the
 *     clip's frames sliding in from the left edge over 15 frames (≈ 0.5 s at 30 fps), then 10
 *     frames in place, then blank again. The blank gaps vary (3–7 frames) so the detector's
 *     schedule meets the face at every phase. Reported: frames from the first frame on which
 *     detect-every-frame finds the face until tracking finds it (per newFaceIntervalFrames),
 *     events never found, and frames a face was still reported after it left.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testDataDir } from '../system/paths.js';
import type { RgbImage } from '../vision/align.js';
import { DEFAULT_TRACKING, FaceTracks, type TrackingOptions } from '../vision/faceTracks.js';
import { fivePointsFromMesh, earFromMesh, MESH_POINTS } from '../vision/meshIndices.js';
import { FacePipeline, type ProcessOptions } from '../vision/pipeline.js';
import type { FaceObservation } from '../vision/types.js';
import { percentile, round2 } from '../util/stats.js';
import { videoFrames } from './videoFrames.js';

const CLIPS = [
  'focus_mahie_test_1.avi',
  'focus_mahie_test_3.avi',
  'focus_mahie_test_4_low_fps.avi',
  'focus_mahie_test_5_low_fps.avi',
  'focus_mahie_test_6_low_fps.avi',
];
const SLIDE = 15;
const HOLD = 10;
const NEW_FACE_INTERVALS = [1, 2, 3, 5];
// the door's frame options, without the networks tracking does not change (embedder, passive models)
const PROCESS: ProcessOptions = { minScore: 0.5, minFaceSizePx: 60, embed: false, passive: false };

export interface AccuracyRow {
  clip: string;
  frames: number;
  /** frames where detect-every-frame / tracking found a face */
  found_detect: number;
  found_tracking: number;
  detector_runs_tracking: number;
  mesh_diff_px_mean: number;
  mesh_diff_px_p95: number;
  mesh_diff_iod_pct_mean: number;
  ear_diff_mean: number;
  frame_ms_detect_p50: number;
  frame_ms_tracking_p50: number;
}

export interface EntryRow {
  new_face_interval_frames: number;
  events: number;
  found_same_frame: number;
  delay_frames_mean: number;
  delay_frames_max: number;
  never_found: number;
  stale_frames_after_leaving: number;
}

const largest = (faces: FaceObservation[]): FaceObservation | undefined =>
  faces.reduce<FaceObservation | undefined>((a, b) => (!a || b.box.width * b.box.height > a.box.width * a.box.height ? b : a), undefined);

function meshDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < MESH_POINTS; i++) d += Math.hypot(a[i * 3]! - b[i * 3]!, a[i * 3 + 1]! - b[i * 3 + 1]!);
  return d / MESH_POINTS;
}

/** A blank grey frame of a size. */
function blank(w: number, h: number): RgbImage {
  return { width: w, height: h, data: new Uint8Array(w * h * 3).fill(128) };
}

/** `img` moved right by dx pixels (dx < 0: left), grey where nothing is. */
function shifted(img: RgbImage, dx: number): RgbImage {
  const out = blank(img.width, img.height);
  const w = img.width;
  const x0 = Math.max(0, dx),
    x1 = Math.min(w, w + dx);
  if (x1 <= x0) return out;
  for (let y = 0; y < img.height; y++) out.data.set(img.data.subarray((y * w + x0 - dx) * 3, (y * w + x1 - dx) * 3), (y * w + x0) * 3);
  return out;
}

async function accuracy(pipeline: FacePipeline, path: string, maxFrames: number, tracking: TrackingOptions): Promise<AccuracyRow> {
  const tracks = new FaceTracks(tracking);
  const diffs: number[] = [];
  const iod: number[] = [];
  const ear: number[] = [];
  const msDetect: number[] = [];
  const msTrack: number[] = [];
  let frames = 0,
    foundDetect = 0,
    foundTrack = 0,
    runs = 0;
  for await (const f of videoFrames(path)) {
    if (frames >= maxFrames) break;
    frames++;
    let t0 = performance.now();
    const ref = largest((await pipeline.process(f.image, PROCESS)).faces);
    msDetect.push(performance.now() - t0);
    t0 = performance.now();
    const r = await pipeline.processStream(f.image, tracks, PROCESS);
    msTrack.push(performance.now() - t0);
    const trk = largest(r.faces);
    if (r.detected) runs++;
    if (ref) foundDetect++;
    if (trk) foundTrack++;
    if (ref?.mesh && trk?.mesh) {
      const d = meshDiff(ref.mesh, trk.mesh);
      diffs.push(d);
      const [le, re] = fivePointsFromMesh(ref.mesh);
      iod.push((100 * d) / Math.hypot(le!.x - re!.x, le!.y - re!.y));
      const ea = earFromMesh(ref.mesh),
        eb = earFromMesh(trk.mesh);
      ear.push((Math.abs(ea.left - eb.left) + Math.abs(ea.right - eb.right)) / 2);
    }
  }
  const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
  return {
    clip: path.split('/').pop()!,
    frames,
    found_detect: foundDetect,
    found_tracking: foundTrack,
    detector_runs_tracking: runs,
    mesh_diff_px_mean: round2(mean(diffs)),
    mesh_diff_px_p95: round2(percentile(diffs, 95)),
    mesh_diff_iod_pct_mean: round2(mean(iod)),
    ear_diff_mean: Math.round(mean(ear) * 10000) / 10000,
    frame_ms_detect_p50: round2(percentile(msDetect, 50)),
    frame_ms_tracking_p50: round2(percentile(msTrack, 50)),
  };
}

interface EntryStats {
  events: number;
  same: number;
  delays: number[];
  never: number;
  stale: number;
}

/** Entry events cut from one clip, run through detect-every-frame and one tracker per new-face interval. */
async function entries(pipeline: FacePipeline, path: string, maxFrames: number, stats: Map<number, EntryStats>, tracking: TrackingOptions): Promise<void> {
  const trackers = new Map(NEW_FACE_INTERVALS.map((n) => [n, new FaceTracks({ ...tracking, newFaceIntervalFrames: n })]));
  const clip: RgbImage[] = [];
  for await (const f of videoFrames(path)) {
    if (clip.length >= maxFrames) break;
    clip.push(f.image);
  }
  const per = SLIDE + HOLD;
  let k = 0;
  for (let start = 0; start + per <= clip.length; start += per * 2, k++) {
    const { width, height } = clip[start]!;
    const gap = 3 + (k % 5);
    const seq: { img: RgbImage; present: boolean }[] = [];
    for (let i = 0; i < gap; i++) seq.push({ img: blank(width, height), present: false });
    for (let j = 0; j < per; j++) {
      const dx = j < SLIDE ? -Math.round((width * (SLIDE - 1 - j)) / SLIDE) : 0;
      seq.push({ img: dx === 0 ? clip[start + j]! : shifted(clip[start + j]!, dx), present: true });
    }
    for (let i = 0; i < 3; i++) seq.push({ img: blank(width, height), present: false });
    let refFirst = -1;
    const first = new Map<number, number>();
    for (let i = 0; i < seq.length; i++) {
      const s = seq[i]!;
      if (s.present && refFirst < 0 && (await pipeline.process(s.img, PROCESS)).faces.length > 0) refFirst = i;
      for (const [n, t] of trackers) {
        const found = (await pipeline.processStream(s.img, t, PROCESS)).faces.length > 0;
        if (found && s.present && !first.has(n)) first.set(n, i);
        if (found && !s.present && i > gap) stats.get(n)!.stale++;
      }
    }
    if (refFirst < 0) continue; // the face is never found even detecting every frame: not an entry event
    for (const n of NEW_FACE_INTERVALS) {
      const st = stats.get(n)!;
      st.events++;
      const f = first.get(n);
      if (f === undefined) st.never++;
      else {
        st.delays.push(Math.max(0, f - refFirst));
        if (f <= refFirst) st.same++;
      }
    }
  }
}

export async function trackingMain(o: { data?: string; json?: string; frames?: number; modelsDir?: string }): Promise<void> {
  const dir = join(o.data ?? testDataDir(), 'video');
  const maxFrames = o.frames ?? 600;
  const pipeline = await FacePipeline.create({
    precision: 'int8',
    intraOpThreads: 1,
    interOpThreads: 1,
    antispoof: false,
    liveness: false,
    ...(o.modelsDir ? { modelsDir: o.modelsDir } : {}),
  });
  try {
    const acc: AccuracyRow[] = [];
    const stats = new Map<number, EntryStats>(NEW_FACE_INTERVALS.map((n) => [n, { events: 0, same: 0, delays: [], never: 0, stale: 0 }]));
    for (const c of CLIPS) {
      const path = join(dir, c);
      acc.push(await accuracy(pipeline, path, maxFrames, DEFAULT_TRACKING));
      process.stderr.write(`${c}: ${JSON.stringify(acc[acc.length - 1])}\n`);
      await entries(pipeline, path, maxFrames, stats, DEFAULT_TRACKING);
    }
    const entryRows: EntryRow[] = NEW_FACE_INTERVALS.map((n) => {
      const s = stats.get(n)!;
      return {
        new_face_interval_frames: n,
        events: s.events,
        found_same_frame: s.same,
        delay_frames_mean: round2(s.delays.reduce((a, b) => a + b, 0) / (s.delays.length || 1)),
        delay_frames_max: s.delays.length ? Math.max(...s.delays) : 0,
        never_found: s.never,
        stale_frames_after_leaving: s.stale,
      };
    });
    const report = { tracking: DEFAULT_TRACKING, frames_per_clip: maxFrames, accuracy: acc, entering: entryRows };
    process.stdout.write(fmt(report) + '\n');
    if (o.json) writeFileSync(o.json, JSON.stringify(report, null, 2) + '\n');
  } finally {
    await pipeline.release();
  }
}

function fmt(r: { accuracy: AccuracyRow[]; entering: EntryRow[] }): string {
  const table = (rows: object[]): string => {
    const keys = Object.keys(rows[0] ?? {});
    return [
      `| ${keys.join(' | ')} |`,
      `|${keys.map(() => '---').join('|')}|`,
      ...rows.map((x) => `| ${keys.map((k) => String((x as Record<string, unknown>)[k])).join(' | ')} |`),
    ].join('\n');
  };
  return `mesh accuracy, tracking vs detect-every-frame\n${table(r.accuracy)}\n\nentering faces\n${table(r.entering)}`;
}

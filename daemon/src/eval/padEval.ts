/**
 * `npm run eval -- --pad [--data SHARED_DATA_DIR] [--json FILE]`: presentation-attack detection
 * measured per attack species in ISO/IEC 30107-3 terms.
 *
 *   APCER(species) = attack presentations of that species accepted as bona fide / all of them
 *   BPCER          = bona fide presentations rejected / all bona fide presentations
 *
 * Presentations:
 *   - spoof/ stills (manifest.csv: live, print, screen_replay): one image = one presentation for
 *     the single-frame checks (MiniFASNet, Human's antispoof and liveness);
 *   - planarity needs two views of the same face: every pair of images of the same subject and
 *     label is one presentation (NUAA: frames of one capture; for print the same photograph moved);
 *   - video/ clips: windows of WINDOW_MS (every WINDOW_MS/2) of the frames with a face =
 *     presentations; the silentface demo GIF is cut into its live, screen-replay and print
 *     segments (frame ranges read from the frames, transitions left out), each about 1 s: one
 *     presentation per segment.
 * Checks: MiniFASNet real ≥ t, Human antispoof ≥ t, planarity (not planar with enough motion),
 * blink (video windows: the BlinkDetector over the window), and their combinations.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { testDataDir } from '../system/paths.js';
import { decodeImage } from '../vision/decode.js';
import { BlinkDetector } from '../vision/liveness/blinkDetector.js';
import { fitPair, planarity, PLANARITY_DEFAULTS, type PlanarityVerdict } from '../vision/liveness/planarity.js';
import { MiniFasNet } from '../vision/miniFasNet.js';
import { defaultModelsDir } from '../vision/modelSet.js';
import { FacePipeline } from '../vision/pipeline.js';
import type { Box } from '../vision/types.js';
import { progressReporter } from './evaluate.js';
import { videoFrames } from './videoFrames.js';

export type Species = 'bona_fide' | 'print' | 'screen_replay';

export interface StillSample {
  path: string;
  identity: string;
  species: Species;
  detected: boolean;
  minifasnet: number | null;
  antispoof: number | null;
  liveness: number | null;
}

export interface PairSample {
  a: string;
  b: string;
  identity: string;
  species: Species;
  motion: number;
  residual: number;
  ratio: number;
}

export interface WindowSample {
  clip: string;
  species: Species;
  start: number;
  frames: number;
  planarity: PlanarityVerdict;
  planarityScore: number | null;
  blink: boolean;
  /** mean over the window */
  minifasnet: number;
  antispoof: number;
}

/** Segments of the silentface demo GIF (frame ranges, inclusive; transitions 32–35 and 60–63 left out). */
export const GIF_SEGMENTS: { species: Species; from: number; to: number }[] = [
  { species: 'bona_fide', from: 0, to: 31 },
  { species: 'screen_replay', from: 36, to: 59 },
  { species: 'print', from: 64, to: 87 },
];
/** A video presentation: 3 s of frames (the door asks for a blink within blinkTimeoutMs = 4 s), windows every 1.5 s. */
export const WINDOW_MS = 3000;

function speciesOf(label: string, attack: string): Species {
  if (label === 'live') return 'bona_fide';
  return attack === 'screen_replay' ? 'screen_replay' : 'print';
}

export async function scoreStills(pipeline: FacePipeline, fas: MiniFasNet, dir: string): Promise<{ stills: StillSample[]; meshes: Map<string, Float32Array> }> {
  const rows = readFileSync(join(dir, 'manifest.csv'), 'utf8').trim().split(/\r?\n/).slice(1);
  const stills: StillSample[] = [];
  const meshes = new Map<string, Float32Array>();
  const tick = progressReporter('pad: stills');
  for (const [i, row] of rows.entries()) {
    const [path, identity, label, attack] = row.split(',');
    const img = await decodeImage(readFileSync(join(dir, path!)));
    const f = await pipeline.describeLargestFace(img, undefined, { passive: true });
    const s: StillSample = {
      path: path!,
      identity: identity!,
      species: speciesOf(label!, attack ?? ''),
      detected: !!f,
      minifasnet: f ? (await fas.score(img, f.face.box)).real : null,
      antispoof: f?.face.antispoofScore ?? null,
      liveness: f?.face.livenessScore ?? null,
    };
    if (f?.face.mesh) meshes.set(path!, f.face.mesh);
    stills.push(s);
    tick(i + 1, rows.length);
  }
  return { stills, meshes };
}

/** Every pair of images of the same subject and species with a mesh (the silentface stills are single views: no pair). */
export function stillPairs(stills: StillSample[], meshes: Map<string, Float32Array>): PairSample[] {
  const out: PairSample[] = [];
  for (let i = 0; i < stills.length; i++)
    for (let j = i + 1; j < stills.length; j++) {
      const a = stills[i]!,
        b = stills[j]!;
      if (a.identity !== b.identity || a.species !== b.species || a.identity === 'silentface_undocumented') continue;
      const ma = meshes.get(a.path),
        mb = meshes.get(b.path);
      if (!ma || !mb) continue;
      out.push({ a: a.path, b: b.path, identity: a.identity, species: a.species, ...fitPair(ma, mb) });
    }
  return out;
}

interface ClipFrame {
  index: number;
  tsMs: number;
  mesh: Float32Array;
  ear: number;
  box: Box;
  minifasnet: number;
  antispoof: number;
}

export async function clipFrames(pipeline: FacePipeline, fas: MiniFasNet, path: string, stride: number, maxFrames: number): Promise<ClipFrame[]> {
  const out: ClipFrame[] = [];
  for await (const f of videoFrames(path)) {
    if (f.index >= maxFrames) break;
    if (f.index % stride) continue;
    const r = await pipeline.process(f.image, { embed: false, passive: true, retryZoomedOut: true, minScore: 0.4 });
    const face = r.faces[0];
    if (!face?.mesh) continue;
    out.push({
      index: f.index,
      tsMs: f.tsMs,
      mesh: face.mesh,
      ear: (face.ear.left + face.ear.right) / 2,
      box: face.box,
      minifasnet: (await fas.score(f.image, face.box)).real,
      antispoof: face.antispoofScore ?? 0,
    });
  }
  return out;
}

function windows(clip: string, species: Species, frames: ClipFrame[]): WindowSample[] {
  const out: WindowSample[] = [];
  if (frames.length < 2) return out;
  const t0 = frames[0]!.tsMs,
    tEnd = frames[frames.length - 1]!.tsMs;
  for (let start = t0; start === t0 || start + WINDOW_MS <= tEnd + 1; start += WINDOW_MS / 2) {
    const w = frames.filter((f) => f.tsMs >= start && f.tsMs < start + WINDOW_MS);
    if (w.length < 2) break;
    const p = planarity(w.map((f) => f.mesh));
    const blink = new BlinkDetector({ timeoutMs: 0 });
    for (const f of w) blink.update(f.tsMs, f.ear);
    out.push({
      clip,
      species,
      start: w[0]!.index,
      frames: w.length,
      planarity: p.verdict,
      planarityScore: p.score,
      blink: blink.blinks > 0,
      minifasnet: w.reduce((a, f) => a + f.minifasnet, 0) / w.length,
      antispoof: w.reduce((a, f) => a + f.antispoof, 0) / w.length,
    });
  }
  return out;
}

export interface Rates {
  check: string;
  presentations: string;
  bpcer: number;
  bona_fide: number;
  apcer: Partial<Record<Exclude<Species, 'bona_fide'>, { rate: number; n: number }>>;
}

function rates<T extends { species: Species }>(check: string, presentations: string, xs: T[], accept: (x: T) => boolean): Rates {
  const bf = xs.filter((x) => x.species === 'bona_fide');
  const r: Rates = { check, presentations, bpcer: bf.length ? bf.filter((x) => !accept(x)).length / bf.length : NaN, bona_fide: bf.length, apcer: {} };
  for (const sp of ['print', 'screen_replay'] as const) {
    const at = xs.filter((x) => x.species === sp);
    if (at.length) r.apcer[sp] = { rate: at.filter(accept).length / at.length, n: at.length };
  }
  return r;
}

export interface PadReport {
  stills: StillSample[];
  pairs: PairSample[];
  windows: WindowSample[];
  noise: { images: number; minifasnet_real_mean: number; judged_real_at_0_5: number };
  planarity: typeof PLANARITY_DEFAULTS;
  table: Rates[];
}

export function padTable(stills: StillSample[], pairs: PairSample[], wins: WindowSample[]): Rates[] {
  const { minMotion, planarBelow } = PLANARITY_DEFAULTS;
  const t: Rates[] = [];
  const det = stills.filter((s) => s.detected);
  for (const th of [0.2, 0.3, 0.5, 0.8]) t.push(rates(`MiniFASNet real ≥ ${th}`, 'stills', det, (s) => (s.minifasnet ?? 0) >= th));
  for (const th of [0.5, 0.7]) t.push(rates(`Human antispoof ≥ ${th}`, 'stills', det, (s) => (s.antispoof ?? 0) >= th));
  const mf = (p: PairSample): number => Math.min(stills.find((s) => s.path === p.a)?.minifasnet ?? 0, stills.find((s) => s.path === p.b)?.minifasnet ?? 0);
  // a pair passes planarity unless it is judged planar (a pair without enough motion cannot be judged: it passes here; the next row rejects it)
  const notPlanar = (p: PairSample): boolean => !(p.motion >= minMotion && p.ratio < planarBelow);
  t.push(rates('planarity: not planar (too little motion passes)', 'still pairs', pairs, notPlanar));
  t.push(rates('planarity: not planar, with enough motion', 'still pairs', pairs, (p) => p.motion >= minMotion && p.ratio >= planarBelow));
  t.push(rates('MiniFASNet ≥ 0.3 on both frames', 'still pairs', pairs, (p) => mf(p) >= 0.3));
  t.push(rates('MiniFASNet ≥ 0.3 on both AND not planar', 'still pairs', pairs, (p) => mf(p) >= 0.3 && notPlanar(p)));
  t.push(rates('MiniFASNet ≥ 0.3 (window mean)', 'video windows', wins, (w) => w.minifasnet >= 0.3));
  t.push(rates('planarity: not planar (too little motion passes)', 'video windows', wins, (w) => w.planarity !== 'planar'));
  t.push(rates('planarity: not planar, with enough motion', 'video windows', wins, (w) => w.planarity === 'not-planar'));
  t.push(rates('blink in the window', 'video windows', wins, (w) => w.blink));
  t.push(rates('blink AND MiniFASNet ≥ 0.3', 'video windows', wins, (w) => w.blink && w.minifasnet >= 0.3));
  t.push(rates('blink AND MiniFASNet ≥ 0.3 AND not planar', 'video windows', wins, (w) => w.blink && w.minifasnet >= 0.3 && w.planarity !== 'planar'));
  return t;
}

export function fmtPadTable(t: Rates[]): string {
  return fmtTable(t);
}

function fmtTable(t: Rates[]): string {
  const pct = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '   -  ' : `${(x * 100).toFixed(1).padStart(5)}%`);
  const lines = [`${'check'.padEnd(72)} ${'on'.padEnd(14)} ${'BPCER'.padStart(7)} ${'APCER print'.padStart(12)} ${'APCER replay'.padStart(13)}`];
  for (const r of t)
    lines.push(
      `${r.check.padEnd(72)} ${r.presentations.padEnd(14)} ${pct(r.bpcer).padStart(7)} ${`${pct(r.apcer.print?.rate)} /${r.apcer.print?.n ?? 0}`.padStart(12)} ${`${pct(r.apcer.screen_replay?.rate)} /${r.apcer.screen_replay?.n ?? 0}`.padStart(13)}  (bona fide n=${r.bona_fide})`,
    );
  return lines.join('\n');
}

export async function padMain(o: { data?: string; json?: string; modelsDir?: string }): Promise<number> {
  const root = o.data ?? testDataDir();
  const modelsDir = o.modelsDir ?? defaultModelsDir();
  const pipeline = await FacePipeline.create({ modelsDir, precision: 'int8', intraOpThreads: 1 });
  const fas = await MiniFasNet.create(modelsDir);
  try {
    const { stills, meshes } = await scoreStills(pipeline, fas, join(root, 'spoof'));
    const pairs = stillPairs(stills, meshes);
    // MiniFASNet on noise: uniform random pixels, 128×128
    let seed = 17;
    const noise: number[] = [];
    for (let k = 0; k < 20; k++) {
      const x = Float32Array.from({ length: 3 * 128 * 128 }, () => ((seed = (seed * 1103515245 + 12345) % 2147483648) >>> 23) % 256);
      noise.push((await fas.scoreInput(x)).real);
    }
    const wins: WindowSample[] = [];
    const videoDir = join(root, 'video');
    const clips = readdirSync(videoDir)
      .filter((f) => /\.(mp4|avi|gif)$/.test(f))
      .sort();
    for (const clip of clips) {
      const gif = clip.startsWith('silentface_demo');
      // long 640×480 clips: every 2nd frame of the first 20 s is plenty of windows and keeps the run short
      const frames = await clipFrames(pipeline, fas, join(videoDir, clip), gif ? 1 : 2, gif ? Infinity : 600);
      process.stderr.write(`pad: ${clip}: face in ${frames.length} sampled frames\n`);
      if (gif)
        for (const s of GIF_SEGMENTS)
          wins.push(
            ...windows(
              clip,
              s.species,
              frames.filter((f) => f.index >= s.from && f.index <= s.to),
            ),
          );
      else wins.push(...windows(clip, 'bona_fide', frames));
    }
    const table = padTable(stills, pairs, wins);
    const report: PadReport = {
      stills,
      pairs,
      windows: wins,
      noise: {
        images: noise.length,
        minifasnet_real_mean: noise.reduce((a, b) => a + b, 0) / noise.length,
        judged_real_at_0_5: noise.filter((v) => v >= 0.5).length,
      },
      planarity: PLANARITY_DEFAULTS,
      table,
    };
    process.stdout.write(`${fmtTable(table)}\n`);
    process.stdout.write(
      `MiniFASNet on ${noise.length} random-noise images: mean real ${report.noise.minifasnet_real_mean.toFixed(3)}, ${report.noise.judged_real_at_0_5} judged real at 0.5\n`,
    );
    if (o.json) writeFileSync(o.json, JSON.stringify(report, null, 1) + '\n');
  } finally {
    await pipeline.release();
    await fas.release();
  }
  return 0;
}
